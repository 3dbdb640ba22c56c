// tests/unit/tcpstack/frames.cc
#include "tests/unit/tcpstack/frames.h"

#include "tcpstack/arp.h"
#include "tcpstack/checksum.h"
#include "tcpstack/ethernet.h"
#include "tcpstack/ipv4.h"

namespace mx::test {

bool CaptureNetif::tx_alloc(uint32_t len, net::TxFrame& out) {
  if (fail_alloc || len > kBufSize) return false;
  buffers_.emplace_back(kBufSize, 0xAA);
  out.data = buffers_.back().data();
  out.capacity = kBufSize;
  out.len = 0;
  out.handle = reinterpret_cast<void*>(buffers_.size() - 1);
  return true;
}

void CaptureNetif::tx_submit(net::TxFrame& frame) {
  const Bytes& b = buffers_[reinterpret_cast<size_t>(frame.handle)];
  sent.emplace_back(b.begin(), b.begin() + frame.len);
}

net::StackConfig lab_stack_config() {
  net::StackConfig c;
  c.ipv4 = Ipv4Prefix{kOurIp, 24};
  c.arp_entries = 16;
  c.arp_reachable_ns = 60 * kNsPerSec;
  c.tcp.max_conns = 64;
  c.tcp.rx_segs = 1024;
  c.tcp.blocks = 1024;
  return c;
}

Bytes eth_frame(const MacAddr& dst, const MacAddr& src, uint16_t type, const Bytes& payload) {
  Bytes f(net::kEthHeaderLen);
  net::write_eth_header(f.data(), dst, src, type);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

Bytes arp_payload(uint16_t op, const MacAddr& sha, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa) {
  Bytes p(net::kArpPacketLen);
  net::write_arp(p.data(), net::ArpPacket{op, sha, tha, spa, tpa});
  return p;
}

Bytes ipv4_datagram(Ipv4Addr src, Ipv4Addr dst, uint8_t proto, const Bytes& payload, const Bytes& options,
                    uint16_t frag_field) {
  const size_t hlen = 20 + options.size();
  Bytes d(hlen);
  d[0] = static_cast<uint8_t>(0x40 | (hlen / 4));
  store_be16(&d[2], static_cast<uint16_t>(hlen + payload.size()));
  store_be16(&d[4], 0x1234);
  store_be16(&d[6], frag_field);
  d[8] = 64;
  d[9] = proto;
  src.store(&d[12]);
  dst.store(&d[16]);
  std::copy(options.begin(), options.end(), d.begin() + 20);
  store_be16(&d[10], net::inet_checksum({d.data(), hlen}));
  d.insert(d.end(), payload.begin(), payload.end());
  return d;
}

Bytes icmp_message(uint8_t type, uint8_t code, uint16_t id, uint16_t seq, const Bytes& data) {
  Bytes m(8);
  m[0] = type;
  m[1] = code;
  store_be16(&m[4], id);
  store_be16(&m[6], seq);
  m.insert(m.end(), data.begin(), data.end());
  store_be16(&m[2], net::inet_checksum({m.data(), m.size()}));
  return m;
}

void fix_ipv4_checksum(Bytes& frame) {
  uint8_t* ip = frame.data() + net::kEthHeaderLen;
  size_t hlen = (ip[0] & 0x0f) * 4u;
  store_be16(ip + 10, 0);
  store_be16(ip + 10, net::inet_checksum({ip, hlen}));
}

Bytes echo_request_frame(uint16_t id, uint16_t seq, const Bytes& data) {
  return eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, id, seq, data)));
}

}  // namespace mx::test
