// tcpstack/ipv4.h — IPv4 header validation and construction (RFC 791, RFC 1122 3.2.1).
//
// SECURITY: parses untrusted datagrams; every length is checked against the frame before a
// byte is read. Fragments are dropped and counted until reassembly arrives with TCP.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/net_types.h"

namespace mx::net {

constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv4MaxHeaderLen = 60;
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpv4DefaultTtl = 64;

enum class Ipv4Verdict : uint8_t {
  kOk,
  kShort,
  kVersion,
  kIhl,
  kTotalLen,
  kChecksum,
  kBadOptions,
  kSourceRoute,
  kFragment,
};

struct Ipv4Header {
  uint8_t header_len{0};   // bytes, 20..60
  uint16_t total_len{0};   // bytes, header + payload
  uint16_t id{0};
  uint8_t ttl{0};
  uint8_t proto{0};
  Ipv4Addr src, dst;
  bool has_options{false};
};

// Validates the header of the datagram at `pkt` (the bytes after the Ethernet header, which
// may include link padding beyond total_len). `csum_verified` skips the software checksum when
// the port already checked it.
Ipv4Verdict parse_ipv4(ByteSpan pkt, bool csum_verified, Ipv4Header& out) noexcept;

// Writes a 20-byte header without options, with the checksum filled in unless the port
// computes it (`csum_offload`).
void write_ipv4_header(uint8_t* p, const Ipv4Header& h, bool csum_offload) noexcept;

}  // namespace mx::net
