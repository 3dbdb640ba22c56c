// tcpstack/tcp_header.h — TCP header and option parsing (RFC 9293 3.1, RFC 7323, RFC 2018).
//
// SECURITY: parses untrusted segments. Every length is checked before use; a malformed header
// or option list is a verdict naming the reason (the caller counts it), never a partial parse.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/net_types.h"
#include "tcpstack/seq.h"

namespace mx::net {

constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kTcpMaxHeaderLen = 60;
constexpr uint8_t kTcpMaxWindowShift = 14;  // RFC 7323 2.3
constexpr uint32_t kTcpMaxSackBlocks = 4;   // 40 bytes of options hold at most 4

enum TcpFlag : uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

struct SackBlock {
  SeqNum left, right;
};

struct TcpOptions {
  uint16_t mss = 0;            // 0: not present
  int8_t wscale = -1;          // -1: not present; else 0..14 (larger values clamped, RFC 7323)
  bool sack_permitted = false;
  bool has_timestamps = false;
  uint32_t ts_val = 0, ts_ecr = 0;
  uint8_t sack_count = 0;
  SackBlock sack[kTcpMaxSackBlocks];
};

struct TcpSegment {
  uint16_t src_port = 0, dst_port = 0;
  SeqNum seq, ack;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t urgent = 0;
  uint8_t header_len = 0;
  TcpOptions opt;
  ByteSpan payload;
  // Sequence space the segment occupies: payload bytes, plus one for SYN and one for FIN.
  uint32_t seg_len() const {
    return static_cast<uint32_t>(payload.size()) + ((flags & kTcpSyn) ? 1 : 0) + ((flags & kTcpFin) ? 1 : 0);
  }
};

enum class TcpVerdict : uint8_t {
  kOk,
  kShort,          // fewer than 20 bytes
  kDataOffset,     // data offset < 5 or beyond the segment
  kChecksum,
  kBadOption,      // option length 0/1, overrunning, or a known option with the wrong length
  kUrgentPastEnd,  // URG with an urgent pointer beyond the payload
  kBadFlags,       // SYN+FIN, SYN+RST, or no flag at all
};

// Parses the TCP segment `seg` (the IPv4 payload) from src to dst. `csum_verified` skips the
// software checksum when the port checked it.
TcpVerdict parse_tcp(ByteSpan seg, Ipv4Addr src, Ipv4Addr dst, bool csum_verified, TcpSegment& out) noexcept;

// The pseudo-header + segment checksum (RFC 9293 3.1) to store in the header's field (which
// must be zero while computing it).
uint16_t tcp_checksum(ByteSpan seg, Ipv4Addr src, Ipv4Addr dst) noexcept;
// The folded, uncomplemented pseudo-header sum that checksum offload expects in the field.
uint16_t tcp_pseudo_sum(Ipv4Addr src, Ipv4Addr dst, uint32_t len) noexcept;

}  // namespace mx::net
