// scan/qp.cc — the quoted-printable state machine, with a copy loop for plain runs.
#include "scan/qp.h"

#include <cstring>

#include "scan/mime_types.h"

namespace mx::scan {
namespace {

inline int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
inline bool is_blank(uint8_t c) { return c == ' ' || c == '\t'; }
inline bool is_plain(uint8_t c) { return c != '=' && c != ' ' && c != '\t' && c != '\r' && c != '\n'; }

}  // namespace

size_t QpDecoder::flush_held(uint8_t* out) noexcept {
  size_t n = held_;
  std::memcpy(out, held_bytes_, n);
  held_ = 0;
  return n;
}

size_t QpDecoder::step(uint8_t c, uint8_t* out) noexcept {
  size_t o = 0;
  switch (state_) {
    case kText:
      if (is_blank(c)) {
        if (held_ == kMaxHeldSpace) o += flush_held(out);
        held_bytes_[held_++] = c;
      } else if (c == '\r' || c == '\n') {
        held_ = 0;  // 6.7(3): trailing blanks of an encoded line are transport padding
        out[o++] = c;
      } else {
        o += flush_held(out);
        if (c == '=') state_ = kEq;
        else out[o++] = c;
      }
      return o;
    case kEq:
      if (hex_value(c) >= 0) {
        hex1_ = c;
        state_ = kEqHex;
      } else if (c == '\r') {
        state_ = kEqCr;
      } else if (c == '\n') {
        state_ = kText;  // soft line break with a bare LF
      } else if (is_blank(c)) {
        held_bytes_[held_++] = c;
        state_ = kEqSpace;
      } else {
        flags_ |= kInvalidQp;  // "=" kept literally, c read again as text
        out[o++] = '=';
        state_ = kText;
        o += step(c, out + o);
      }
      return o;
    case kEqHex:
      state_ = kText;
      if (hex_value(c) >= 0) {
        out[o++] = static_cast<uint8_t>(hex_value(hex1_) << 4 | hex_value(c));
        return o;
      }
      flags_ |= kInvalidQp;
      out[o++] = '=';
      out[o++] = hex1_;
      return o + step(c, out + o);
    case kEqSpace:
      if (is_blank(c) && held_ < kMaxHeldSpace) {
        held_bytes_[held_++] = c;
      } else if (c == '\r') {
        held_ = 0;
        state_ = kEqCr;
      } else if (c == '\n') {
        held_ = 0;
        state_ = kText;
      } else {
        flags_ |= kInvalidQp;  // "=" and blanks not before a line end: all kept
        out[o++] = '=';
        o += flush_held(out + o);
        state_ = kText;
        o += step(c, out + o);
      }
      return o;
    case kEqCr:
      state_ = kText;
      if (c == '\n') return 0;  // "=" CRLF: soft line break
      flags_ |= kInvalidQp;     // "=" CR alone: read as a soft break, c read again
      return step(c, out);
  }
  return o;
}

size_t QpDecoder::decode(ByteSpan in, uint8_t* out) noexcept {
  const uint8_t* p = in.data();
  const size_t n = in.size();
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (state_ == kText && held_ == 0 && is_plain(p[i])) {
      size_t j = i + 1;
      while (j < n && is_plain(p[j])) ++j;
      std::memcpy(out + o, p + i, j - i);
      o += j - i;
      i = j;
      continue;
    }
    o += step(p[i++], out + o);
  }
  return o;
}

size_t QpDecoder::finish(uint8_t* out) noexcept {
  size_t o = 0;
  if (state_ == kEq) {
    flags_ |= kInvalidQp;
    out[o++] = '=';
  } else if (state_ == kEqHex) {
    flags_ |= kInvalidQp;
    out[o++] = '=';
    out[o++] = hex1_;
  }
  // Blanks held at the end (trailing) and "=" + blanks at the end (a soft break) emit nothing.
  state_ = kText;
  held_ = 0;
  return o;
}

}  // namespace mx::scan
