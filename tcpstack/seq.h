// tcpstack/seq.h — TCP sequence numbers: 32-bit modular arithmetic (RFC 9293 3.4).
//
// Comparisons are valid for values less than 2^31 apart, which the window rules guarantee.
// Mixing a sequence number with a plain integer needs an explicit SeqNum or a length.
#pragma once

#include <cstdint>

namespace mx::net {

struct SeqNum {
  uint32_t v{0};
  constexpr SeqNum() = default;
  constexpr explicit SeqNum(uint32_t x) : v(x) {}
  friend constexpr bool operator==(SeqNum a, SeqNum b) { return a.v == b.v; }
  friend constexpr bool operator!=(SeqNum a, SeqNum b) { return a.v != b.v; }
  // a < b in sequence space.
  friend constexpr bool seq_lt(SeqNum a, SeqNum b) { return static_cast<int32_t>(a.v - b.v) < 0; }
  friend constexpr bool seq_le(SeqNum a, SeqNum b) { return static_cast<int32_t>(a.v - b.v) <= 0; }
  friend constexpr bool seq_gt(SeqNum a, SeqNum b) { return static_cast<int32_t>(a.v - b.v) > 0; }
  friend constexpr bool seq_ge(SeqNum a, SeqNum b) { return static_cast<int32_t>(a.v - b.v) >= 0; }
  constexpr SeqNum operator+(uint32_t n) const { return SeqNum(v + n); }
  constexpr SeqNum operator-(uint32_t n) const { return SeqNum(v - n); }
  // Distance from b forward to a (a - b), for a at or after b.
  friend constexpr uint32_t seq_diff(SeqNum a, SeqNum b) { return a.v - b.v; }
};

// start <= s < start + len, in sequence space (RFC 9293 3.10.7.4 acceptability tests).
constexpr bool seq_in_window(SeqNum s, SeqNum start, uint32_t len) { return seq_diff(s, start) < len; }

}  // namespace mx::net
