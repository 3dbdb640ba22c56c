// tcpstack/syn_cookie.h — SYN cookies (RFC 4987 3.6): when the SYN queue is full, the state of
// a half-open connection travels in our initial sequence number instead of in memory.
//
// cookie = H1(tuple) + (minute << 24) + ((H2(tuple, client_isn, minute) + mss_index) mod 2^24)
// H1, H2: SipHash-2-4 under a secret key. The top 8 bits carry a minute counter (cookies older
// than kSynCookieMaxAgeMin are refused); the low 24 bits carry a 2-bit MSS index under a keyed
// hash of the connection and the client's ISN, so a guessed cookie, or a real one replayed with
// another client ISN, is accepted with probability 4 / 2^24.
#pragma once

#include <cstdint>
#include <optional>

#include "common/net_types.h"
#include "tcpstack/seq.h"

namespace mx::net {

constexpr uint32_t kSynCookieMaxAgeMin = 2;
// MSS values a cookie can carry (the client's MSS is rounded down to one of these).
constexpr uint16_t kSynCookieMss[4] = {536, 1220, 1440, 1460};

struct FourTuple {
  Ipv4Addr local, remote;
  uint16_t local_port = 0, remote_port = 0;
};

class SynCookies {
 public:
  SynCookies(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}

  // The index of the largest table MSS not above the client's (0 when it is below all).
  static uint8_t mss_index(uint16_t client_mss);
  // Our ISN for a SYN from `t` with sequence number client_isn, at minute `minute`.
  SeqNum make(const FourTuple& t, SeqNum client_isn, uint8_t mss_idx, uint32_t minute) const noexcept;
  // For the ACK completing the handshake: `cookie` is its ack - 1, client_isn its seq - 1.
  // The MSS index when the cookie is ours and fresh.
  std::optional<uint8_t> check(const FourTuple& t, SeqNum client_isn, SeqNum cookie, uint32_t minute) const noexcept;

 private:
  uint32_t h1(const FourTuple& t) const noexcept;
  uint32_t h2(const FourTuple& t, SeqNum client_isn, uint32_t minute) const noexcept;
  uint64_t k0_, k1_;
};

}  // namespace mx::net
