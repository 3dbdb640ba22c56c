// common/bytes.h — byte spans and explicit big-endian loads/stores.
//
// Protocol code parses wire formats with these helpers and never by casting packed structs
// (house style). Every load takes a span and an offset; callers check the length first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace mx {

using ByteSpan = std::span<const uint8_t>;
using MutByteSpan = std::span<uint8_t>;

inline uint16_t load_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// A byte sequence made of a few ranges read one after the other: a stored message with header
// lines added or left out, without copying it. The ranges are borrowed: they must outlive every
// reader. Implicitly made from one span.
class ByteParts {
 public:
  ByteParts() = default;
  ByteParts(ByteSpan whole) { add(whole); }  // NOLINT(google-explicit-constructor): one range
  void add(ByteSpan s) {
    if (s.empty()) return;
    parts_.push_back(s);
    size_ += s.size();
  }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const std::vector<ByteSpan>& parts() const noexcept { return parts_; }
  // The byte at `i` (i < size()); linear in the number of parts (a handful).
  uint8_t at(size_t i) const noexcept {
    for (const ByteSpan& p : parts_) {
      if (i < p.size()) return p[i];
      i -= p.size();
    }
    return 0;
  }
  // Calls f(ByteSpan) for the bytes [pos, pos + len), part by part.
  template <class F>
  void for_range(size_t pos, size_t len, F&& f) const {
    for (const ByteSpan& p : parts_) {
      if (len == 0) return;
      if (pos >= p.size()) {
        pos -= p.size();
        continue;
      }
      const size_t n = p.size() - pos < len ? p.size() - pos : len;
      f(p.subspan(pos, n));
      len -= n;
      pos = 0;
    }
  }

 private:
  std::vector<ByteSpan> parts_;
  size_t size_ = 0;
};

}  // namespace mx
