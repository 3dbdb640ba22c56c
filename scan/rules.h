// scan/rules.h — the tenants' rule language (docs/rules.md): text in, a RuleSet out.
//
// One rule per line:
//   rule NAME TARGET OPERATOR ARG [score N] [action reject|quarantine|tag|none]
//                                [category spam|phish|bulk|malware]
//   meta NAME EXPR               [score N] [action ...] [category ...]
// Operators: regex /.../[ism] (Hyperscan syntax), contains "literal", icontains "literal",
// each optionally preceded by `not` (hits when no value matches); `exists` for header targets;
// and > < >= <= == N for attachment_size. Meta expressions combine other rules with
// && || ! parentheses, + - * over hits (1 or 0) and integer constants, and comparisons
// > < >= <= == !=. Scores are decimal with at most three fractional digits and are kept in
// thousandths (Rule::score 2500 is "score 2.5"). '#' starts a comment line.
// SpamAssassin .cf files are translated into this language by scan/sa_cf.h.
//
// SECURITY: rule text comes from tenants (through the control plane's API), so it is untrusted:
// every dimension has a named bound below, every error is an Expected error naming the line and,
// once known, the rule ("line 7: rule 'FOO': ..."), and the parser never throws or crashes
// (tests/fuzz/scan/fuzz_rules.cc). Regex syntax itself is checked by Hyperscan at compile time
// (scan/hs_rules.h), which reports the same line and name.
// STANDARDS: none (house format, documented in docs/rules.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace mx::scan {

// Bounds of a rule text. Exceeding one is a parse error naming the line.
constexpr size_t kMaxRulesTextBytes = 4u << 20;   // whole rule text
constexpr size_t kMaxRules = 10000;               // rules (regex, literal, numeric and meta)
constexpr size_t kMaxRuleNameLength = 64;         // [A-Za-z_][A-Za-z0-9_.-]*
constexpr size_t kMaxRuleLineLength = 20480;      // one line, without its newline
constexpr size_t kMaxRegexLength = 16384;         // pattern between the slashes / literal bytes
constexpr size_t kMaxRuleHeaderNameLength = 76;   // header:<Name> (RFC 5322 field name)
constexpr size_t kMaxMetaDepth = 16;              // parentheses/! nesting, and meta-over-meta chains
constexpr size_t kMaxMetaTerms = 256;             // rule references in one meta expression
constexpr int64_t kMaxRuleScore = 1000000;        // |score| in points
constexpr int64_t kScoreScale = 1000;             // Rule::score units per point (thousandths)
constexpr int64_t kMaxMetaConstant = 1000000;     // |integer constant| in a meta expression
constexpr size_t kMaxHeaderModifierLength = 8;    // header:<Name>:<modifier> (raw, addr, name)

enum class RuleTarget : uint8_t {
  kHeader,          // header:<Name>, every field of that name (unfolded, decoded value)
  kSubject,         // = header:Subject
  kFrom,            // = header:From
  kTo,              // = header:To
  kBody,            // decoded text of the text parts (streamed)
  kRawBody,         // undecoded body bytes (streamed)
  kUrl,             // each URL found in the message
  kAttachmentName,  // each filename candidate
  kAttachmentType,  // each attachment's true type (from content)
  kAttachmentSize,  // each attachment's decoded size (numeric only)
  kEnvelopeFrom,    // MAIL FROM
  kRcpt,            // each RCPT TO
  kClientIp,        // the client's address as text
  kHelo,            // EHLO/HELO argument
  kFull,            // the whole message as received, headers and body (streamed)
};
constexpr size_t kRuleTargetCount = 15;

enum class RuleOp : uint8_t { kRegex, kContains, kNumeric, kMeta, kExists };
enum class RuleCmp : uint8_t { kGt, kLt, kGe, kLe, kEq };
// What a hit means to policy (scan/policy.h RuleCategory has the same values in this order).
enum class RuleKind : uint8_t { kSpam, kPhish, kBulk, kMalware };
// Ordered by severity: the result's action is the most severe of the rules that hit.
enum class RuleAction : uint8_t { kNone, kTag, kQuarantine, kReject };

// Flattened meta expression: nodes[root] is the root; children are indexes into nodes.
// Values are integers: a rule is 1 when it hit, else 0; ! && || and comparisons give 1 or 0;
// a meta rule hits when its root's value is not 0.
struct MetaNode {
  enum class Kind : uint8_t { kRule, kNot, kAnd, kOr, kConst, kAdd, kSub, kMul,
                              kGt, kLt, kGe, kLe, kEq, kNe };
  Kind kind;
  uint32_t rule = 0;  // kRule: index into RuleSet::rules
  uint32_t lhs = 0;   // kNot and every binary kind
  uint32_t rhs = 0;   // binary kinds
  int64_t value = 0;  // kConst
};

struct Rule {
  std::string name;
  uint32_t line = 0;
  RuleTarget target = RuleTarget::kBody;
  std::string header;   // kHeader/kSubject/kFrom/kTo: the field name, lowercase, with its
                        // modifier if any ("from:addr"): the key RuleMatcher::header routes by
  RuleOp op = RuleOp::kRegex;
  bool negate = false;  // `not regex`/`not contains`: hits when no value of the target matched
  std::string pattern;  // kRegex: the expression; kContains: the literal bytes
  bool caseless = false, dotall = false, multiline = false;
  RuleCmp cmp = RuleCmp::kEq;  // kNumeric
  uint64_t number = 0;         // kNumeric
  std::vector<MetaNode> meta;  // kMeta
  uint32_t meta_root = 0;
  int64_t score = 0;    // thousandths of a point
  RuleAction action = RuleAction::kNone;
  RuleKind kind = RuleKind::kSpam;  // `category spam|phish|bulk|malware`
};

struct RuleSet {
  std::vector<Rule> rules;                 // in text order; a rule's index is its id
  std::vector<uint32_t> meta_order;        // meta rules, each after the metas it refers to
  std::map<std::string, uint32_t, std::less<>> by_name;
};

Expected<RuleSet> parse_rules(std::string_view text);

std::string_view rule_target_name(RuleTarget t);
std::string_view rule_action_name(RuleAction a);
// True for targets scanned in streaming mode (body, rawbody, full).
constexpr bool rule_target_streamed(RuleTarget t) {
  return t == RuleTarget::kBody || t == RuleTarget::kRawBody || t == RuleTarget::kFull;
}
// True for the targets that read header fields (header:<Name>, subject, from, to).
constexpr bool rule_target_is_header(RuleTarget t) {
  return t == RuleTarget::kHeader || t == RuleTarget::kSubject || t == RuleTarget::kFrom ||
         t == RuleTarget::kTo;
}
// "2.5" -> 2500 thousandths; false unless [-]DIGITS[.D[D[D]]] within +-kMaxRuleScore points.
bool parse_score(std::string_view text, int64_t& thousandths);
// "2.5" for 2500 thousandths; "-0.001", "5".
std::string format_score(int64_t thousandths);

}  // namespace mx::scan
