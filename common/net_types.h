// common/net_types.h — MAC, IPv4 and IPv6 address types with strict text parsing.
//
// SECURITY: the parsers take untrusted text (configuration, later the API); they accept only
// the canonical forms described next to each function and never read past the input.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace mx {

struct MacAddr {
  std::array<uint8_t, 6> b{};
  auto operator<=>(const MacAddr&) const = default;
  bool is_broadcast() const noexcept;
  bool is_multicast() const noexcept { return (b[0] & 1u) != 0; }
  bool is_zero() const noexcept;
  static MacAddr from_bytes(const uint8_t* p) noexcept;
  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  std::string to_string() const;
  // "aa:bb:cc:dd:ee:ff" (hex digits, either case).
  static std::optional<MacAddr> parse(std::string_view s);
};

// Host byte order inside; loads and stores convert explicitly.
struct Ipv4Addr {
  uint32_t v{0};
  auto operator<=>(const Ipv4Addr&) const = default;
  static Ipv4Addr load(const uint8_t* p) noexcept { return Ipv4Addr{load_be32(p)}; }
  void store(uint8_t* p) const noexcept { store_be32(p, v); }
  bool is_multicast() const noexcept { return (v >> 28) == 0xe; }
  bool is_limited_broadcast() const noexcept { return v == 0xffffffffu; }
  bool is_zero() const noexcept { return v == 0; }
  bool is_loopback() const noexcept { return (v >> 24) == 127; }
  std::string to_string() const;
  // Dotted quad, four decimal octets 0..255, no leading zeros beyond "0", nothing else.
  static std::optional<Ipv4Addr> parse(std::string_view s);
};

struct Ipv6Addr {
  std::array<uint8_t, 16> b{};
  auto operator<=>(const Ipv6Addr&) const = default;
  std::string to_string() const;
  // RFC 4291 section 2.2 text forms, including "::" and a trailing dotted quad.
  static std::optional<Ipv6Addr> parse(std::string_view s);
};

struct Ipv4Prefix {
  Ipv4Addr addr;
  uint8_t len{32};
  uint32_t mask() const noexcept { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  bool contains(Ipv4Addr a) const noexcept { return (a.v & mask()) == (addr.v & mask()); }
  Ipv4Addr directed_broadcast() const noexcept { return Ipv4Addr{addr.v | ~mask()}; }
  // "a.b.c.d/len", len 0..32.
  static std::optional<Ipv4Prefix> parse(std::string_view s);
};

struct Ipv6Prefix {
  Ipv6Addr addr;
  uint8_t len{128};
  // "x::y/len", len 0..128.
  static std::optional<Ipv6Prefix> parse(std::string_view s);
};

}  // namespace mx
