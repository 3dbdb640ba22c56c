// ipc/json.cc — the bounded JSON reader (ipc/json.h): recursive descent, the depth checked
// before each descent, the value count before each value.
#include "ipc/json.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "common/utf8.h"

namespace mx::ipc {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The length of the valid UTF-8 sequence that starts at s[i] (a byte >= 0x80), or 0. RFC 3629
// section 4: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, not
// truncated by the end of s.
size_t utf8_sequence(std::string_view s, size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c == 0xe0) {
    len = 3, lo = 0xa0;
  } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
    len = 3;
  } else if (c == 0xed) {
    len = 3, hi = 0x9f;
  } else if (c == 0xf0) {
    len = 4, lo = 0x90;
  } else if (c >= 0xf1 && c <= 0xf3) {
    len = 4;
  } else if (c == 0xf4) {
    len = 4, hi = 0x8f;
  } else {
    return 0;  // 0x80..0xc1 (continuation or overlong lead), 0xf5..0xff
  }
  if (s.size() - i < len) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : t_(text) {}

  bool document(JsonValue& out) {
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    if (pos_ != t_.size()) return fail(pos_, "unexpected data after the value");
    return true;
  }

  bool fail(size_t at, std::string_view reason) {
    error_ = "offset " + std::to_string(at) + ": ";
    error_ += reason;
    return false;
  }

  std::string& error() { return error_; }

 private:
  bool at(char c) const noexcept { return pos_ < t_.size() && t_[pos_] == c; }
  bool at_digit() const noexcept { return pos_ < t_.size() && is_digit(t_[pos_]); }

  // RFC 8259 2: ws = *( %x20 / %x09 / %x0A / %x0D )
  void skip_ws() noexcept {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) ++pos_;
  }

  // `depth`: the arrays and objects that enclose this value.
  bool value(JsonValue& out, size_t depth) {
    if (pos_ >= t_.size()) return fail(pos_, "expected a value");
    if (++items_ > kMaxJsonItems) return fail(pos_, "more than " + std::to_string(kMaxJsonItems) + " values");
    switch (t_[pos_]) {
      case '{':
      case '[':
        if (depth >= kMaxJsonDepth) return fail(pos_, "nesting deeper than " + std::to_string(kMaxJsonDepth));
        return t_[pos_] == '{' ? object(out, depth + 1) : array(out, depth + 1);
      case '"':
        out.kind = JsonValue::Kind::kString;
        return string(out.str);
      case 't':
        out.kind = JsonValue::Kind::kBool;
        out.b = true;
        return literal("true");
      case 'f':
        out.kind = JsonValue::Kind::kBool;
        return literal("false");
      case 'n':
        return literal("null");
      default:
        if (t_.substr(pos_).starts_with("NaN") || t_.substr(pos_).starts_with("Infinity"))
          return fail(pos_, "NaN and Infinity are not JSON");
        if (t_[pos_] == '-' || is_digit(t_[pos_])) return number(out);
        return fail(pos_, "expected a value");
    }
  }

  bool literal(std::string_view word) {
    if (t_.substr(pos_, word.size()) != word) return fail(pos_, "invalid literal");
    pos_ += word.size();
    return true;
  }

  bool array(JsonValue& out, size_t depth) {
    out.kind = JsonValue::Kind::kArray;
    ++pos_;
    skip_ws();
    if (at(']')) {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      out.items.emplace_back();
      if (!value(out.items.back(), depth)) return false;
      skip_ws();
      if (at(',')) {
        ++pos_;
      } else if (at(']')) {
        ++pos_;
        return true;
      } else {
        return fail(pos_, "expected ',' or ']'");
      }
    }
  }

  bool object(JsonValue& out, size_t depth) {
    out.kind = JsonValue::Kind::kObject;
    ++pos_;
    skip_ws();
    if (at('}')) {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (!at('"')) return fail(pos_, "expected a member name (a string)");
      auto& m = out.members.emplace_back();  // stays valid: only m.second's subtree grows below
      if (!string(m.first)) return false;
      skip_ws();
      if (!at(':')) return fail(pos_, "expected ':'");
      ++pos_;
      skip_ws();
      if (!value(m.second, depth)) return false;
      skip_ws();
      if (at(',')) {
        ++pos_;
      } else if (at('}')) {
        ++pos_;
        return true;
      } else {
        return fail(pos_, "expected ',' or '}'");
      }
    }
  }

  // RFC 8259 7. At the opening quote.
  bool string(std::string& out) {
    const size_t start = pos_++;
    for (;;) {
      if (pos_ >= t_.size()) return fail(start, "unterminated string");
      const auto c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x20) {
        return fail(pos_, "raw control character in string");
      } else if (c < 0x80) {
        size_t end = pos_ + 1;  // the run of plain ASCII
        while (end < t_.size()) {
          const auto d = static_cast<unsigned char>(t_[end]);
          if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
          ++end;
        }
        out.append(t_.substr(pos_, end - pos_));
        pos_ = end;
      } else {
        const size_t len = utf8_sequence(t_, pos_);
        if (len == 0) return fail(pos_, "invalid UTF-8 in string");
        out.append(t_.substr(pos_, len));
        pos_ += len;
      }
    }
  }

  // Four hex digits at t_[p..p+4).
  bool hex4(size_t p, uint32_t& cp) const noexcept {
    if (p > t_.size() || t_.size() - p < 4) return false;
    cp = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int h = hex_value(t_[p + k]);
      if (h < 0) return false;
      cp = cp << 4 | static_cast<uint32_t>(h);
    }
    return true;
  }

  // At the backslash.
  bool escape(std::string& out) {
    const size_t start = pos_;
    if (pos_ + 1 >= t_.size()) return fail(start, "unterminated escape");
    const char e = t_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '"': out += '"'; return true;
      case '\\': out += '\\'; return true;
      case '/': out += '/'; return true;
      case 'b': out += '\b'; return true;
      case 'f': out += '\f'; return true;
      case 'n': out += '\n'; return true;
      case 'r': out += '\r'; return true;
      case 't': out += '\t'; return true;
      case 'u': break;
      default: return fail(start, "invalid escape");
    }
    uint32_t cp = 0;
    if (!hex4(pos_, cp)) return fail(start, "invalid \\u escape (four hex digits expected)");
    pos_ += 4;
    if (cp >= 0xd800 && cp <= 0xdbff) {  // a high surrogate: a low one must follow (RFC 8259 7)
      uint32_t low = 0;
      if (!(at('\\') && pos_ + 1 < t_.size() && t_[pos_ + 1] == 'u' && hex4(pos_ + 2, low) && low >= 0xdc00 &&
            low <= 0xdfff))
        return fail(start, "unpaired surrogate");
      pos_ += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      return fail(start, "unpaired surrogate");
    }
    append_utf8(out, cp);
    return true;
  }

  // RFC 8259 6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ).
  bool number(JsonValue& out) {
    const size_t start = pos_;
    const bool negative = at('-');
    if (negative) ++pos_;
    if (!at_digit()) {
      if (t_.substr(pos_).starts_with("Infinity")) return fail(start, "NaN and Infinity are not JSON");
      return fail(pos_, "expected a digit after '-'");
    }
    const size_t int_start = pos_;
    if (t_[pos_] == '0') {
      ++pos_;
      if (at_digit()) return fail(int_start, "leading zero in number");
    } else {
      while (at_digit()) ++pos_;
    }
    const size_t int_end = pos_;
    bool integral = true;
    size_t frac_start = pos_, frac_end = pos_;
    if (at('.')) {
      integral = false;
      ++pos_;
      if (!at_digit()) return fail(pos_, "expected a digit after '.'");
      frac_start = pos_;
      while (at_digit()) ++pos_;
      frac_end = pos_;
    }
    int64_t exponent = 0;  // saturates near 1e9: only its sign and rough size matter below
    if (at('e') || at('E')) {
      integral = false;
      ++pos_;
      bool exp_negative = false;
      if (at('+') || at('-')) exp_negative = t_[pos_++] == '-';
      if (!at_digit()) return fail(pos_, "expected a digit in the exponent");
      while (at_digit()) {
        if (exponent < 100'000'000) exponent = exponent * 10 + (t_[pos_] - '0');
        ++pos_;
      }
      if (exp_negative) exponent = -exponent;
    }
    const char* first = t_.data() + start;
    const char* last = t_.data() + pos_;
    out.kind = JsonValue::Kind::kNumber;
    if (integral) {
      int64_t v = 0;
      const auto r = std::from_chars(first, last, v);
      if (r.ec == std::errc{} && r.ptr == last) {
        out.is_int = true;
        out.i = v;
      }
    }
    double d = 0;
    const auto r = std::from_chars(first, last, d, std::chars_format::general);
    if (r.ec == std::errc::result_out_of_range) {
      // Too large (refused) or too small (rounds to zero, kept)? The decimal magnitude tells:
      // the value lies within a factor of ten of 10^(lead + exponent - 1).
      const bool int_zero = int_end - int_start == 1 && t_[int_start] == '0';
      size_t z = frac_start;
      while (int_zero && z < frac_end && t_[z] == '0') ++z;
      const bool zero = int_zero && z == frac_end;
      const int64_t lead =
          int_zero ? -static_cast<int64_t>(z - frac_start) : static_cast<int64_t>(int_end - int_start);
      if (!zero && lead + exponent > 0) return fail(start, "number out of range");
      d = negative ? -0.0 : 0.0;
    } else if (r.ec != std::errc{} || r.ptr != last) {
      return fail(start, "invalid number");
    }
    if (!std::isfinite(d)) return fail(start, "number out of range");
    out.num = d;
    return true;
  }

  std::string_view t_;
  size_t pos_ = 0;
  size_t items_ = 0;
  std::string error_;
};

}  // namespace

JsonValue::JsonValue() = default;
JsonValue::JsonValue(const JsonValue&) = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(const JsonValue&) = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;
JsonValue::~JsonValue() = default;

const JsonValue* JsonValue::get(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view JsonValue::get_str(std::string_view key, std::string_view fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::kString ? std::string_view(v->str) : fallback;
}

int64_t JsonValue::get_int(std::string_view key, int64_t fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::kNumber && v->is_int ? v->i : fallback;
}

bool JsonValue::get_bool(std::string_view key, bool fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::kBool ? v->b : fallback;
}

Expected<JsonValue> parse_json(std::string_view text, size_t max_bytes) {
  Parser p(text);
  if (text.size() > max_bytes) {
    p.fail(max_bytes, "document longer than " + std::to_string(max_bytes) + " bytes");
    return make_error(std::move(p.error()));
  }
  JsonValue v;
  if (!p.document(v)) return make_error(std::move(p.error()));
  return v;
}

}  // namespace mx::ipc
