// scan/encoded_word.cc — the RFC 2047 word scanner, B and Q decoding, charset conversion.
#include "scan/encoded_word.h"

#include <cstring>

#include "scan/base64.h"
#include "scan/charset.h"
#include "scan/mime_types.h"

namespace mx::scan {
namespace {

struct Word {
  std::string_view charset;  // without an RFC 2231 "*lang" suffix
  char encoding;             // 'b' or 'q'
  std::string_view text;
  size_t end;                // index after "?="
};

// Parses an encoded word at in[j] (which starts with "=?"); false when it is not one.
bool parse_word(std::string_view in, size_t j, Word& w) {
  size_t q1 = in.find('?', j + 2);
  if (q1 == std::string_view::npos || q1 == j + 2 || q1 + 3 >= in.size()) return false;
  w.charset = in.substr(j + 2, q1 - j - 2);
  if (size_t star = w.charset.find('*'); star != std::string_view::npos) w.charset = w.charset.substr(0, star);
  if (w.charset.size() > kMaxCharsetLength) return false;
  for (char c : w.charset)
    if (c == ' ' || c == '\t' || c == '=') return false;
  char e = in[q1 + 1];
  if (in[q1 + 2] != '?') return false;
  if (e == 'B' || e == 'b') w.encoding = 'b';
  else if (e == 'Q' || e == 'q') w.encoding = 'q';
  else return false;
  size_t t = q1 + 3;
  size_t q2 = in.find('?', t);
  if (q2 == std::string_view::npos || q2 + 1 >= in.size() || in[q2 + 1] != '=') return false;
  w.text = in.substr(t, q2 - t);
  for (char c : w.text)
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
  w.end = q2 + 2;
  return true;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2047 4.2: "_" is a space, "=XX" a byte, anything else itself.
size_t decode_q(std::string_view t, uint8_t* out, uint64_t& flags) {
  size_t o = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '_') {
      out[o++] = ' ';
    } else if (c == '=' && i + 2 < t.size() && hex_value(t[i + 1]) >= 0 && hex_value(t[i + 2]) >= 0) {
      out[o++] = static_cast<uint8_t>(hex_value(t[i + 1]) << 4 | hex_value(t[i + 2]));
      i += 2;
    } else {
      if (c == '=') flags |= kEncodedWordInvalid;
      out[o++] = static_cast<uint8_t>(c);
    }
  }
  return o;
}

size_t decode_b(std::string_view t, uint8_t* out, uint64_t& flags) {
  Base64Decoder d(Base64Impl::kScalar);
  size_t o = d.decode(ByteSpan(reinterpret_cast<const uint8_t*>(t.data()), t.size()), out);
  o += d.finish(out + o);
  if (d.flags()) flags |= kEncodedWordInvalid;
  return o;
}

// Decoded bytes of adjacent words in one charset, converted together.
class Pending {
 public:
  Pending(IconvCache* cache, char* out, size_t cap, size_t& len) : cache_(cache), out_(out), cap_(cap), len_(len) {}
  void add(const Word& w, uint64_t& flags) {
    if (n_ && !same_charset(w.charset)) flush(flags);
    charset_ = w.charset;
    uint8_t* dst = buf_ + n_;
    if (w.text.size() + n_ > sizeof(buf_) - 8) {
      flags |= kHeaderTruncated;
      return;
    }
    n_ += w.encoding == 'b' ? decode_b(w.text, dst, flags) : decode_q(w.text, dst, flags);
  }
  void flush(uint64_t& flags) {
    if (!n_) return;
    flags |= convert_to_utf8(charset_, ByteSpan(buf_, n_), cache_, out_, cap_, len_);
    n_ = 0;
  }

 private:
  bool same_charset(std::string_view cs) const {
    if (cs.size() != charset_.size()) return false;
    for (size_t i = 0; i < cs.size(); ++i)
      if ((cs[i] | 0x20) != (charset_[i] | 0x20)) return false;
    return true;
  }
  IconvCache* cache_;
  char* out_;
  size_t cap_;
  size_t& len_;
  std::string_view charset_;
  uint8_t buf_[kMaxHeaderField + 16];
  size_t n_ = 0;
};

void copy_text(std::string_view s, char* out, size_t cap, size_t& len, uint64_t& flags) {
  size_t n = s.size() < cap - len ? s.size() : cap - len;
  std::memcpy(out + len, s.data(), n);
  len += n;
  if (n < s.size()) flags |= kHeaderTruncated;
}

bool all_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

}  // namespace

EncodedWordResult decode_encoded_words(std::string_view in, IconvCache* cache, char* out, size_t cap, size_t& len) {
  EncodedWordResult r;
  len = 0;
  Pending pending(cache, out, cap, len);
  size_t i = 0;
  bool after_word = false;
  while (i < in.size()) {
    size_t j = in.find("=?", i);
    Word w;
    while (j != std::string_view::npos && !parse_word(in, j, w)) {
      // "=?" that starts no word is literal text; flagged when a "?=" follows (a broken word).
      if (in.find("?=", j + 2) != std::string_view::npos) r.flags |= kEncodedWordInvalid;
      j = in.find("=?", j + 2);
    }
    if (j == std::string_view::npos) break;
    std::string_view between = in.substr(i, j - i);
    if (!(after_word && all_blank(between))) {  // RFC 2047 6.2
      pending.flush(r.flags);
      copy_text(between, out, cap, len, r.flags);
    }
    pending.add(w, r.flags);
    r.decoded = true;
    after_word = true;
    i = w.end;
  }
  pending.flush(r.flags);
  if (i < in.size()) copy_text(in.substr(i), out, cap, len, r.flags);
  return r;
}

}  // namespace mx::scan
