// scan/pipeline.h — one message through the whole scan: streaming MIME (scan/mime_parser.h) feeds
// the tenant's compiled rules (scan/hs_rules.h) as the bytes arrive; at the end the objects for
// libclamav are ready; with the AV results, policy (scan/policy.h) gives the verdict.
//
// Usage on a scan thread (one MessageScanner per thread, reused for every message):
//   begin(envelope); feed(chunk)...; const ScanOutcome& o = finish();
//   submit o.av_objects to the AV pool (or scan them with AvEngine::scan), then
//   decide_verdict(o, av_results, tenant, user).
// The scanner owns the copies the AV objects point into until the next begin().
//
// What the rules see (docs/rules.md's targets):
//  - header fields of the message itself (not of nested parts), unfolded and RFC 2047-decoded;
//    for keys a rule reads, also "name:raw" (undecoded), "name:addr" (the addresses: the text
//    inside <...>, else the whole value when it has an '@'), "name:name" (display names), and the
//    pseudo-headers "all" (every field as "Name: value\n"), "tocc" (To and Cc), "messageid"
//    (Message-Id, Resent-Message-Id, X-Message-Id) — as SpamAssassin's rules expect (sa_cf.h);
//  - body: the decoded Subject and a newline, then the UTF-8 text of every text reading (also
//    what SpamAssassin's body rules start with); rawbody: the body bytes as they arrived after
//    the header section; full: every byte of the message;
//  - url: every URL the parser extracts; attachment_name: every filename candidate (uuencoded
//    blocks' names too); attachment_type: the true type of every leaf reading and uu block that
//    is not text; attachment_size: their decoded sizes;
//  - envelope_from, rcpt, client_ip, helo: from the Envelope.
// What AV sees: the whole message as received (libclamav reads MIME, base64, QP, archives and
// attached messages itself) and, because readers disagree, every decoded leaf reading that is
// not plain text or HTML and every uuencoded block, each as its own object — so an attachment
// hidden by an ambiguity (duplicate Content-Transfer-Encoding, a lying Content-Type) is scanned
// in every reading. Bounds: kMaxAvObjects objects and kMaxAvCopyBytes copied bytes per message;
// exceeding one sets ScanOutcome::av_objects_truncated, which makes the verdict unscannable.
//
// SECURITY: the message is attacker-controlled; everything here is bounded (parser bounds from
// scan/mime_limits.h, the copy bounds below, kMaxScanMessageBytes for the whole-message copy).
// No heap allocation on the feed path after the first messages except when copies grow.
// STANDARDS: RFC 5322 (header fields), RFC 2047 (decoding of header values).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/net_types.h"
#include "scan/av_engine.h"
#include "scan/hs_rules.h"
#include "scan/mime_parser.h"
#include "scan/policy.h"

namespace mx::scan {

class IconvCache;

constexpr size_t kMaxAvObjects = 64;                     // objects per message for AV
constexpr uint64_t kMaxAvCopyBytes = 64ull << 20;        // decoded bytes copied for AV
constexpr uint64_t kMaxScanMessageBytes = 256ull << 20;  // whole message kept for AV
constexpr size_t kMaxAllHeaderBytes = 64 * 1024;         // the "all" pseudo-header
constexpr size_t kMaxEnvelopeRcpts = 1000;
constexpr size_t kMaxKeptCopyBytes = 1 << 20;            // a copy buffer kept between messages

struct Envelope {
  std::string mail_from;            // without <>; empty: null sender
  std::vector<std::string> rcpts;   // the first kMaxEnvelopeRcpts are fed to rules
  std::string client_ip;            // text, for rules
  std::optional<Ipv4Addr> client_ipv4;  // for policy's network lists
  std::string helo;
};

struct AvObject {
  ByteSpan data;           // owned by the scanner until the next begin()
  uint32_t part = 0;       // PartInfo::id; 0 and whole == true: the whole message
  bool whole = false;
};

// The message's own header section (part 0) as the parser read it, so that the data plane's log
// record and its relayed form (tag, the strip of forged X-Mxgate-* fields) need not walk the
// header again. Offsets are into the message as fed.
struct HeaderIndex {
  // Every field of the section is indexed: false past the parser's field bound
  // (kTooManyHeaders), or when the section did not end with an empty line (kMalformedHeader,
  // kNoHeaderEnd) — readers downstream may then see fields where the parser saw body, so the
  // data plane walks the raw bytes itself.
  bool complete = false;
  std::string message_id, subject;  // unfolded, undecoded, at most kMaxIndexedValue bytes
  bool has_subject = false;
  uint64_t subject_value = 0;       // the byte after the first Subject field's colon
  std::vector<std::pair<uint64_t, uint64_t>> own;  // [begin, end) of each X-Mxgate-* field
};
constexpr size_t kMaxIndexedValue = 998;  // RFC 5322 2.1.1 line limit

// Fills `out` from the message's own part (PartInfo::id 0, in on_part_begin). Exposed for the
// fuzz target that compares it with the data plane's own walk of the raw header.
void index_header(const PartInfo& part, HeaderIndex& out);

struct ScanOutcome {
  HeaderIndex header;
  RuleMatch match;                      // copy of the matcher's result
  std::vector<RuleHit> hits;            // the hits with names, scores and categories
  MessageInfo mime;                     // structure and flags
  std::vector<AvObject> av_objects;
  bool av_objects_truncated = false;    // a copy bound was hit: not everything was given to AV
  uint64_t message_bytes = 0;
};

class MessageScanner final : private MimeSink {
 public:
  // `rules` and `scratch` (this thread's) must outlive the scanner.
  static Expected<std::unique_ptr<MessageScanner>> create(const HsRules& rules, const HsScratch& scratch,
                                                          const MimeLimits& limits = {});
  ~MessageScanner() override;

  // `in_place`: the caller keeps the whole message in one place that does not move until the AV
  // results are in (the data plane's message store) and passes it to finish(); the scanner then
  // copies nothing of it. Otherwise the scanner keeps its own copy for AV.
  void begin(const Envelope& env, bool in_place = false);
  void feed(ByteSpan chunk);
  const ScanOutcome& finish(ByteSpan whole = {});
  // Frees buffers grown past kMaxKeptCopyBytes by a big message (call when the outcome is no
  // longer needed).
  void release_buffers();

 private:
  MessageScanner(const HsRules& rules, RuleMatcher matcher, const MimeLimits& limits);
  void on_part_begin(const PartInfo& part) override;
  void on_part_data(const PartInfo& part, uint32_t reading, ByteSpan decoded) override;
  void on_part_text(const PartInfo& part, uint32_t reading, std::string_view utf8) override;
  void on_url(const PartInfo& part, uint32_t reading, std::string_view url, bool truncated) override;
  void on_uu_data(const PartInfo& part, const UuBlock& block, ByteSpan decoded) override;
  void on_uu_end(const PartInfo& part, const UuBlock& block) override;
  void on_part_end(const PartInfo& part) override;
  void headers(const PartInfo& part);
  void header_variant(std::string_view name, std::string_view suffix, std::string_view value);
  void copy_for_av(int32_t copy, ByteSpan data);
  int32_t new_copy();  // a cleared copy slot, or kNoCopy past kMaxAvObjects (flagged)

  const HsRules* rules_;
  RuleMatcher matcher_;
  MimeParser parser_;
  ScanOutcome out_;
  std::string raw_;                    // the whole message, for AV (unless in_place_)
  bool in_place_ = false;
  std::vector<std::string> copies_;    // decoded objects, for AV: the first n_copies_ are in use
  size_t n_copies_ = 0;
  uint64_t copied_ = 0;
  // The reading being delivered: its copy in copies_, or kNoCopy (not copied), or kNone.
  static constexpr int32_t kNone = -1, kNoCopy = -2;
  // Readings of one part may arrive interleaved: one slot per reading of the current part.
  std::array<int32_t, kMaxReadings> reading_copy_{};
  uint32_t open_part_ = 0;
  int32_t uu_copy_ = kNone;            // the same for the uuencoded block being delivered
  uint32_t uu_part_ = 0, uu_index_ = 0;
  bool in_header_ = true;              // rawbody: header section not yet over
  uint8_t eoh_state_ = 0;              // 1: after LF; 2: after LF CR
  bool wants_all_ = false, wants_tocc_ = false, wants_msgid_ = false;
  std::string scratch_;                // decoded header values
  std::string all_, subject_;          // the "all" pseudo-header; the decoded subject
  // Field names (lowercase) whose :raw, :addr, :name forms some rule reads.
  std::set<std::string, std::less<>> want_raw_, want_addr_, want_name_;
  std::unique_ptr<IconvCache> iconv_;
};

// Policy over a finished scan and its AV results (one per av_objects entry, in order):
// malware when any object is infected; otherwise the worst of encrypted/limit/error;
// av_objects_truncated counts as kLimitExceeded.
Verdict decide_verdict(const ScanOutcome& outcome, std::span<const AvResult> av, const Envelope& env,
                       const TenantPolicy& tenant, const UserPrefs& user);

// Scans the outcome's AV objects one after another with `engine` on this thread (tests,
// benchmarks, tools; the gateway uses the AvPool).
std::vector<AvResult> scan_av_objects(const AvEngine& engine, const ScanOutcome& outcome);

}  // namespace mx::scan
