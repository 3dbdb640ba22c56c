// tcpstack/syn_cookie.cc
#include "tcpstack/syn_cookie.h"

#include "tcpstack/isn.h"

namespace mx::net {
namespace {

constexpr uint32_t kLowMask = 0x00FFFFFF;

void put_tuple(const FourTuple& t, uint8_t* b) {
  t.local.store(b);
  t.remote.store(b + 4);
  store_be16(b + 8, t.local_port);
  store_be16(b + 10, t.remote_port);
}

}  // namespace

uint8_t SynCookies::mss_index(uint16_t client_mss) {
  uint8_t idx = 0;
  for (uint8_t i = 0; i < 4; ++i)
    if (kSynCookieMss[i] <= client_mss) idx = i;
  return idx;
}

uint32_t SynCookies::h1(const FourTuple& t) const noexcept {
  uint8_t b[12];
  put_tuple(t, b);
  return static_cast<uint32_t>(siphash24(k0_, k1_, ByteSpan(b, sizeof b)));
}

uint32_t SynCookies::h2(const FourTuple& t, SeqNum client_isn, uint32_t minute) const noexcept {
  uint8_t b[20];
  put_tuple(t, b);
  store_be32(b + 12, client_isn.v);
  store_be32(b + 16, minute & 0xFF);
  return static_cast<uint32_t>(siphash24(k0_ ^ 0x5a5a5a5a5a5a5a5aull, k1_, ByteSpan(b, sizeof b)));
}

SeqNum SynCookies::make(const FourTuple& t, SeqNum client_isn, uint8_t mss_idx, uint32_t minute) const noexcept {
  const uint32_t low = (h2(t, client_isn, minute) + (mss_idx & 3u)) & kLowMask;
  return SeqNum(h1(t) + ((minute & 0xFF) << 24) + low);
}

std::optional<uint8_t> SynCookies::check(const FourTuple& t, SeqNum client_isn, SeqNum cookie,
                                         uint32_t minute) const noexcept {
  const uint32_t c = cookie.v - h1(t);
  const uint32_t then = c >> 24;
  const uint32_t age = (minute - then) & 0xFF;
  if (age > kSynCookieMaxAgeMin) return std::nullopt;
  const uint32_t idx = ((c & kLowMask) - h2(t, client_isn, then)) & kLowMask;
  if (idx > 3) return std::nullopt;
  return static_cast<uint8_t>(idx);
}

}  // namespace mx::net
