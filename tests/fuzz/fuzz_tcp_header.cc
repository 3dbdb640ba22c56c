// tests/fuzz/fuzz_tcp_header.cc — arbitrary segments into the TCP header and option parser.
// Invariants on success: lengths consistent, at most 4 SACK blocks, window shift <= 14.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tcpstack/tcp_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> seg(data, data + size);  // exact-size copy: ASan sees any overrun
  mx::net::TcpSegment s;
  if (mx::net::parse_tcp(seg, mx::Ipv4Addr{0xC6120001}, mx::Ipv4Addr{0xC6120002}, true, s) == mx::net::TcpVerdict::kOk) {
    if (s.header_len < 20 || s.header_len + s.payload.size() != size) std::abort();
    if (s.opt.sack_count > mx::net::kTcpMaxSackBlocks || s.opt.wscale > mx::net::kTcpMaxWindowShift) std::abort();
  }
  return 0;
}
