// common/bytes.h — byte spans and explicit big-endian loads/stores.
//
// Protocol code parses wire formats with these helpers and never by casting packed structs
// (house style). Every load takes a span and an offset; callers check the length first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

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

}  // namespace mx
