// scan/hs_rules.h — a RuleSet (scan/rules.h) compiled into Hyperscan databases, serialised for
// the data plane, and matched against one message at a time.
//
// Classes: the regex and literal rules are grouped by what they read — one block-mode database
// per header field name (header:<Name>, subject, from, to), one per other field target (url,
// attachment_name, attachment_type, envelope_from, rcpt, client_ip, helo) and one streaming-mode
// database each for body and rawbody. Expression ids are rule indexes; every expression has
// HS_FLAG_SINGLEMATCH. Literals (contains/icontains) are compiled as regexes of \xHH escapes.
// Numeric rules (attachment_size) are evaluated directly; meta rules after all others.
//
// `exists` rules are evaluated by RuleMatcher::header() from the field names it is given;
// negated rules (`not regex`) hit at finish() when none of their target's values matched.
// Header keys may carry a modifier ("from:addr", "subject:raw"): the caller feeds those values
// under that key when wants_header(key) says a rule reads it.
//
// Constructs Hyperscan cannot compile (backreferences, lookaround, patterns that match the
// empty string, ...) are a compile ERROR naming the rule and its line ("line 4: rule 'X':
// hyperscan: ..."). There is no prefilter-plus-confirmation path (a tenant fixes the rule).
//
// Control plane: HsRules::compile(text) then serialize(). Data plane: deserialize(blob) (the
// blob holds the rule text, re-parsed, and the databases; Hyperscan refuses a database built for
// an incompatible platform), then make_scratch() once and HsScratch::clone() per scan thread at
// load time, and one RuleMatcher per thread. The scan path (RuleMatcher's feed functions and
// finish) does not allocate: scratch, streams and the hit list are allocated by create().
//
// SECURITY: rule text is tenant input (bounds in scan/rules.h); the blob is from our own control
// plane but is still bounds-checked before use. Message bytes are untrusted and only reach
// Hyperscan. A Hyperscan scan error is counted (RuleMatch::scan_errors) for policy to see.
// STANDARDS: none.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hs/hs.h>

#include "common/bytes.h"
#include "common/expected.h"
#include "scan/rules.h"

namespace mx::scan {

// Blob format version (HsRules::serialize). Bump on any layout change.
constexpr uint32_t kRulesBlobVersion = 1;
// Databases in one blob (distinct header names + other targets).
constexpr uint32_t kMaxRuleDatabases = 4096;
// Bytes of one field value scanned in block mode (Hyperscan lengths are unsigned int); a longer
// value is not scanned and counts as a scan error. Body chunks are scanned in pieces of this size.
constexpr size_t kMaxBlockScan = 0xffffffffu;

struct HsDbFree {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};
struct HsScratchFree {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
struct HsStreamClose {
  void operator()(hs_stream_t* s) const { hs_close_stream(s, nullptr, nullptr, nullptr); }
};
using HsDbPtr = std::unique_ptr<hs_database_t, HsDbFree>;
using HsScratchPtr = std::unique_ptr<hs_scratch_t, HsScratchFree>;
using HsStreamPtr = std::unique_ptr<hs_stream_t, HsStreamClose>;

// Scratch space of one thread. Null when the rules have no database.
class HsScratch {
 public:
  Expected<HsScratch> clone() const;
  hs_scratch_t* get() const { return p_.get(); }

 private:
  friend class HsRules;
  HsScratchPtr p_;
};

class HsRules {
 public:
  static Expected<HsRules> compile(std::string_view text);
  static Expected<HsRules> deserialize(ByteSpan blob);
  Expected<std::string> serialize() const;
  Expected<HsScratch> make_scratch() const;

  const RuleSet& rules() const { return set_; }
  size_t database_count() const { return dbs_.size(); }
  // True when some rule reads header key `key` (lowercase field name, or "name:modifier").
  bool wants_header(std::string_view key) const;
  // Every header key some rule reads (field names and "name:modifier" keys), sorted.
  std::vector<std::string> header_keys() const;

 private:
  friend class RuleMatcher;
  struct Db {
    std::string key;  // "h:<field name>" or "t:<target>"
    bool stream = false;
    HsDbPtr db;
  };
  Expected<bool> index();

  std::string source_;
  RuleSet set_;
  std::vector<Db> dbs_;
  std::map<std::string, uint32_t, std::less<>> header_db_;  // lowercase field name -> dbs_
  std::array<int32_t, kRuleTargetCount> target_db_{};      // other targets -> dbs_, or -1
  std::map<std::string, std::vector<uint32_t>, std::less<>> header_exists_;  // key -> exists rules
  std::vector<uint32_t> negated_;                          // rules with Rule::negate
};

// Whether Hyperscan accepts one regex or literal rule's expression with the flags and mode it
// would be compiled with (hs_expression_info, and a compile of long patterns and of patterns
// with bounded repeats, which the compiler alone may find too large); other rules pass. Errors read like HsRules::compile's:
// "line N: rule 'X': hyperscan: ...". Used to sort out rules before a compile (scan/sa_cf.h).
Expected<bool> check_rule_expression(const Rule& r);

struct RuleMatch {
  std::vector<uint32_t> hits;  // rule ids in increasing order (meta rules included)
  int64_t score = 0;           // sum of the hit rules' scores
  RuleAction action = RuleAction::kNone;  // most severe action of the hit rules
  uint32_t scan_errors = 0;    // Hyperscan calls that failed (policy: not clean)
};

// Matches one message at a time on one thread. Usage: begin(); any number of header(), field(),
// attachment_size(), body() and rawbody() calls in any order; finish(). Body and rawbody are
// streams: their results do not depend on how the bytes are split between calls.
class RuleMatcher {
 public:
  // `rules` and `scratch` must outlive the matcher; the scratch is this thread's.
  static Expected<RuleMatcher> create(const HsRules& rules, const HsScratch& scratch);

  void begin();
  void header(std::string_view name, ByteSpan value);  // any field; routed by its name
  void field(RuleTarget target, ByteSpan value);        // url, attachment_*, envelope, rcpt, ...
  void attachment_size(uint64_t size);
  void body(ByteSpan chunk) { stream(body_, chunk); }
  void rawbody(ByteSpan chunk) { stream(rawbody_, chunk); }
  void full(ByteSpan chunk) { stream(full_, chunk); }
  const RuleMatch& finish();

  // Names of the hit rules of the last finish(), in id order.
  std::vector<std::string_view> hit_names() const;

 private:
  RuleMatcher(const HsRules& rules, hs_scratch_t* scratch) : rules_(&rules), scratch_(scratch) {}
  static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                      unsigned int flags, void* ctx);
  void block(int32_t db, ByteSpan value);
  void stream(HsStreamPtr& s, ByteSpan chunk);
  int64_t eval(const Rule& r, uint32_t node) const;

  const HsRules* rules_;
  hs_scratch_t* scratch_;
  HsStreamPtr body_, rawbody_, full_;
  std::vector<uint8_t> hit_;  // per rule id
  RuleMatch result_;
};

}  // namespace mx::scan
