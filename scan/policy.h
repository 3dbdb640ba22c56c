// scan/policy.h — policy and verdict: a tenant's policy, the recipient's preferences and the
// scan results (AV, rule hits, MIME flags, envelope sender, client IP) in, one Verdict out.
//
// Pure functions over plain data: no I/O, no threads, no globals; decide() may be called from
// any thread.
//
// Rules exactly as decide() applies them, in this order:
//  1. Class, by precedence malware > unscannable > phish > spam > bulk > clean:
//     - malware: AV kInfected, or any rule hit of category kMalware;
//     - unscannable: AV kEncrypted or kLimitExceeded, AV kError (see 4), or a MIME flag in
//       TenantPolicy::mime_unscannable_flags (exceeded parser bounds by default);
//     - phish: any rule hit of category kPhish;
//     - spam: score >= the spam threshold (UserPrefs::spam_threshold if set, else the tenant's);
//     - bulk: the sum of kBulk hits' scores >= TenantPolicy::bulk_threshold;
//     - clean: none of the above.
//     score (Verdict::score) = sum of the scores of every hit that is not kBulk (each clamped
//     to +-kMaxPolicyRuleScore), plus TenantPolicy::mime_suspicious_score once if any flag of
//     mime_suspicious_flags is set. kBulk hits feed only the bulk sum, so a newsletter is not
//     spam by its bulk score alone.
//  2. malware: action kReject, always (ARCHITECTURE.md: virus -> 554, never releasable). No
//     list, preference or tenant setting changes it.
//  3. Sender lists (envelope sender and client IP; see "List matching" below). A match on any
//     block list (user's or tenant's) makes the action kReject. Block beats allow at both levels:
//     a tenant's block is the administrator's decision and a user's block is the user's own, so
//     no allow list reopens either. Otherwise an allow list match (user's consulted first, then
//     the tenant's; Verdict::list says which) downgrades phish, spam and bulk to clean/deliver.
//     Allow lists NEVER change malware (2), unscannable or an AV error: content that could not
//     be scanned is not made deliverable by trusting a (forgeable) envelope sender.
//  4. AV kError (scan failed: no engine, I/O, memory): action kTempfail (4xx, the sender
//     retries), class unscannable, unless 2 or a block list already rejects. Never "deliver".
//     A ScanResults with a default AvResult is kError: the caller must say the AV scan was clean.
//  5. Otherwise the action of the class: tenant's TenantPolicy::actions[class]; the user may
//     override spam and bulk only (UserPrefs::spam_action, bulk_action). An unscannable action
//     of kDeliver is raised to kTag, so such a message is never delivered unmarked (AV
//     kLimitExceeded -> unscannable -> the tenant's unscannable action).
//  6. kTag: subject_prefix = TenantPolicy::subject_tag, and headers X-Mxgate-Verdict,
//     X-Mxgate-Score, X-Mxgate-Rules (names of the hits). Header values, the subject prefix and
//     the reason text are sanitised: every byte outside printable ASCII 0x20..0x7e (CR, LF, NUL,
//     other controls, 8-bit) becomes '_', and each value is cut to kMaxTagHeaderValue bytes, so
//     a rule or signature name cannot inject header lines or SMTP reply lines.
//
// List matching (envelope sender "local@domain", split at its last '@'):
//  - address entries: the local part compared exactly (RFC 5321 section 2.4: local parts may be
//    case-sensitive), the domain part ASCII case-insensitively;
//  - domain entries: "example.com" matches the sender domain example.com and every subdomain
//    (a.example.com, a.b.example.com), on a label boundary only (badexample.com does not match);
//    case-insensitive; one trailing dot of the sender's domain is ignored;
//  - network entries: Ipv4Prefix::contains on the client IP. An IPv6 or unknown client IP
//    matches no network entry;
//  - the null sender (empty) and entries that are empty match nothing.
// SECURITY: every input except the policy itself comes from the sender (envelope, rule hits on
// the message, AV signature names from the message's content); nothing here trusts it beyond
// the list matches described above. The envelope sender is unauthenticated here: allow lists by
// address or domain are only as strong as the SPF/DMARC checks done before.
// STANDARDS: RFC 5321 section 2.4 (local part case), RFC 5322 section 2.2 (header field bodies:
// printable ASCII, no CR/LF).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net_types.h"
#include "scan/av_engine.h"
#include "scan/mime_types.h"

namespace mx::scan {

// Longest header value or subject prefix decide() produces (RFC 5322 section 2.1.1: lines of
// at most 998 bytes; this leaves room for the field name).
constexpr size_t kMaxTagHeaderValue = 900;
// Longest reason text.
constexpr size_t kMaxReasonLength = 900;
// Scores and thresholds are in thousandths of a point, as in the rule language (scan/rules.h
// kScoreScale): 5000 is 5.0 points. A hit's score is clamped to +-this (the rule language's
// bound, kMaxRuleScore points).
constexpr int64_t kMaxPolicyRuleScore = 1000000 * 1000;
// Defaults of a TenantPolicy (SpamAssassin's default required_score is 5.0).
constexpr int64_t kDefaultSpamThreshold = 5000;
constexpr int64_t kDefaultBulkThreshold = 5000;
constexpr int64_t kDefaultMimeSuspiciousScore = 2000;

// Ordered by precedence: a higher value wins.
enum class VerdictClass : uint8_t { kClean, kBulk, kSpam, kPhish, kUnscannable, kMalware };
constexpr size_t kVerdictClassCount = 6;
std::string_view verdict_class_name(VerdictClass c);

enum class PolicyAction : uint8_t { kDeliver, kTag, kQuarantine, kTempfail, kReject };
std::string_view policy_action_name(PolicyAction a);

enum class RuleCategory : uint8_t { kSpam, kPhish, kBulk, kMalware };

struct RuleHit {
  std::string name;
  int64_t score = 0;
  RuleCategory category = RuleCategory::kSpam;
};

// Allow or block list entries. See "List matching" above.
struct SenderList {
  std::vector<std::string> addresses;  // "local@domain"
  std::vector<std::string> domains;    // "example.com": it and its subdomains
  std::vector<Ipv4Prefix> networks;    // client IP
};

// Exceeded parser bounds (scan/mime_types.h): parts of the message were not parsed.
constexpr uint64_t kDefaultMimeUnscannableFlags = kDepthLimit | kPartLimit | kDecodedLimit;
// Ambiguities an attacker uses to hide content from one reader (every reading was scanned, but
// the message is suspicious).
constexpr uint64_t kDefaultMimeSuspiciousFlags =
    kDupContentType | kDupEncoding | kDupBoundary | kBoundaryRfc2231 | kBoundaryEncodedWord |
    kEmptyBoundary | kMissingBoundary | kBoundaryPrefixMatch | kMultipleFilenames |
    kEncodedMultipart | kBase64AfterPadding | kHeaderTruncated | kTooManyHeaders | kNoHeaderEnd |
    kCandidateLimit | kUrlLimit;

struct TenantPolicy {
  int64_t spam_threshold = kDefaultSpamThreshold;
  int64_t bulk_threshold = kDefaultBulkThreshold;  // on the sum of kBulk hits' scores
  // Indexed by VerdictClass. kMalware's entry is ignored (always kReject).
  std::array<PolicyAction, kVerdictClassCount> actions = {
      PolicyAction::kDeliver,     // clean
      PolicyAction::kTag,         // bulk
      PolicyAction::kTag,         // spam
      PolicyAction::kQuarantine,  // phish
      PolicyAction::kQuarantine,  // unscannable
      PolicyAction::kReject,      // malware
  };
  std::string subject_tag = "[SPAM]";
  uint64_t mime_unscannable_flags = kDefaultMimeUnscannableFlags;
  uint64_t mime_suspicious_flags = kDefaultMimeSuspiciousFlags;
  int64_t mime_suspicious_score = kDefaultMimeSuspiciousScore;
  SenderList allow;
  SenderList block;
};

struct UserPrefs {
  std::optional<int64_t> spam_threshold;
  std::optional<PolicyAction> spam_action;
  std::optional<PolicyAction> bulk_action;
  SenderList allow;
  SenderList block;
};

struct ScanResults {
  AvResult av;                       // default: kError (see rule 4)
  std::vector<RuleHit> hits;
  uint64_t mime_flags = 0;           // MimeFlag bits, OR-ed over the message
  std::string envelope_sender;       // MAIL FROM address without <>; empty: null sender
  std::optional<Ipv4Addr> client_ip; // nullopt: IPv6 or unknown
};

// Which list decided (rule 3), if any.
enum class ListMatch : uint8_t { kNone, kUserBlock, kTenantBlock, kUserAllow, kTenantAllow };
std::string_view list_match_name(ListMatch m);

struct Verdict {
  VerdictClass cls = VerdictClass::kClean;
  int64_t score = 0;
  std::vector<std::string> rules;  // names of the hits, as given (not sanitised)
  PolicyAction action = PolicyAction::kDeliver;
  std::string subject_prefix;                               // kTag only
  std::vector<std::pair<std::string, std::string>> headers; // kTag only; values sanitised
  std::string reason;                                       // sanitised
  ListMatch list = ListMatch::kNone;
};

Verdict decide(const TenantPolicy& tenant, const UserPrefs& user, const ScanResults& scan);

// The list-matching rules, exposed for tests and for the SMTP phases that check lists early.
bool sender_address_matches(std::string_view entry, std::string_view sender);
bool sender_domain_matches(std::string_view entry, std::string_view sender);
bool sender_list_matches(const SenderList& list, std::string_view sender,
                         std::optional<Ipv4Addr> client_ip);

// Printable ASCII only (others become '_'), at most max_len bytes.
std::string sanitize_header_value(std::string_view s, size_t max_len = kMaxTagHeaderValue);

}  // namespace mx::scan
