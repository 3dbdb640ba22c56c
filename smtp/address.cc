// smtp/address.cc — RFC 5321 path grammar and MAIL/RCPT parameters (see address.h).
#include "smtp/address.h"

#include <charconv>
#include <cstring>
#include <utility>

#include "common/ascii.h"
#include "common/net_types.h"
#include "smtp/smtp_limits.h"

namespace mx::smtp {
namespace {

bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_atext(unsigned char c) {
  return is_alpha(c) || is_digit(c) || (c < 0x80 && c && std::strchr("!#$%&'*+-/=?^_`{|}~", c));
}

// Length of the valid UTF-8 sequence at s[i] (2..4), or 0 if invalid (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t utf8_seq(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(k) & 0xc0) != 0x80) return 0;
  if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
  if (c == 0xed && b(1) > 0x9f) return 0;  // surrogates
  if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
  if (c == 0xf4 && b(1) > 0x8f) return 0;  // > U+10FFFF
  return n;
}

// Dot-string: Atom *("." Atom), atext (+ UTF-8 when allowed).
bool parse_dot_string(std::string_view s, bool utf8_allowed, bool& utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (s[i + 1] == '.') return false;
      ++i;
    } else if (c >= 0x80) {
      size_t n = utf8_seq(s, i);
      if (!n) return false;
      utf8 = true;
      if (!utf8_allowed) return true;  // caller reports kNeedsUtf8
      i += n;
    } else if (is_atext(c)) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

bool valid_label(std::string_view l, bool utf8_allowed, bool allow_underscore, bool& utf8) {
  if (l.empty() || l.size() > 63) return false;
  bool ascii = true;
  for (size_t i = 0; i < l.size();) {
    unsigned char c = static_cast<unsigned char>(l[i]);
    if (c >= 0x80) {
      size_t n = utf8_seq(l, i);
      if (!n || !utf8_allowed) return (utf8 = n != 0), false;
      ascii = false;
      utf8 = true;
      i += n;
      continue;
    }
    if (!(is_alpha(c) || is_digit(c) || c == '-' || (allow_underscore && c == '_'))) return false;
    ++i;
  }
  // Let-dig [Ldh-str]: no leading or trailing hyphen (for A-labels and LDH labels).
  return !ascii || (l.front() != '-' && l.back() != '-');
}

}  // namespace

bool valid_address_literal(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
  std::string_view in = d.substr(1, d.size() - 2);
  if (Ipv4Addr::parse(in)) return true;
  if (in.size() > 5 && (in.substr(0, 5) == "IPv6:" || in.substr(0, 5) == "ipv6:"))
    return Ipv6Addr::parse(in.substr(5)).has_value();
  // General-address-literal (Standardized-tag ":" 1*dcontent) names no protocol we route.
  return false;
}

bool valid_domain(std::string_view d, bool utf8_allowed, bool allow_underscore) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  if (d.front() == '[') return valid_address_literal(d);
  bool utf8 = false;
  size_t start = 0;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(label, utf8_allowed, allow_underscore, utf8)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string Mailbox::address() const {
  if (null_path) return "";
  std::string out;
  if (quoted_local) {
    out += '"';
    for (char c : local) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  } else {
    out += local;
  }
  out += '@';
  out += domain;
  return out;
}

namespace {

// A-d-l ":" (RFC 5321 4.1.2) — accepted and ignored (Appendix C): delivery is to the mailbox.
PathError skip_source_route(std::string_view& p, bool utf8_allowed, Mailbox& out) {
  size_t colon = p.find(':');
  if (colon == std::string_view::npos) return PathError::kSyntax;
  std::string_view adl = p.substr(0, colon);
  size_t start = 0;
  while (start < adl.size()) {
    size_t comma = adl.find(',', start);
    std::string_view at_domain = adl.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (at_domain.size() < 2 || at_domain[0] != '@' || !valid_domain(at_domain.substr(1), utf8_allowed))
      return PathError::kSyntax;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  out.source_route = true;
  p = p.substr(colon + 1);
  return PathError::kOk;
}

// Quoted-string local part (RFC 5321 4.1.2: QcontentSMTP); `at` is set to the '@' after it.
PathError parse_quoted_local(std::string_view p, Mailbox& out, size_t& at) {
  out.quoted_local = true;
  size_t i = 1;
  for (; i < p.size() && p[i] != '"'; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '\\') {
      if (i + 1 >= p.size() || static_cast<unsigned char>(p[i + 1]) < 32 || static_cast<unsigned char>(p[i + 1]) > 126)
        return PathError::kSyntax;
      out.local += p[++i];
    } else if (c >= 0x80) {
      size_t n = utf8_seq(p, i);
      if (!n) return PathError::kSyntax;
      out.utf8 = true;
      out.local.append(p.substr(i, n));
      i += n - 1;
    } else if (c >= 32 && c <= 126) {
      out.local += static_cast<char>(c);
    } else {
      return PathError::kSyntax;
    }
  }
  if (i >= p.size()) return PathError::kSyntax;
  at = i + 1;
  if (at >= p.size() || p[at] != '@') return PathError::kSyntax;
  if (out.local.find('@') != std::string::npos) out.routing_chars = true;
  return PathError::kOk;
}

PathError parse_domain_part(std::string_view dom, Mailbox& out) {
  if (dom.empty()) return PathError::kSyntax;
  if (dom.size() > kMaxDomain) return PathError::kTooLong;
  if (dom[0] == '[') {
    if (!valid_address_literal(dom)) return PathError::kSyntax;
    out.domain_literal = true;
  } else {
    bool utf8 = false;
    for (unsigned char c : dom) utf8 |= c >= 0x80;
    if (!valid_domain(dom, true)) return PathError::kSyntax;  // '@' in the domain fails here
    out.utf8 |= utf8;
  }
  out.domain.reserve(dom.size());
  for (char c : dom) out.domain += ascii_lower(c);
  return PathError::kOk;
}

// Finds the '>' that closes the path, outside any quoted string; CR, LF, NUL end the search.
size_t find_path_end(std::string_view s) {
  bool in_quote = false;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' || c == '\n' || c == '\0') return std::string_view::npos;
    if (in_quote && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') in_quote = !in_quote;
    else if (c == '>' && !in_quote) return i;
  }
  return std::string_view::npos;
}

}  // namespace

PathError parse_path(std::string_view s, bool allow_null, bool utf8_allowed, Mailbox& out, std::string_view& rest) {
  out = Mailbox{};
  if (s.empty() || s[0] != '<') return PathError::kSyntax;
  size_t close = find_path_end(s);
  if (close == std::string_view::npos) return PathError::kSyntax;
  if (close + 1 > kMaxPath) return PathError::kTooLong;
  std::string_view p = s.substr(1, close - 1);
  rest = s.substr(close + 1);
  if (p.empty()) {
    if (!allow_null) return PathError::kSyntax;
    out.null_path = true;
    return PathError::kOk;
  }
  if (p[0] == '@') {
    if (PathError e = skip_source_route(p, utf8_allowed, out); e != PathError::kOk) return e;
  }
  size_t at;
  if (!p.empty() && p[0] == '"') {
    if (PathError e = parse_quoted_local(p, out, at); e != PathError::kOk) return e;
  } else {
    at = p.find('@');
    if (at == std::string_view::npos) return PathError::kSyntax;
    out.local.assign(p.substr(0, at));
    bool utf8 = false;
    if (!parse_dot_string(out.local, utf8_allowed, utf8)) return PathError::kSyntax;
    out.utf8 |= utf8;
  }
  if (out.local.size() > kMaxLocalPart) return PathError::kTooLong;
  if (out.local.find_first_of("%!") != std::string::npos) out.routing_chars = true;
  if (PathError e = parse_domain_part(p.substr(at + 1), out); e != PathError::kOk) return e;
  if (out.utf8 && !utf8_allowed) return PathError::kNeedsUtf8;
  return PathError::kOk;
}

namespace {

// RFC 3461 4: xtext = *( xchar / hexchar ), xchar = %d33-42 / %d44-60 / %d62-126,
// hexchar = "+" 2(DIGIT / "A".."F").
bool valid_xtext(std::string_view s) {
  auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'); };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '+') {
      if (s.size() - i < 3 || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    }
  }
  return true;
}

// Splits " K=V K2 ..." into keyword/value pairs and calls f(keyword, value, has_value).
template <typename F>
ParamError for_each_param(std::string_view s, std::string& bad, F&& f) {
  uint32_t n = 0;
  while (!s.empty()) {
    if (s[0] != ' ') return ParamError::kSyntax;
    while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
    if (s.empty()) break;
    size_t end = s.find(' ');
    std::string_view p = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end);
    if (++n > kMaxParams) return ParamError::kSyntax;
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    bad.assign(key);
    if (key.empty() || !(is_alpha(key[0]) || is_digit(key[0]))) return ParamError::kSyntax;
    for (char c : key)
      if (!(is_alpha(c) || is_digit(c) || c == '-')) return ParamError::kSyntax;
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : p.substr(eq + 1);
    if (eq != std::string_view::npos && val.empty()) return ParamError::kSyntax;
    for (unsigned char c : val)
      if (c < 33 || c == '=' || c == 127) return ParamError::kSyntax;
    ParamError e = f(key, val, eq != std::string_view::npos);
    if (e != ParamError::kOk) return e;
  }
  return ParamError::kOk;
}

}  // namespace

ParamError parse_mail_params(std::string_view s, MailParams& out, std::string& bad) {
  bool seen_size = false, seen_body = false, seen_utf8 = false, seen_ret = false, seen_envid = false;
  return for_each_param(s, bad, [&](std::string_view k, std::string_view v, bool has_v) {
    auto once = [](bool& seen) { return std::exchange(seen, true) ? ParamError::kDuplicate : ParamError::kOk; };
    if (iequals(k, "SIZE")) {
      if (once(seen_size) != ParamError::kOk) return ParamError::kDuplicate;
      uint64_t n = 0;
      if (!has_v || v.size() > 20) return ParamError::kBadValue;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || p != v.data() + v.size()) return ParamError::kBadValue;
      out.size = n;
    } else if (iequals(k, "BODY")) {
      if (once(seen_body) != ParamError::kOk) return ParamError::kDuplicate;
      if (iequals(v, "7BIT")) out.body = Body::k7Bit;
      else if (iequals(v, "8BITMIME")) out.body = Body::k8BitMime;
      else return ParamError::kBadValue;  // BINARYMIME is not offered
    } else if (iequals(k, "SMTPUTF8")) {
      if (once(seen_utf8) != ParamError::kOk) return ParamError::kDuplicate;
      if (has_v) return ParamError::kBadValue;
      out.smtputf8 = true;
    } else if (iequals(k, "RET")) {
      if (once(seen_ret) != ParamError::kOk) return ParamError::kDuplicate;
      if (iequals(v, "FULL")) out.ret = DsnRet::kFull;
      else if (iequals(v, "HDRS")) out.ret = DsnRet::kHdrs;
      else return ParamError::kBadValue;
    } else if (iequals(k, "ENVID")) {
      if (once(seen_envid) != ParamError::kOk) return ParamError::kDuplicate;
      if (!has_v || v.size() > kMaxEnvid || !valid_xtext(v)) return ParamError::kBadValue;
      out.envid.assign(v);
    } else {
      return ParamError::kUnknown;
    }
    return ParamError::kOk;
  });
}

ParamError parse_rcpt_params(std::string_view s, RcptParams& out, std::string& bad) {
  bool seen_notify = false, seen_orcpt = false;
  return for_each_param(s, bad, [&](std::string_view k, std::string_view v, bool has_v) {
    if (iequals(k, "NOTIFY")) {
      if (std::exchange(seen_notify, true)) return ParamError::kDuplicate;
      if (!has_v) return ParamError::kBadValue;
      uint8_t n = 0;
      size_t start = 0;
      while (true) {
        size_t comma = v.find(',', start);
        std::string_view item = v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        uint8_t bit = iequals(item, "NEVER")     ? kNotifyNever
                      : iequals(item, "SUCCESS") ? kNotifySuccess
                      : iequals(item, "FAILURE") ? kNotifyFailure
                      : iequals(item, "DELAY")   ? kNotifyDelay
                                                 : 0;
        if (!bit || (n & bit)) return ParamError::kBadValue;
        n |= bit;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      if ((n & kNotifyNever) && n != kNotifyNever) return ParamError::kBadValue;  // NEVER stands alone
      out.notify = n;
    } else if (iequals(k, "ORCPT")) {
      if (std::exchange(seen_orcpt, true)) return ParamError::kDuplicate;
      size_t semi = v.find(';');
      if (!has_v || v.size() > kMaxOrcpt || semi == std::string_view::npos || semi == 0 ||
          !valid_xtext(v.substr(semi + 1)) || v.size() == semi + 1)
        return ParamError::kBadValue;
      for (char c : v.substr(0, semi))
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return ParamError::kBadValue;
      out.orcpt.assign(v);
    } else {
      return ParamError::kUnknown;
    }
    return ParamError::kOk;
  });
}

}  // namespace mx::smtp
