// scan/mime_header.cc — the parameter list scanner and RFC 2231 assembly.
#include "scan/mime_header.h"

#include <cstring>

#include "common/bytes.h"
#include "scan/charset.h"
#include "scan/mime_types.h"

namespace mx::scan {
namespace {

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 3.2.2: skips whitespace and (nested) comments.
size_t skip_cfws(std::string_view v, size_t i) {
  while (i < v.size()) {
    if (is_ws(v[i])) {
      ++i;
    } else if (v[i] == '(') {
      int depth = 0;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\') ++i;
        else if (v[i] == '(') ++depth;
        else if (v[i] == ')' && --depth == 0) break;
      }
      ++i;
    } else {
      break;
    }
  }
  return i < v.size() ? i : v.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string_view ParsedHeader::store(std::string_view s, bool lower) {
  size_t n = s.size() < sizeof(arena_) - used_ ? s.size() : sizeof(arena_) - used_;
  char* dst = arena_ + used_;
  for (size_t i = 0; i < n; ++i)
    dst[i] = (lower && s[i] >= 'A' && s[i] <= 'Z') ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
  used_ += n;
  return {dst, n};
}

void ParsedHeader::parse(std::string_view v) {
  used_ = 0;
  n_ = 0;
  flags_ = 0;
  size_t i = skip_cfws(v, 0);
  size_t start = i;
  while (i < v.size() && v[i] != ';' && !is_ws(v[i]) && v[i] != '(') ++i;
  value_ = store(v.substr(start, i - start), true);
  while (i < v.size()) {
    i = skip_cfws(v, i);
    if (i < v.size() && v[i] == ';') {
      ++i;
      continue;
    }
    if (i < v.size()) i = parse_param(v, i);
  }
}

// One "name[*N][*]=value" at v[i]; returns the index after it.
size_t ParsedHeader::parse_param(std::string_view v, size_t i) {
  size_t start = i;
  while (i < v.size() && v[i] != '=' && v[i] != ';') ++i;
  std::string_view name = trim(v.substr(start, i - start));
  if (i >= v.size() || v[i] != '=') return i;  // a word without '=': ignored
  i = skip_cfws(v, i + 1);
  HeaderParam p;
  if (i < v.size() && v[i] == '"') {  // RFC 5322 3.2.4 quoted-string
    char* dst = arena_ + used_;
    size_t n = 0, room = sizeof(arena_) - used_;
    bool closed = false;
    for (++i; i < v.size(); ++i) {
      char c = v[i];
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c == '\\' && i + 1 < v.size()) c = v[++i];
      if (n < room) dst[n++] = c;
    }
    if (!closed) flags_ |= kMalformedHeader;
    used_ += n;
    p.value = {dst, n};
    while (i < v.size() && v[i] != ';') ++i;  // anything after the closing quote is dropped
  } else {
    size_t vs = i;
    while (i < v.size() && v[i] != ';') ++i;
    p.value = store(trim(v.substr(vs, i - vs)), false);
  }
  // RFC 2231: name*N*, name*N, name*
  if (!name.empty() && name.back() == '*') {
    p.extended = true;
    name.remove_suffix(1);
  }
  if (size_t star = name.find('*'); star != std::string_view::npos) {
    int section = 0;
    bool digits = star + 1 < name.size() && name.size() - star <= 4;
    for (size_t k = star + 1; k < name.size() && digits; ++k) {
      if (name[k] < '0' || name[k] > '9') digits = false;
      else section = section * 10 + (name[k] - '0');
    }
    if (digits) {
      p.section = section;
      name = name.substr(0, star);
    }
  }
  p.name = store(name, true);
  if (n_ < kMaxParams) params_[n_++] = p;
  else flags_ |= kCandidateLimit;
  return i;
}

namespace {

// %XX decoding of an extended value (RFC 2231 4), appended to buf.
void percent_decode(std::string_view s, uint8_t* buf, size_t cap, size_t& len, uint64_t& flags) {
  for (size_t i = 0; i < s.size() && len < cap; ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      buf[len++] = static_cast<uint8_t>(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
      i += 2;
    } else {
      if (s[i] == '%') flags |= kRfc2231Invalid;
      buf[len++] = static_cast<uint8_t>(s[i]);
    }
  }
}

// Joins the RFC 2231 sections of `name` into buf; sets charset (from section 0's
// charset'lang' prefix). False when the parameter has no RFC 2231 form.
bool join_sections(const ParsedHeader& h, std::string_view name, uint8_t* buf, size_t cap, size_t& len,
                   std::string_view& charset, uint64_t& flags) {
  const HeaderParam* sections[kMaxRfc2231Sections] = {};
  const HeaderParam* single = nullptr;
  bool any = false;
  for (const HeaderParam& p : h.params()) {
    if (p.name != name || (p.section < 0 && !p.extended)) continue;
    any = true;
    if (p.section < 0) {
      if (single) flags |= kRfc2231Invalid;
      else single = &p;
    } else if (static_cast<size_t>(p.section) >= kMaxRfc2231Sections) {
      flags |= kRfc2231Invalid | kCandidateLimit;
    } else if (sections[p.section]) {
      flags |= kRfc2231Invalid;  // a repeated section: the first one is used
    } else {
      sections[p.section] = &p;
    }
  }
  if (!any) return false;
  len = 0;
  bool seen_gap = false;
  for (size_t k = 0; k < kMaxRfc2231Sections; ++k) {
    const HeaderParam* p = k == 0 && !sections[0] ? single : sections[k];
    if (!p) {
      seen_gap = true;
      continue;
    }
    if (seen_gap) flags |= kRfc2231Invalid;  // a missing section: the present ones are joined
    std::string_view val = p->value;
    if (k == 0 && p->extended) {  // charset'lang'value
      size_t q1 = val.find('\'');
      size_t q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
      if (q2 == std::string_view::npos) {
        flags |= kRfc2231Invalid;
      } else {
        charset = val.substr(0, q1);
        val = val.substr(q2 + 1);
      }
    }
    if (p->extended) percent_decode(val, buf, cap, len, flags);
    else for (size_t i = 0; i < val.size() && len < cap; ++i) buf[len++] = static_cast<uint8_t>(val[i]);
  }
  if (!sections[0] && !single) flags |= kRfc2231Invalid;
  return true;
}

}  // namespace

size_t param_values(const ParsedHeader& h, std::string_view name, IconvCache* cache, ParamValue* out, size_t max,
                    char* scratch, size_t scratch_cap, uint64_t& flags) {
  size_t n = 0;
  for (const HeaderParam& p : h.params()) {
    if (p.name != name || p.section >= 0 || p.extended) continue;
    if (n == max) {
      flags |= kCandidateLimit;
      return n;
    }
    out[n++] = {p.value, ParamForm::kPlain};
  }
  uint8_t joined[kMaxHeaderField];
  size_t jlen = 0;
  std::string_view charset;
  if (!join_sections(h, name, joined, sizeof(joined), jlen, charset, flags)) return n;
  if (n == max) {
    flags |= kCandidateLimit;
    return n;
  }
  size_t len = 0;
  flags |= convert_to_utf8(charset, ByteSpan(joined, jlen), cache, scratch, scratch_cap, len) &
           (kInvalidCharset | kUnknownCharset);
  out[n++] = {std::string_view(scratch, len), ParamForm::kRfc2231};
  const HeaderParam* first = nullptr;
  bool more = false;
  for (const HeaderParam& p : h.params()) {
    if (p.name != name || p.section < 0) continue;
    if (p.section == 0 && !first) first = &p;
    else more = true;
  }
  if (first && more) {
    if (n == max) {
      flags |= kCandidateLimit;
      return n;
    }
    out[n++] = {first->value, ParamForm::kRfc2231First};
  }
  return n;
}

}  // namespace mx::scan
