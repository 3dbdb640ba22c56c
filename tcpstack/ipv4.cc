// tcpstack/ipv4.cc
#include "tcpstack/ipv4.h"

#include "tcpstack/checksum.h"

namespace mx::net {
namespace {

constexpr uint8_t kOptEnd = 0;
constexpr uint8_t kOptNop = 1;
constexpr uint8_t kOptLsrr = 0x83;
constexpr uint8_t kOptSsrr = 0x89;
constexpr uint16_t kFlagMf = 0x2000;
constexpr uint16_t kFragOffsetMask = 0x1fff;

// RFC 791 3.1 option list: type-only options (END, NOP) and type-length-value options with
// 2 <= length <= remaining. Source routes are refused, as Linux does by default.
Ipv4Verdict check_options(const uint8_t* p, uint32_t len) noexcept {
  uint32_t i = 0;
  while (i < len) {
    uint8_t type = p[i];
    if (type == kOptEnd) return Ipv4Verdict::kOk;
    if (type == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return Ipv4Verdict::kBadOptions;
    uint8_t olen = p[i + 1];
    if (olen < 2 || olen > len - i) return Ipv4Verdict::kBadOptions;
    if (type == kOptLsrr || type == kOptSsrr) return Ipv4Verdict::kSourceRoute;
    i += olen;
  }
  return Ipv4Verdict::kOk;
}

}  // namespace

Ipv4Verdict parse_ipv4(ByteSpan pkt, bool csum_verified, Ipv4Header& out) noexcept {
  if (pkt.size() < kIpv4MinHeaderLen) return Ipv4Verdict::kShort;
  const uint8_t* p = pkt.data();
  if ((p[0] >> 4) != 4) return Ipv4Verdict::kVersion;
  uint32_t hlen = (p[0] & 0x0fu) * 4u;
  if (hlen < kIpv4MinHeaderLen || hlen > pkt.size()) return Ipv4Verdict::kIhl;
  uint16_t total = load_be16(p + 2);
  if (total < hlen || total > pkt.size()) return Ipv4Verdict::kTotalLen;
  if (!csum_verified && inet_checksum(pkt.first(hlen)) != 0) return Ipv4Verdict::kChecksum;
  if (hlen > kIpv4MinHeaderLen) {
    Ipv4Verdict v = check_options(p + kIpv4MinHeaderLen, hlen - kIpv4MinHeaderLen);
    if (v != Ipv4Verdict::kOk) return v;
  }
  uint16_t frag = load_be16(p + 6);
  if ((frag & kFlagMf) || (frag & kFragOffsetMask)) return Ipv4Verdict::kFragment;
  out.header_len = static_cast<uint8_t>(hlen);
  out.total_len = total;
  out.id = load_be16(p + 4);
  out.ttl = p[8];
  out.proto = p[9];
  out.src = Ipv4Addr::load(p + 12);
  out.dst = Ipv4Addr::load(p + 16);
  out.has_options = hlen > kIpv4MinHeaderLen;
  return Ipv4Verdict::kOk;
}

void write_ipv4_header(uint8_t* p, const Ipv4Header& h, bool csum_offload) noexcept {
  p[0] = 0x45;
  p[1] = 0;
  store_be16(p + 2, h.total_len);
  store_be16(p + 4, h.id);
  store_be16(p + 6, 0);
  p[8] = h.ttl;
  p[9] = h.proto;
  store_be16(p + 10, 0);
  h.src.store(p + 12);
  h.dst.store(p + 16);
  if (!csum_offload) store_be16(p + 10, inet_checksum({p, kIpv4MinHeaderLen}));
}

}  // namespace mx::net
