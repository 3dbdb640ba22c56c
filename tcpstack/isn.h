// tcpstack/isn.h — initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), with
// M a clock ticking every 4 microseconds and F a keyed hash (SipHash-2-4) of the connection's
// addresses and ports. The key comes from the caller (the data plane draws it from the kernel's
// random source at start-up); tcpstack itself makes no syscall.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/net_types.h"
#include "common/strong_id.h"
#include "tcpstack/seq.h"

namespace mx::net {

// SipHash-2-4 (Aumasson and Bernstein) of m under the 128-bit key (k0, k1).
uint64_t siphash24(uint64_t k0, uint64_t k1, ByteSpan m) noexcept;

class IsnGenerator {
 public:
  IsnGenerator(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}
  SeqNum isn(Ipv4Addr local, uint16_t local_port, Ipv4Addr remote, uint16_t remote_port, Tick now) const noexcept;

 private:
  uint64_t k0_, k1_;
};

}  // namespace mx::net
