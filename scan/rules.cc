// scan/rules.cc — the rule-language parser (scan/rules.h, docs/rules.md).
//
// SECURITY: untrusted tenant text; every bound of scan/rules.h is checked before the memory it
// guards is used; recursion (meta expressions, meta chains) is bounded by kMaxMetaDepth.
// STANDARDS: none (house format).
#include "scan/rules.h"

#include "common/ascii.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace mx::scan {
namespace {

constexpr std::array<std::string_view, kRuleTargetCount> kTargetNames = {
    "header", "subject", "from", "to", "body", "rawbody", "url", "attachment_name",
    "attachment_type", "attachment_size", "envelope_from", "rcpt", "client_ip", "helo", "full"};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}
// RFC 5322 3.6.8 ftext: printable US-ASCII except ':'.
bool is_ftext(char c) { return c >= 33 && c <= 126 && c != ':'; }

// One line being parsed, with the error context it builds.
struct LineParser {
  std::string_view s;
  size_t pos = 0;
  uint32_t line = 0;
  std::string rule;  // name once known

  Error fail(std::string_view msg) const {
    std::string m = "line " + std::to_string(line) + ": ";
    if (!rule.empty()) m += "rule '" + rule + "': ";
    m += msg;
    return make_error(std::move(m));
  }
  void skip_blanks() {
    while (pos < s.size() && is_blank(s[pos])) ++pos;
  }
  bool at_end() {
    skip_blanks();
    return pos >= s.size();
  }
  // A run of non-blank characters.
  std::string_view word() {
    skip_blanks();
    size_t b = pos;
    while (pos < s.size() && !is_blank(s[pos])) ++pos;
    return s.substr(b, pos - b);
  }
  std::string_view peek_word() {
    size_t save = pos;
    std::string_view w = word();
    pos = save;
    return w;
  }
};

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxRuleNameLength || !is_name_start(n[0])) return false;
  for (char c : n)
    if (!is_name_char(c)) return false;
  return n != "score" && n != "action" && n != "category" && n != "rule" && n != "meta";
}

template <typename Int>
bool parse_int(std::string_view w, Int& out) {
  if (w.empty()) return false;
  auto r = std::from_chars(w.data(), w.data() + w.size(), out);
  return r.ec == std::errc() && r.ptr == w.data() + w.size();
}

}  // namespace

// [-]DIGITS[.DIGITS] with at most three fractional digits, in thousandths.
bool parse_score(std::string_view w, int64_t& out) {
  bool neg = !w.empty() && w[0] == '-';
  if (neg) w.remove_prefix(1);
  size_t dot = w.find('.');
  std::string_view ip = w.substr(0, dot), fp = dot == std::string_view::npos ? "" : w.substr(dot + 1);
  if (ip.empty() || fp.size() > 3 || (dot != std::string_view::npos && fp.empty())) return false;
  int64_t whole = 0;
  for (char c : ip)
    if (c < '0' || c > '9') return false;
  if (ip.size() > 7 || !parse_int(ip, whole) || whole > kMaxRuleScore) return false;
  int64_t frac = 0;
  for (size_t i = 0; i < 3; ++i) {
    char c = i < fp.size() ? fp[i] : '0';
    if (c < '0' || c > '9') return false;
    frac = frac * 10 + (c - '0');
  }
  int64_t v = whole * kScoreScale + frac;
  if (v > kMaxRuleScore * kScoreScale) return false;
  out = neg ? -v : v;
  return true;
}

std::string format_score(int64_t t) {
  std::string out = t < 0 ? "-" : "";
  uint64_t a = t < 0 ? 0 - static_cast<uint64_t>(t) : static_cast<uint64_t>(t);
  out += std::to_string(a / kScoreScale);
  uint64_t f = a % kScoreScale;
  if (f) {
    std::string d = std::to_string(f + kScoreScale).substr(1);
    while (d.back() == '0') d.pop_back();
    out += "." + d;
  }
  return out;
}

namespace {

Expected<bool> parse_target(LineParser& p, Rule& r) {
  std::string_view w = p.word();
  if (w.starts_with("header:")) {
    std::string_view h = w.substr(7);
    std::string_view mod;
    if (size_t colon = h.find(':'); colon != std::string_view::npos) {
      mod = h.substr(colon + 1);
      h = h.substr(0, colon);
      if (mod != "raw" && mod != "addr" && mod != "name")
        return p.fail("header modifier must be raw, addr or name");
    }
    if (h.empty() || h.size() > kMaxRuleHeaderNameLength)
      return p.fail("header name must be 1.." + std::to_string(kMaxRuleHeaderNameLength) +
                    " characters");
    for (char c : h)
      if (!is_ftext(c)) return p.fail("invalid character in header name");
    r.target = RuleTarget::kHeader;
    for (char c : h) r.header += ascii_lower(c);
    if (!mod.empty()) r.header += ":" + std::string(mod);
    return true;
  }
  for (size_t i = 1; i < kTargetNames.size(); ++i) {
    if (w == kTargetNames[i]) {
      r.target = static_cast<RuleTarget>(i);
      if (r.target == RuleTarget::kSubject) r.header = "subject";
      if (r.target == RuleTarget::kFrom) r.header = "from";
      if (r.target == RuleTarget::kTo) r.header = "to";
      return true;
    }
  }
  return p.fail(w.empty() ? "missing target" : "unknown target '" + std::string(w) + "'");
}

// /pattern/flags — the pattern ends at the first '/' not escaped by a backslash.
Expected<bool> parse_regex(LineParser& p, Rule& r) {
  p.skip_blanks();
  if (p.pos >= p.s.size() || p.s[p.pos] != '/') return p.fail("regex must start with '/'");
  size_t b = ++p.pos;
  while (p.pos < p.s.size() && p.s[p.pos] != '/') p.pos += p.s[p.pos] == '\\' ? 2 : 1;
  if (p.pos >= p.s.size()) return p.fail("unterminated regex (missing closing '/')");
  r.pattern.assign(p.s.substr(b, p.pos - b));
  ++p.pos;
  if (r.pattern.empty()) return p.fail("empty regex");
  if (r.pattern.size() > kMaxRegexLength)
    return p.fail("regex longer than " + std::to_string(kMaxRegexLength) + " bytes");
  if (r.pattern.find('\0') != std::string::npos) return p.fail("NUL byte in regex");
  while (p.pos < p.s.size() && !is_blank(p.s[p.pos])) {
    char f = p.s[p.pos++];
    if (f == 'i') r.caseless = true;
    else if (f == 's') r.dotall = true;
    else if (f == 'm') r.multiline = true;
    else return p.fail(std::string("unknown regex flag '") + f + "' (allowed: i s m)");
  }
  r.op = RuleOp::kRegex;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

// "literal" with escapes \" \\ \xHH.
Expected<bool> parse_literal(LineParser& p, Rule& r) {
  p.skip_blanks();
  if (p.pos >= p.s.size() || p.s[p.pos] != '"') return p.fail("literal must be in double quotes");
  ++p.pos;
  for (;;) {
    if (p.pos >= p.s.size()) return p.fail("unterminated literal (missing closing '\"')");
    char c = p.s[p.pos++];
    if (c == '"') break;
    if (c == '\\') {
      if (p.pos >= p.s.size()) return p.fail("unterminated literal (missing closing '\"')");
      char e = p.s[p.pos++];
      if (e == 'x') {
        int hi = p.pos < p.s.size() ? hex_value(p.s[p.pos]) : -1;
        int lo = p.pos + 1 < p.s.size() ? hex_value(p.s[p.pos + 1]) : -1;
        if (hi < 0 || lo < 0) return p.fail("\\x must be followed by two hex digits");
        c = static_cast<char>(hi * 16 + lo);
        p.pos += 2;
      } else if (e == '"' || e == '\\') {
        c = e;
      } else {
        return p.fail("unknown escape in literal (allowed: \\\" \\\\ \\xHH)");
      }
    }
    r.pattern += c;
    if (r.pattern.size() > kMaxRegexLength)
      return p.fail("literal longer than " + std::to_string(kMaxRegexLength) + " bytes");
  }
  if (p.pos < p.s.size() && !is_blank(p.s[p.pos])) return p.fail("junk after literal");
  if (r.pattern.empty()) return p.fail("empty literal");
  r.op = RuleOp::kContains;
  return true;
}

Expected<bool> parse_numeric(LineParser& p, Rule& r, std::string_view op) {
  if (r.target != RuleTarget::kAttachmentSize)
    return p.fail("numeric comparison only applies to attachment_size");
  if (op == ">") r.cmp = RuleCmp::kGt;
  else if (op == "<") r.cmp = RuleCmp::kLt;
  else if (op == ">=") r.cmp = RuleCmp::kGe;
  else if (op == "<=") r.cmp = RuleCmp::kLe;
  else r.cmp = RuleCmp::kEq;
  if (!parse_int(p.word(), r.number)) return p.fail("numeric comparison needs an unsigned integer");
  r.op = RuleOp::kNumeric;
  return true;
}

Expected<bool> parse_operator(LineParser& p, Rule& r) {
  std::string_view op = p.word();
  if (op == "not") {
    r.negate = true;
    op = p.word();
    if (op != "regex" && op != "contains" && op != "icontains")
      return p.fail("'not' must be followed by regex, contains or icontains");
  }
  if (op == "exists") {
    if (!rule_target_is_header(r.target)) return p.fail("exists only applies to header targets");
    r.op = RuleOp::kExists;
    return true;
  }
  if (op == "regex" || op == "contains" || op == "icontains") {
    if (r.target == RuleTarget::kAttachmentSize)
      return p.fail("attachment_size only takes a numeric comparison");
    if (op == "regex") return parse_regex(p, r);
    r.caseless = op == "icontains";
    return parse_literal(p, r);
  }
  if (op == ">" || op == "<" || op == ">=" || op == "<=" || op == "==")
    return parse_numeric(p, r, op);
  return p.fail(op.empty() ? "missing operator" : "unknown operator '" + std::string(op) + "'");
}

// [score N] [action A] [category C], in any order, each at most once.
Expected<bool> parse_tail(LineParser& p, Rule& r) {
  bool have_score = false, have_action = false, have_category = false;
  while (!p.at_end()) {
    std::string_view k = p.word();
    if (k == "score" && !have_score) {
      have_score = true;
      if (!parse_score(p.word(), r.score))
        return p.fail("score must be a number within +-" + std::to_string(kMaxRuleScore) +
                      " with at most three decimals");
    } else if (k == "action" && !have_action) {
      have_action = true;
      std::string_view a = p.word();
      if (a == "none") r.action = RuleAction::kNone;
      else if (a == "tag") r.action = RuleAction::kTag;
      else if (a == "quarantine") r.action = RuleAction::kQuarantine;
      else if (a == "reject") r.action = RuleAction::kReject;
      else return p.fail("action must be reject, quarantine, tag or none");
    } else if (k == "category" && !have_category) {
      have_category = true;
      std::string_view c = p.word();
      if (c == "spam") r.kind = RuleKind::kSpam;
      else if (c == "phish") r.kind = RuleKind::kPhish;
      else if (c == "bulk") r.kind = RuleKind::kBulk;
      else if (c == "malware") r.kind = RuleKind::kMalware;
      else return p.fail("category must be spam, phish, bulk or malware");
    } else {
      return p.fail("unexpected '" + std::string(k.substr(0, 32)) + "' (expected score, action or category)");
    }
  }
  return true;
}

// Meta expressions (precedence as in Perl, which SpamAssassin's metas use):
//   or := and ('||' and)*;  and := cmp ('&&' cmp)*;  cmp := sum [('>='|'<='|'=='|'!='|'>'|'<') sum];
//   sum := prod (('+'|'-') prod)*;  prod := unary ('*' unary)*;
//   unary := '!' unary | '(' or ')' | INTEGER | NAME.
// Names are resolved after the whole text is read. Every recursion goes through unary(),
// which bounds the depth.
struct MetaParser {
  LineParser& p;
  Rule& r;
  std::vector<std::string>& refs;  // names, parallel to kRule nodes' .rule until resolved
  size_t depth = 0;

  void skip() { p.skip_blanks(); }
  bool eat(std::string_view tok) {
    skip();
    if (p.s.substr(p.pos).starts_with(tok)) {
      p.pos += tok.size();
      return true;
    }
    return false;
  }
  uint32_t add(MetaNode n) {
    r.meta.push_back(n);
    return static_cast<uint32_t>(r.meta.size() - 1);
  }
  uint32_t bin(MetaNode::Kind k, uint32_t lhs, uint32_t rhs) { return add({k, 0, lhs, rhs, 0}); }
  Expected<uint32_t> or_expr() {
    auto lhs = and_expr();
    if (!lhs) return lhs;
    uint32_t node = *lhs;
    while (eat("||")) {
      auto rhs = and_expr();
      if (!rhs) return rhs;
      node = bin(MetaNode::Kind::kOr, node, *rhs);
    }
    return node;
  }
  Expected<uint32_t> and_expr() {
    auto lhs = cmp_expr();
    if (!lhs) return lhs;
    uint32_t node = *lhs;
    while (eat("&&")) {
      auto rhs = cmp_expr();
      if (!rhs) return rhs;
      node = bin(MetaNode::Kind::kAnd, node, *rhs);
    }
    return node;
  }
  Expected<uint32_t> cmp_expr() {
    auto lhs = sum_expr();
    if (!lhs) return lhs;
    static constexpr std::pair<std::string_view, MetaNode::Kind> kOps[] = {
        {">=", MetaNode::Kind::kGe}, {"<=", MetaNode::Kind::kLe}, {"==", MetaNode::Kind::kEq},
        {"!=", MetaNode::Kind::kNe}, {">", MetaNode::Kind::kGt},  {"<", MetaNode::Kind::kLt}};
    for (const auto& [tok, kind] : kOps) {
      if (!eat(tok)) continue;
      auto rhs = sum_expr();
      if (!rhs) return rhs;
      return bin(kind, *lhs, *rhs);
    }
    return lhs;
  }
  Expected<uint32_t> sum_expr() {
    auto lhs = prod_expr();
    if (!lhs) return lhs;
    uint32_t node = *lhs;
    for (;;) {
      skip();
      // '-' or '+' that is not the start of another operator
      if (p.pos < p.s.size() && (p.s[p.pos] == '+' || p.s[p.pos] == '-')) {
        MetaNode::Kind k = p.s[p.pos] == '+' ? MetaNode::Kind::kAdd : MetaNode::Kind::kSub;
        ++p.pos;
        auto rhs = prod_expr();
        if (!rhs) return rhs;
        node = bin(k, node, *rhs);
        continue;
      }
      return node;
    }
  }
  Expected<uint32_t> prod_expr() {
    auto lhs = unary();
    if (!lhs) return lhs;
    uint32_t node = *lhs;
    while (eat("*")) {
      auto rhs = unary();
      if (!rhs) return rhs;
      node = bin(MetaNode::Kind::kMul, node, *rhs);
    }
    return node;
  }
  Expected<uint32_t> unary() {
    if (++depth > kMaxMetaDepth)
      return p.fail("meta expression nested deeper than " + std::to_string(kMaxMetaDepth));
    Expected<uint32_t> out = nested();
    --depth;
    return out;
  }
  Expected<uint32_t> nested() {
    if (r.meta.size() >= 4 * kMaxMetaTerms)
      return p.fail("meta expression longer than " + std::to_string(4 * kMaxMetaTerms) + " nodes");
    skip();
    if (p.pos < p.s.size() && p.s[p.pos] == '!' && !p.s.substr(p.pos).starts_with("!=")) {
      ++p.pos;
      auto e = unary();
      if (!e) return e;
      return add({MetaNode::Kind::kNot, 0, *e, 0, 0});
    }
    if (eat("(")) {
      auto e = or_expr();
      if (!e) return e;
      if (!eat(")")) return p.fail("missing ')' in meta expression");
      return e;
    }
    skip();
    if (p.pos < p.s.size() && p.s[p.pos] >= '0' && p.s[p.pos] <= '9') {
      size_t b = p.pos;
      while (p.pos < p.s.size() && p.s[p.pos] >= '0' && p.s[p.pos] <= '9') ++p.pos;
      int64_t v = 0;
      if (p.pos - b > 7 || !parse_int(p.s.substr(b, p.pos - b), v) || v > kMaxMetaConstant)
        return p.fail("meta constant must be an integer of at most " +
                      std::to_string(kMaxMetaConstant));
      if (p.pos < p.s.size() && (is_name_char(p.s[p.pos])))
        return p.fail("meta constant must be an integer");
      return add({MetaNode::Kind::kConst, 0, 0, 0, v});
    }
    size_t b = p.pos;
    while (p.pos < p.s.size() && is_name_char(p.s[p.pos])) ++p.pos;
    std::string_view n = p.s.substr(b, p.pos - b);
    if (!valid_name(n))
      return p.fail("expected a rule name, a number, '!' or '(' in meta expression");
    if (refs.size() >= kMaxMetaTerms)
      return p.fail("meta expression has more than " + std::to_string(kMaxMetaTerms) + " terms");
    refs.emplace_back(n);
    return add({MetaNode::Kind::kRule, static_cast<uint32_t>(refs.size() - 1), 0, 0, 0});
  }
};

Expected<bool> parse_line(LineParser& p, RuleSet& set, std::vector<std::string>& refs) {
  std::string_view kind = p.word();
  if (kind != "rule" && kind != "meta")
    return p.fail("expected 'rule' or 'meta', got '" + std::string(kind.substr(0, 32)) + "'");
  std::string_view name = p.word();
  if (!valid_name(name))
    return p.fail("invalid rule name (letters, digits, _ . -, at most " +
                  std::to_string(kMaxRuleNameLength) + ", not a keyword)");
  p.rule.assign(name);
  if (set.by_name.contains(name)) return p.fail("duplicate rule name");
  if (set.rules.size() >= kMaxRules)
    return p.fail("more than " + std::to_string(kMaxRules) + " rules");
  Rule r;
  r.name.assign(name);
  r.line = p.line;
  if (kind == "meta") {
    r.op = RuleOp::kMeta;
    MetaParser mp{p, r, refs};
    auto root = mp.or_expr();
    if (!root) return root.error();
    r.meta_root = *root;
  } else {
    if (auto t = parse_target(p, r); !t) return t;
    if (auto o = parse_operator(p, r); !o) return o;
  }
  if (auto t = parse_tail(p, r); !t) return t;
  set.by_name.emplace(r.name, static_cast<uint32_t>(set.rules.size()));
  set.rules.push_back(std::move(r));
  return true;
}

Error rule_error(const Rule& r, const std::string& msg) {
  return make_error("line " + std::to_string(r.line) + ": rule '" + r.name + "': " + msg);
}

// Depth-first post-order over meta references: meta_order gets every meta after the metas it
// uses; chain[id] is the length of the longest meta-over-meta chain from id. A cycle, or a
// chain longer than kMaxMetaDepth, is an error (the recursion stops there too).
Expected<bool> order_meta(RuleSet& set, uint32_t id, std::vector<uint8_t>& state,
                          std::vector<uint32_t>& chain, size_t depth) {
  if (state[id] == 2) return true;
  const Rule& r = set.rules[id];
  if (state[id] == 1) return rule_error(r, "meta rules refer to each other in a cycle");
  if (depth > kMaxMetaDepth)
    return rule_error(r, "meta rules nested deeper than " + std::to_string(kMaxMetaDepth));
  state[id] = 1;
  uint32_t longest = 0;
  for (const MetaNode& n : r.meta) {
    if (n.kind != MetaNode::Kind::kRule || set.rules[n.rule].op != RuleOp::kMeta) continue;
    if (auto e = order_meta(set, n.rule, state, chain, depth + 1); !e) return e;
    longest = std::max(longest, chain[n.rule] + 1);
  }
  if (longest > kMaxMetaDepth)
    return rule_error(r, "meta rules nested deeper than " + std::to_string(kMaxMetaDepth));
  chain[id] = longest;
  state[id] = 2;
  set.meta_order.push_back(id);
  return true;
}

Expected<bool> resolve_meta(RuleSet& set, const std::vector<std::vector<std::string>>& refs) {
  for (size_t i = 0; i < set.rules.size(); ++i) {
    for (MetaNode& n : set.rules[i].meta) {
      if (n.kind != MetaNode::Kind::kRule) continue;
      const std::string& name = refs[i][n.rule];
      auto it = set.by_name.find(name);
      if (it == set.by_name.end()) return rule_error(set.rules[i], "unknown rule '" + name + "'");
      if (it->second == i) return rule_error(set.rules[i], "meta rule refers to itself");
      n.rule = it->second;
    }
  }
  std::vector<uint8_t> state(set.rules.size(), 0);
  std::vector<uint32_t> chain(set.rules.size(), 0);
  for (uint32_t i = 0; i < set.rules.size(); ++i) {
    if (set.rules[i].op != RuleOp::kMeta) continue;
    if (auto e = order_meta(set, i, state, chain, 0); !e) return e;
  }
  return true;
}

}  // namespace

Expected<RuleSet> parse_rules(std::string_view text) {
  if (text.size() > kMaxRulesTextBytes)
    return make_error("rule text larger than " + std::to_string(kMaxRulesTextBytes) + " bytes");
  RuleSet set;
  std::vector<std::vector<std::string>> refs;  // per rule: meta names, by kRule node .rule
  uint32_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    LineParser p{text.substr(pos, end - pos), 0, ++line, {}};
    pos = end + 1;
    if (p.s.size() > kMaxRuleLineLength)
      return p.fail("line longer than " + std::to_string(kMaxRuleLineLength) + " bytes");
    if (p.s.find('\0') != std::string_view::npos) return p.fail("NUL byte in line");
    if (p.at_end() || p.s[p.pos] == '#') continue;
    std::vector<std::string> line_refs;
    if (auto r = parse_line(p, set, line_refs); !r) return r.error();
    refs.push_back(std::move(line_refs));
  }
  if (auto r = resolve_meta(set, refs); !r) return r.error();
  return set;
}

std::string_view rule_target_name(RuleTarget t) {
  return kTargetNames[static_cast<size_t>(t)];
}

std::string_view rule_action_name(RuleAction a) {
  switch (a) {
    case RuleAction::kNone: return "none";
    case RuleAction::kTag: return "tag";
    case RuleAction::kQuarantine: return "quarantine";
    case RuleAction::kReject: return "reject";
  }
  return "none";
}

}  // namespace mx::scan
