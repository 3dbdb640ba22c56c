// common/net_types.cc — text forms of MAC and IP addresses.
#include "common/net_types.h"

#include <charconv>
#include <cstdio>

namespace mx {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a decimal prefix length after the last '/', 0..max.
std::optional<uint8_t> parse_prefix_len(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
  return static_cast<uint8_t>(v);
}

// Parses one 16-bit IPv6 group of 1..4 hex digits.
std::optional<uint16_t> parse_group(std::string_view g) {
  if (g.empty() || g.size() > 4) return std::nullopt;
  unsigned v = 0;
  for (char c : g) {
    int h = hex_value(c);
    if (h < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(h);
  }
  return static_cast<uint16_t>(v);
}

// Splits one side of "::" into groups; the last may be a dotted quad when allow_v4.
bool parse_groups(std::string_view s, bool allow_v4, uint16_t* out, size_t& n, size_t max) {
  n = 0;
  if (s.empty()) return true;
  while (true) {
    size_t colon = s.find(':');
    std::string_view g = s.substr(0, colon);
    if (colon == std::string_view::npos && allow_v4 && g.find('.') != std::string_view::npos) {
      auto v4 = Ipv4Addr::parse(g);
      if (!v4 || n + 2 > max) return false;
      out[n++] = static_cast<uint16_t>(v4->v >> 16);
      out[n++] = static_cast<uint16_t>(v4->v);
      return true;
    }
    auto v = parse_group(g);
    if (!v || n + 1 > max) return false;
    out[n++] = *v;
    if (colon == std::string_view::npos) return true;
    s.remove_prefix(colon + 1);
  }
}

}  // namespace

bool MacAddr::is_broadcast() const noexcept { return *this == broadcast(); }
bool MacAddr::is_zero() const noexcept { return *this == MacAddr{}; }

MacAddr MacAddr::from_bytes(const uint8_t* p) noexcept {
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) m.b[i] = p[i];
  return m;
}

std::string MacAddr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

std::optional<MacAddr> MacAddr::parse(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) {
    int hi = hex_value(s[i * 3]);
    int lo = hex_value(s[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    m.b[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string Ipv4Addr::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
                v & 0xff);
  return buf;
}

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    if (i < 3 && dot == std::string_view::npos) return std::nullopt;
    if (i == 3 && dot != std::string_view::npos) return std::nullopt;
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return std::nullopt;
    unsigned o = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), o);
    if (ec != std::errc{} || p != part.data() + part.size() || o > 255) return std::nullopt;
    v = (v << 8) | o;
    if (i < 3) s.remove_prefix(dot + 1);
  }
  return Ipv4Addr{v};
}

std::string Ipv6Addr::to_string() const {
  // RFC 5952: lowercase, longest run (>1) of zero groups compressed, leftmost on ties.
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((b[i * 2] << 8) | b[i * 2 + 1]);
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) { best = i; best_len = j - i; }
    i = (j == i) ? i + 1 : j;
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    out += buf;
  }
  return out;
}

std::optional<Ipv6Addr> Ipv6Addr::parse(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  uint16_t head[8], tail[8];
  size_t nh = 0, nt = 0;
  size_t dc = s.find("::");
  if (dc == std::string_view::npos) {
    if (!parse_groups(s, true, head, nh, 8) || nh != 8) return std::nullopt;
  } else {
    if (s.find("::", dc + 1) != std::string_view::npos) return std::nullopt;
    std::string_view l = s.substr(0, dc), r = s.substr(dc + 2);
    if (!parse_groups(l, false, head, nh, 7)) return std::nullopt;
    if (!parse_groups(r, true, tail, nt, 7)) return std::nullopt;
    if (nh + nt > 7) return std::nullopt;
  }
  Ipv6Addr a;
  for (size_t i = 0; i < nh; ++i) store_be16(&a.b[i * 2], head[i]);
  for (size_t i = 0; i < nt; ++i) store_be16(&a.b[(8 - nt + i) * 2], tail[i]);
  return a;
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view s) {
  size_t slash = s.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto a = Ipv4Addr::parse(s.substr(0, slash));
  auto l = parse_prefix_len(s.substr(slash + 1), 32);
  if (!a || !l) return std::nullopt;
  return Ipv4Prefix{*a, *l};
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view s) {
  size_t slash = s.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto a = Ipv6Addr::parse(s.substr(0, slash));
  auto l = parse_prefix_len(s.substr(slash + 1), 128);
  if (!a || !l) return std::nullopt;
  return Ipv6Prefix{*a, *l};
}

}  // namespace mx
