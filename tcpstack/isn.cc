// tcpstack/isn.cc — SipHash-2-4 written from the algorithm's description, and RFC 6528 ISNs.
#include "tcpstack/isn.h"

namespace mx::net {
namespace {

constexpr uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

uint64_t load_le64(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

uint64_t siphash24(uint64_t k0, uint64_t k1, ByteSpan m) noexcept {
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  const size_t full = m.size() / 8 * 8;
  for (size_t i = 0; i < full; i += 8) s.absorb(load_le64(m.data() + i, 8));
  uint64_t last = (uint64_t{m.size()} & 0xff) << 56;
  last |= load_le64(m.data() + full, m.size() - full);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SeqNum IsnGenerator::isn(Ipv4Addr local, uint16_t local_port, Ipv4Addr remote, uint16_t remote_port,
                         Tick now) const noexcept {
  uint8_t tuple[12];
  local.store(tuple);
  remote.store(tuple + 4);
  store_be16(tuple + 8, local_port);
  store_be16(tuple + 10, remote_port);
  const uint32_t f = static_cast<uint32_t>(siphash24(k0_, k1_, ByteSpan(tuple, sizeof tuple)));
  const uint32_t m = static_cast<uint32_t>(now.ns / 4000);  // RFC 6528: a 4-microsecond clock
  return SeqNum(m + f);
}

}  // namespace mx::net
