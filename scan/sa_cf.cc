// scan/sa_cf.cc — SpamAssassin .cf files to the rule language (scan/sa_cf.h).
//
// SECURITY: untrusted text; every bound of scan/sa_cf.h is checked before the memory it guards
// grows; the output is parsed again by parse_rules, which applies scan/rules.h's bounds.
// STANDARDS: none.
#include "scan/sa_cf.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace mx::scan {
namespace {

constexpr std::string_view kVersion = "4.000001";  // the SpamAssassin version `if` compares with

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_ident_char(char c) { return is_alnum(c) || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The first blank-separated word of s; s advances past it.
std::string_view take_word(std::string_view& s) {
  s = trim(s);
  size_t e = 0;
  while (e < s.size() && !is_blank(s[e])) ++e;
  std::string_view w = s.substr(0, e);
  s = trim(s.substr(e));
  return w;
}

// SpamAssassin's comment rule: from the first '#' not preceded by '\' to the end; then "\#"
// stands for '#'.
std::string strip_comment(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '#' && (i == 0 || line[i - 1] != '\\')) break;
    if (c == '\\' && i + 1 < line.size() && line[i + 1] == '#') continue;  // "\#" -> "#"
    out += c;
  }
  return std::string(trim(out));
}

bool valid_rule_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxRuleNameLength || !is_ident_start(n[0])) return false;
  return std::all_of(n.begin(), n.end(), is_ident_char);
}

// "4.000001" or "3.004000" as an integer of millionths-of-a-minor (4000001).
bool parse_version(std::string_view v, int64_t& out) {
  v = trim(v);
  size_t dot = v.find('.');
  int64_t major = 0, minor = 0;
  std::string_view a = v.substr(0, dot), b = dot == std::string_view::npos ? "" : v.substr(dot + 1);
  if (a.empty() || a.size() > 3 || b.size() > 6) return false;
  if (std::from_chars(a.data(), a.data() + a.size(), major).ptr != a.data() + a.size()) return false;
  std::string frac(b);
  frac.resize(6, '0');
  if (std::from_chars(frac.data(), frac.data() + 6, minor).ptr != frac.data() + 6) return false;
  out = major * 1000000 + minor;
  return true;
}

// Score text in points ("1.0", "-0.001", "2.9999") to thousandths, rounded.
bool parse_sa_score(std::string_view w, int64_t& out) {
  double d = 0;
  auto r = std::from_chars(w.data(), w.data() + w.size(), d);
  if (r.ec != std::errc() || r.ptr != w.data() + w.size() || !std::isfinite(d)) return false;
  if (std::fabs(d) > static_cast<double>(kMaxRuleScore)) return false;
  out = std::llround(d * static_cast<double>(kScoreScale));
  return true;
}

std::string error_reason(std::string m) {
  if (size_t p = m.find("': "); p != std::string::npos) return m.substr(p + 3);
  if (size_t p = m.find(": "); p != std::string::npos) return m.substr(p + 2);
  return m;
}

struct Def {
  std::string type;    // header body rawbody full uri meta, or "" for an unsupported rule type
  std::string rest;    // after the name
  std::string file;
  uint32_t line = 0;
  std::string reason;  // set: unsupported, with this reason
};

class SaReader {
 public:
  Expected<bool> read(std::span<const SaFile> files);
  // Per-rule translation and checks (parse_rules on the line alone, Hyperscan's expression check);
  // failures become unsupported.
  void check_rules(bool hyperscan = true);
  // The rule text for the current state. line_names[i] is the rule on output line i + 1.
  std::string emit(std::vector<std::string>& line_names, std::set<std::string>& dropped_metas);
  void drop(const std::string& name, std::string reason) {
    auto it = defs_.find(name);
    if (it != defs_.end() && it->second.reason.empty()) it->second.reason = std::move(reason);
  }
  SaTranslation result(std::string text, const std::set<std::string>& dropped_metas) const;

  size_t lines_read = 0, conditionals_false = 0;

 private:
  Expected<bool> line(std::string_view file, uint32_t lineno, std::string_view text);
  bool eval_if(std::string_view cond) const;
  std::string apply_tags(std::string_view pattern) const;
  // One rule's line in the rule language, or a reason it cannot be written.
  bool translate(const std::string& name, const Def& d, std::string& out, std::string& why,
                 bool& dropped_terms) const;
  bool translate_regex(std::string_view s, bool body_like, std::string& out, std::string& why) const;
  bool translate_meta(std::string_view expr, std::string& out, std::string& why, bool& dropped) const;
  int64_t score_of(const std::string& name) const;

  struct Frame {
    bool outer;  // the enclosing block is active
    bool cond;
    bool in_else = false;
  };
  std::vector<Frame> ifs_;
  bool active() const {
    return ifs_.empty() || (ifs_.back().outer && (ifs_.back().cond != ifs_.back().in_else));
  }
  std::set<std::string, std::less<>> plugins_;
  std::map<std::string, Def, std::less<>> defs_;
  std::vector<std::string> order_;
  std::map<std::string, int64_t, std::less<>> scores_;
  std::map<std::string, std::string, std::less<>> tags_, pre_, inter_, post_;
  size_t tag_count_ = 0;
  std::set<std::string, std::less<>> replace_rules_;
  std::string rstart_ = "<", rend_ = ">";
};

std::string plugin_key(std::string_view p) {
  p = trim(p);
  constexpr std::string_view kPrefix = "Mail::SpamAssassin::Plugin::";
  if (p.starts_with(kPrefix)) p.remove_prefix(kPrefix.size());
  return std::string(p);
}

// if conditions: terms joined by && or ||, each optionally negated and parenthesised:
// version OP N, can(...), has(...), plugin(P), perl_version OP N. Unknown terms are false.
bool SaReader::eval_if(std::string_view cond) const {
  cond = trim(cond);
  while (cond.size() >= 2 && cond.front() == '(' && cond.back() == ')') {
    int depth = 0;
    bool wraps = true;
    for (size_t i = 0; i < cond.size(); ++i) {
      depth += cond[i] == '(' ? 1 : cond[i] == ')' ? -1 : 0;
      if (depth == 0 && i + 1 < cond.size()) wraps = false;
    }
    if (!wraps) break;
    cond = trim(cond.substr(1, cond.size() - 2));
  }
  int depth = 0;
  for (size_t i = 0; i + 1 < cond.size(); ++i) {  // lowest precedence first: ||, then &&
    depth += cond[i] == '(' ? 1 : cond[i] == ')' ? -1 : 0;
    if (depth == 0 && cond.substr(i, 2) == "||")
      return eval_if(cond.substr(0, i)) || eval_if(cond.substr(i + 2));
  }
  depth = 0;
  for (size_t i = 0; i + 1 < cond.size(); ++i) {
    depth += cond[i] == '(' ? 1 : cond[i] == ')' ? -1 : 0;
    if (depth == 0 && cond.substr(i, 2) == "&&")
      return eval_if(cond.substr(0, i)) && eval_if(cond.substr(i + 2));
  }
  if (cond.starts_with("!")) return !eval_if(cond.substr(1));
  if (cond.starts_with("can(") || cond.starts_with("has(")) return true;
  if (cond.starts_with("plugin(") && cond.ends_with(")"))
    return plugins_.contains(plugin_key(cond.substr(7, cond.size() - 8)));
  if (cond.starts_with("version")) {
    std::string_view rest = trim(cond.substr(7));
    static constexpr std::string_view kOps[] = {">=", "<=", "==", "!=", ">", "<"};
    for (std::string_view op : kOps) {
      if (!rest.starts_with(op)) continue;
      int64_t want = 0, have = 0;
      if (!parse_version(rest.substr(op.size()), want) || !parse_version(kVersion, have)) return false;
      if (op == ">=") return have >= want;
      if (op == "<=") return have <= want;
      if (op == "==") return have == want;
      if (op == "!=") return have != want;
      if (op == ">") return have > want;
      return have < want;
    }
  }
  return false;
}

Expected<bool> SaReader::read(std::span<const SaFile> files) {
  if (files.size() > kMaxSaFiles)
    return make_error("more than " + std::to_string(kMaxSaFiles) + " rule files");
  size_t total = 0;
  for (const SaFile& f : files) {
    total += f.text.size();
    if (total > kMaxSaTextBytes)
      return make_error("rule files larger than " + std::to_string(kMaxSaTextBytes) + " bytes together");
  }
  for (const SaFile& f : files) {
    ifs_.clear();  // SpamAssassin's conditionals do not span files
    uint32_t lineno = 0;
    size_t pos = 0;
    std::string_view t = f.text;
    while (pos < t.size()) {
      size_t nl = t.find('\n', pos);
      size_t end = nl == std::string_view::npos ? t.size() : nl;
      std::string_view l = t.substr(pos, end - pos);
      pos = end + 1;
      ++lineno;
      ++lines_read;
      if (l.size() > kMaxSaLineLength)
        return make_error(f.name + ":" + std::to_string(lineno) + ": line longer than " +
                          std::to_string(kMaxSaLineLength) + " bytes");
      if (auto r = line(f.name, lineno, l); !r) return r;
    }
    if (!ifs_.empty())
      return make_error(f.name + ": " + std::to_string(ifs_.size()) + " if/ifplugin without endif");
  }
  return true;
}

Expected<bool> SaReader::line(std::string_view file, uint32_t lineno, std::string_view raw) {
  std::string text = strip_comment(raw);
  if (text.empty()) return true;
  std::string_view rest = text;
  std::string key(take_word(rest));
  std::transform(key.begin(), key.end(), key.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  auto where = [&] { return std::string(file) + ":" + std::to_string(lineno) + ": "; };
  if (key == "if" || key == "ifplugin") {
    if (ifs_.size() >= kMaxSaIfDepth)
      return make_error(where() + "if/ifplugin nested deeper than " + std::to_string(kMaxSaIfDepth));
    bool outer = active();
    bool cond = key == "ifplugin" ? plugins_.contains(plugin_key(rest)) : eval_if(rest);
    if (outer && !cond) ++conditionals_false;
    ifs_.push_back({outer, cond});
    return true;
  }
  if (key == "else") {
    if (ifs_.empty() || ifs_.back().in_else) return make_error(where() + "else without if");
    ifs_.back().in_else = true;
    return true;
  }
  if (key == "endif") {
    if (ifs_.empty()) return make_error(where() + "endif without if");
    ifs_.pop_back();
    return true;
  }
  if (!active()) return true;
  if (key == "loadplugin") {
    plugins_.insert(plugin_key(take_word(rest)));
    return true;
  }
  if (key == "score") {
    std::string_view name = take_word(rest);
    std::string_view s0 = take_word(rest);
    int64_t v = 0;
    if (!name.empty() && parse_sa_score(s0, v)) scores_[std::string(name)] = v;
    return true;
  }
  if (key == "replace_start" || key == "replace_end") {
    std::string_view v = take_word(rest);
    if (!v.empty()) (key == "replace_start" ? rstart_ : rend_) = std::string(v);
    return true;
  }
  if (key == "replace_tag" || key == "replace_pre" || key == "replace_inter" || key == "replace_post") {
    std::string_view name = take_word(rest);
    if (name.empty() || rest.empty()) return true;
    if (++tag_count_ > kMaxSaReplaceTags)
      return make_error(where() + "more than " + std::to_string(kMaxSaReplaceTags) + " replace tags");
    auto& m = key == "replace_tag" ? tags_ : key == "replace_pre" ? pre_ : key == "replace_inter" ? inter_ : post_;
    m[std::string(name)] = std::string(rest);
    return true;
  }
  if (key == "replace_rules") {
    for (std::string_view n = take_word(rest); !n.empty(); n = take_word(rest))
      if (replace_rules_.size() < kMaxSaRules) replace_rules_.insert(std::string(n));
    return true;
  }
  static const std::set<std::string_view> kRuleTypes = {"header", "body", "rawbody", "full", "uri", "meta"};
  static const std::map<std::string_view, std::string_view> kPluginTypes = {
      {"uri_detail", "URIDetail plugin"},       {"mimeheader", "MIMEHeader plugin"},
      {"askdns", "AskDNS plugin (network)"},    {"urirhsbl", "URIDNSBL plugin (network)"},
      {"urirhssub", "URIDNSBL plugin (network)"}, {"uridnsbl", "URIDNSBL plugin (network)"},
      {"uridnssub", "URIDNSBL plugin (network)"}, {"urinsrhsbl", "URIDNSBL plugin (network)"},
      {"urinsrhssub", "URIDNSBL plugin (network)"}, {"urifullnsrhsbl", "URIDNSBL plugin (network)"},
      {"urifullnsrhssub", "URIDNSBL plugin (network)"}, {"uriafullnsrhssub", "URIDNSBL plugin (network)"},
      {"urianyrhssub", "URIDNSBL plugin (network)"}, {"urianyrhsbl", "URIDNSBL plugin (network)"},
      {"hashbl_ignore", ""}, {"body_part_scan_size", ""}};
  bool rule_type = kRuleTypes.contains(key);
  auto plugin_type = kPluginTypes.find(key);
  if (!rule_type && (plugin_type == kPluginTypes.end() || plugin_type->second.empty()))
    return true;  // describe, tflags, priority, lang, settings: do not change matching
  std::string name(take_word(rest));
  if (name.empty()) return true;
  auto it = defs_.find(name);
  if (it == defs_.end()) {
    if (defs_.size() >= kMaxSaRules)
      return make_error(where() + "more than " + std::to_string(kMaxSaRules) + " rules");
    order_.push_back(name);
    it = defs_.emplace(name, Def{}).first;
  }
  Def& d = it->second;
  d = Def{};
  d.file.assign(file);
  d.line = lineno;
  d.rest.assign(rest);
  if (rule_type) {
    d.type = key;
  } else {
    d.reason = "rule type '" + key + "' (" + std::string(plugin_type->second) + ")";
  }
  return true;
}

// ReplaceTags: <pre NAME>, <inter NAME>, <post NAME> choose the expressions put before each
// replaced tag, between two adjacent ones and after each; <TAG> is replaced by its value.
std::string SaReader::apply_tags(std::string_view p) const {
  std::string out;
  std::string_view pre, inter, post;
  bool last_was_tag = false;
  size_t i = 0;
  while (i < p.size()) {
    if (p.substr(i).starts_with(rstart_)) {
      size_t b = i + rstart_.size();
      size_t e = p.find(rend_, b);
      if (e != std::string_view::npos && e > b && e - b <= 64) {
        std::string_view inner = p.substr(b, e - b);
        auto directive = [&](std::string_view kw, const std::map<std::string, std::string, std::less<>>& m,
                             std::string_view& slot) {
          if (!inner.starts_with(kw)) return false;
          auto f = m.find(trim(inner.substr(kw.size())));
          if (f == m.end()) return false;
          slot = f->second;
          return true;
        };
        if (directive("pre ", pre_, pre) || directive("inter ", inter_, inter) ||
            directive("post ", post_, post)) {
          i = e + rend_.size();
          continue;
        }
        if (auto t = tags_.find(inner); t != tags_.end()) {
          if (last_was_tag) out += inter;
          out += pre;
          out += t->second;
          out += post;
          last_was_tag = true;
          i = e + rend_.size();
          continue;
        }
      }
    }
    last_was_tag = false;
    out += p[i++];
  }
  return out;
}

// A Perl match operator at the start of s: /re/mods or m<d>re<d>mods. Written as /re/flags.
bool SaReader::translate_regex(std::string_view s, bool body_like, std::string& out,
                               std::string& why) const {
  s = trim(s);
  char open = 0;
  size_t pos = 0;
  if (!s.empty() && s[0] == '/') {
    open = '/';
    pos = 1;
  } else if (s.size() >= 2 && s[0] == 'm' && !is_alnum(s[1]) && !is_blank(s[1])) {
    open = s[1];
    pos = 2;
  } else {
    why = "not a regular expression";
    return false;
  }
  char close = open == '{' ? '}' : open == '(' ? ')' : open == '<' ? '>' : open == '[' ? ']' : open;
  std::string pat;
  int nest = 0;
  bool closed = false;
  while (pos < s.size()) {
    char c = s[pos];
    if (c == '\\' && pos + 1 < s.size()) {  // an escaped character, the delimiter included
      pat += c;
      pat += s[pos + 1];
      pos += 2;
      continue;
    }
    if (open != close && c == open) ++nest;
    if (c == close) {
      if (nest == 0) {
        closed = true;
        ++pos;
        break;
      }
      --nest;
    }
    if (c == '/') pat += '\\';  // our delimiter
    pat += c;
    ++pos;
  }
  if (!closed) {
    why = "unterminated regular expression";
    return false;
  }
  std::string flags;
  bool extended = false, multiline = false;
  while (pos < s.size() && !is_blank(s[pos])) {
    char f = s[pos++];
    if (f == 'i' || f == 's') {
      if (flags.find(f) == std::string::npos) flags += f;
    } else if (f == 'm') {
      multiline = true;
    } else if (f == 'x') {
      extended = true;
    } else if (f == 'o' || f == 'g') {
      // o (compile once) and g (global) do not change whether a rule hits
    } else {
      why = std::string("regex modifier '") + f + "'";
      return false;
    }
  }
  std::string_view tail = trim(s.substr(pos));
  if (tail.starts_with("[if-unset:")) {
    why = "[if-unset:] is not translated";
    return false;
  }
  if (!tail.empty()) {
    why = "unexpected text after the regular expression";
    return false;
  }
  if (multiline || body_like) flags += 'm';
  if (pat.empty()) {
    why = "empty regular expression";
    return false;
  }
  out = "/" + std::string(extended ? "(?x)" : "") + pat + "/" + flags;
  return true;
}

bool SaReader::translate_meta(std::string_view e, std::string& out, std::string& why,
                              bool& dropped) const {
  size_t i = 0;
  while (i < e.size()) {
    char c = e[i];
    if (is_blank(c)) {
      out += ' ';
      ++i;
      continue;
    }
    if (is_ident_start(c)) {
      size_t b = i;
      while (i < e.size() && is_ident_char(e[i])) ++i;
      std::string_view n = e.substr(b, i - b);
      auto it = defs_.find(n);
      if (it == defs_.end()) {
        why = "meta refers to undefined rule " + std::string(n.substr(0, 80));
        return false;
      }
      if (!it->second.reason.empty()) {
        out += '0';
        dropped = true;
      } else {
        out += n;
      }
      continue;
    }
    if (c >= '0' && c <= '9') {
      size_t b = i;
      while (i < e.size() && ((e[i] >= '0' && e[i] <= '9') || e[i] == '.')) ++i;
      std::string_view num = e.substr(b, i - b);
      if (num.find('.') != std::string_view::npos) {
        why = "meta uses a non-integer constant " + std::string(num.substr(0, 20));
        return false;
      }
      out += num;
      continue;
    }
    static constexpr std::string_view kOps[] = {"&&", "||", ">=", "<=", "==", "!=", "!", "(", ")",
                                                "+",  "-",  "*",  ">",  "<"};
    bool matched = false;
    for (std::string_view op : kOps) {
      if (e.substr(i).starts_with(op)) {
        out += op;
        i += op.size();
        matched = true;
        break;
      }
    }
    if (!matched) {
      why = std::string("meta uses operator '") + c + "' (the rule language has && || ! + - * and comparisons)";
      return false;
    }
  }
  return true;
}

int64_t SaReader::score_of(const std::string& name) const {
  if (name.starts_with("__")) return 0;
  if (auto it = scores_.find(name); it != scores_.end()) return it->second;
  return name.starts_with("T_") ? 10 : 1000;
}

bool SaReader::translate(const std::string& name, const Def& d, std::string& out, std::string& why,
                         bool& dropped_terms) const {
  if (!valid_rule_name(name)) {
    why = "rule name not valid in the rule language (letters, digits, _; at most " +
          std::to_string(kMaxRuleNameLength) + ")";
    return false;
  }
  std::string_view rest = d.rest;
  const bool tagged = replace_rules_.contains(name);
  std::string replaced;
  if (tagged) {
    replaced = apply_tags(rest);
    rest = replaced;
  }
  if (trim(rest).starts_with("eval:")) {
    why = "eval: rule (a Perl plugin function)";
    return false;
  }
  std::string body;
  if (d.type == "meta") {
    body = "meta " + name + " ";
    if (!translate_meta(rest, body, why, dropped_terms)) return false;
  } else if (d.type == "header") {
    std::string_view r = trim(rest);
    if (r.starts_with("exists:")) {
      std::string_view field = trim(r.substr(7));
      if (field.empty() || field.find_first_of(" \t:") != std::string_view::npos) {
        why = "exists: needs one field name";
        return false;
      }
      body = "rule " + name + " header:" + std::string(field) + " exists";
    } else {
      std::string_view spec = take_word(r);
      std::string_view op = take_word(r);
      if (op != "=~" && op != "!~") {
        why = "header rule without =~ or !~";
        return false;
      }
      std::string field(spec), mod;
      if (size_t c = field.find(':'); c != std::string::npos) {
        mod = field.substr(c + 1);
        field.resize(c);
      }
      if (mod.find(':') != std::string::npos) {
        why = "more than one header modifier";
        return false;
      }
      if (!mod.empty() && mod != "raw" && mod != "addr" && mod != "name") {
        why = "header modifier :" + mod.substr(0, 20);
        return false;
      }
      std::string target;
      if (field.starts_with("X-Spam-Relays-") || field.starts_with("ALL-") || field == "X-Spam-DKIM" ||
          field == "X-Spam-Auth") {
        why = "pseudo-header " + field.substr(0, 40) + " (computed by SpamAssassin's relay parser)";
        return false;
      }
      if (field == "EnvelopeFrom") {
        if (!mod.empty()) {
          why = "modifier on EnvelopeFrom";
          return false;
        }
        target = "envelope_from";
      } else {
        if (field.empty() || field.size() > kMaxRuleHeaderNameLength) {
          why = "header name length";
          return false;
        }
        target = "header:" + field + (mod.empty() ? "" : ":" + mod);
      }
      std::string re;
      if (!translate_regex(r, false, re, why)) return false;
      body = "rule " + name + " " + target + (op == "!~" ? " not regex " : " regex ") + re;
    }
  } else {
    std::string re;
    const bool body_like = d.type == "body" || d.type == "rawbody";
    if (!translate_regex(rest, body_like, re, why)) return false;
    std::string target = body_like ? "body" : d.type == "uri" ? "url" : "full";
    body = "rule " + name + " " + target + " regex " + re;
  }
  body += " score " + format_score(score_of(name));
  out = std::move(body);
  return true;
}

void SaReader::check_rules(bool hyperscan) {
  for (const std::string& name : order_) {
    Def& d = defs_[name];
    if (!d.reason.empty()) continue;
    std::string line, why;
    bool dropped = false;
    if (!translate(name, d, line, why, dropped)) {
      d.reason = why;
      continue;
    }
    if (d.type == "meta") continue;  // checked with the whole text (references)
    auto set = parse_rules(line);
    if (!set) {
      d.reason = error_reason(set.error().message);
      continue;
    }
    if (!hyperscan) continue;
    if (auto ok = check_rule_expression(set->rules[0]); !ok) d.reason = error_reason(ok.error().message);
  }
}

std::string SaReader::emit(std::vector<std::string>& line_names, std::set<std::string>& dropped_metas) {
  std::string text;
  line_names.clear();
  dropped_metas.clear();
  // Unsupported status feeds through metas: a meta that cannot be written makes the metas over
  // it write 0 too, so translate until nothing changes (each pass drops at least one rule).
  for (bool changed = true; changed;) {
    changed = false;
    for (const std::string& name : order_) {
      Def& d = defs_[name];
      if (!d.reason.empty() || d.type != "meta") continue;
      std::string line, why;
      bool dropped = false;
      if (!translate(name, d, line, why, dropped)) {
        d.reason = why;
        changed = true;
      }
    }
  }
  for (const std::string& name : order_) {
    const Def& d = defs_[name];
    if (!d.reason.empty()) continue;
    std::string line, why;
    bool dropped = false;
    if (!translate(name, d, line, why, dropped)) continue;  // settled above
    if (dropped) dropped_metas.insert(name);
    text += line;
    text += '\n';
    line_names.push_back(name);
  }
  return text;
}

SaTranslation SaReader::result(std::string text, const std::set<std::string>& dropped_metas) const {
  SaTranslation t;
  t.rules_text = std::move(text);
  t.lines_read = lines_read;
  t.conditionals_false = conditionals_false;
  t.rules_defined = defs_.size();
  for (const std::string& name : order_) {
    const Def& d = defs_.at(name);
    if (d.reason.empty()) {
      ++t.rules_translated;
      continue;
    }
    t.unsupported.push_back({name, d.file, d.line, d.reason});
  }
  std::stable_sort(t.unsupported.begin(), t.unsupported.end(), [](const auto& a, const auto& b) {
    return a.file != b.file ? a.file < b.file : a.line < b.line;
  });
  t.metas_with_dropped_terms.assign(dropped_metas.begin(), dropped_metas.end());
  return t;
}

// "line N: ..." -> N, or 0.
uint32_t error_line(std::string_view m) {
  if (!m.starts_with("line ")) return 0;
  uint32_t n = 0;
  auto r = std::from_chars(m.data() + 5, m.data() + m.size(), n);
  return r.ec == std::errc() ? n : 0;
}


// Emits and parses until parse_rules accepts the text (a meta it refuses is dropped).
Expected<std::string> settle(SaReader& reader, std::set<std::string>& dropped_metas) {
  std::vector<std::string> names;
  for (size_t round = 0;; ++round) {
    std::string text = reader.emit(names, dropped_metas);
    auto set = parse_rules(text);
    if (set) return text;
    uint32_t line = error_line(set.error().message);
    if (line == 0 || line > names.size() || round >= kMaxSaCompileRounds)
      return make_error("translated rules refused: " + set.error().message);
    reader.drop(names[line - 1], error_reason(set.error().message));
  }
}

}  // namespace

Expected<SaTranslation> translate_sa_cf(std::span<const SaFile> files, bool check_expressions) {
  SaReader reader;
  if (auto r = reader.read(files); !r) return r.error();
  reader.check_rules(check_expressions);
  std::set<std::string> dropped;
  auto text = settle(reader, dropped);
  if (!text) return text.error();
  return reader.result(std::move(*text), dropped);
}

Expected<SaCompiled> compile_sa_cf(std::span<const SaFile> files) {
  SaReader reader;
  if (auto r = reader.read(files); !r) return r.error();
  reader.check_rules();
  std::set<std::string> dropped;
  for (size_t round = 0;; ++round) {
    auto text = settle(reader, dropped);
    if (!text) return text.error();
    auto rules = HsRules::compile(*text);
    if (rules) {
      SaTranslation t = reader.result(std::move(*text), dropped);
      return SaCompiled{std::move(*rules), std::move(t)};
    }
    const std::string& m = rules.error().message;
    size_t q = m.find("rule '");
    size_t qe = q == std::string::npos ? q : m.find('\'', q + 6);
    if (qe == std::string::npos || round >= kMaxSaCompileRounds)
      return make_error("compiling the translated rules: " + m);
    reader.drop(m.substr(q + 6, qe - q - 6), error_reason(m));
  }
}

Expected<std::vector<SaFile>> read_sa_dirs(std::span<const std::string> dirs) {
  namespace fs = std::filesystem;
  std::vector<SaFile> out;
  size_t total = 0;
  for (std::string_view ext : {".pre", ".cf"}) {
    for (const std::string& dir : dirs) {
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      std::vector<fs::path> names;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ext) names.push_back(it->path());
      if (ec) return make_error(dir + ": " + ec.message());
      std::sort(names.begin(), names.end());
      for (const fs::path& p : names) {
        if (out.size() >= kMaxSaFiles)
          return make_error("more than " + std::to_string(kMaxSaFiles) + " rule files");
        std::ifstream in(p, std::ios::binary);
        if (!in) return make_error(p.string() + ": cannot open");
        std::ostringstream ss;
        ss << in.rdbuf();
        SaFile f{p.filename().string(), ss.str()};
        total += f.text.size();
        if (total > kMaxSaTextBytes)
          return make_error("rule files larger than " + std::to_string(kMaxSaTextBytes) + " bytes together");
        out.push_back(std::move(f));
      }
    }
  }
  if (out.empty()) return make_error("no .pre or .cf files in the given directories");
  return out;
}

}  // namespace mx::scan
