// tcpstack/tcp_header.cc
#include "tcpstack/tcp_header.h"

#include "tcpstack/checksum.h"
#include "tcpstack/ipv4.h"

namespace mx::net {
namespace {

constexpr uint8_t kOptEol = 0, kOptNop = 1, kOptMss = 2, kOptWscale = 3, kOptSackOk = 4, kOptSack = 5, kOptTs = 8;

bool parse_options(const uint8_t* p, uint32_t len, TcpOptions& o) noexcept {
  uint32_t i = 0;
  while (i < len) {
    const uint8_t kind = p[i];
    if (kind == kOptEol) return true;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return false;  // no room for the length byte
    const uint8_t olen = p[i + 1];
    if (olen < 2 || olen > len - i) return false;
    const uint8_t* v = p + i + 2;
    switch (kind) {
      case kOptMss:
        if (olen != 4) return false;
        o.mss = load_be16(v);
        break;
      case kOptWscale:
        if (olen != 3) return false;
        o.wscale = static_cast<int8_t>(v[0] > kTcpMaxWindowShift ? kTcpMaxWindowShift : v[0]);
        break;
      case kOptSackOk:
        if (olen != 2) return false;
        o.sack_permitted = true;
        break;
      case kOptSack: {
        if ((olen - 2) % 8 != 0 || olen == 2) return false;
        const uint32_t blocks = (olen - 2u) / 8u;
        o.sack_count = 0;
        for (uint32_t b = 0; b < blocks && b < kTcpMaxSackBlocks; ++b) {
          o.sack[b] = SackBlock{SeqNum(load_be32(v + b * 8)), SeqNum(load_be32(v + b * 8 + 4))};
          ++o.sack_count;
        }
        break;
      }
      case kOptTs:
        if (olen != 10) return false;
        o.has_timestamps = true;
        o.ts_val = load_be32(v);
        o.ts_ecr = load_be32(v + 4);
        break;
      default:
        break;  // unknown options are skipped by their length (RFC 9293 3.2)
    }
    i += olen;
  }
  return true;
}

}  // namespace

uint16_t tcp_checksum(ByteSpan seg, Ipv4Addr src, Ipv4Addr dst) noexcept {
  uint64_t sum = uint64_t{src.v} + dst.v + kIpProtoTcp + seg.size();
  return csum_fold(csum_partial(seg, sum));
}

uint16_t tcp_pseudo_sum(Ipv4Addr src, Ipv4Addr dst, uint32_t len) noexcept {
  return static_cast<uint16_t>(~csum_fold(uint64_t{src.v} + dst.v + kIpProtoTcp + len));
}

TcpVerdict parse_tcp(ByteSpan seg, Ipv4Addr src, Ipv4Addr dst, bool csum_verified, TcpSegment& out) noexcept {
  if (seg.size() < kTcpMinHeaderLen) return TcpVerdict::kShort;
  const uint8_t* p = seg.data();
  const uint32_t hlen = (p[12] >> 4) * 4u;
  if (hlen < kTcpMinHeaderLen || hlen > seg.size()) return TcpVerdict::kDataOffset;
  if (!csum_verified && tcp_checksum(seg, src, dst) != 0) return TcpVerdict::kChecksum;
  out = TcpSegment{};
  out.src_port = load_be16(p);
  out.dst_port = load_be16(p + 2);
  out.seq = SeqNum(load_be32(p + 4));
  out.ack = SeqNum(load_be32(p + 8));
  out.flags = p[13];
  out.window = load_be16(p + 14);
  out.urgent = load_be16(p + 18);
  out.header_len = static_cast<uint8_t>(hlen);
  out.payload = seg.subspan(hlen);
  const uint8_t f = out.flags;
  if ((f & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) == 0 || ((f & kTcpSyn) && (f & (kTcpFin | kTcpRst))))
    return TcpVerdict::kBadFlags;
  if ((f & kTcpUrg) && out.urgent > out.payload.size()) return TcpVerdict::kUrgentPastEnd;
  if (!parse_options(p + kTcpMinHeaderLen, hlen - kTcpMinHeaderLen, out.opt)) return TcpVerdict::kBadOption;
  return TcpVerdict::kOk;
}

}  // namespace mx::net
