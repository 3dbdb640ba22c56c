// tcpstack/icmp.cc — ICMP input for NetStack: echo request -> echo reply (RFC 792, RFC 1122
// 3.2.2.6); destination unreachable goes to TCP (path MTU, RFC 1191). Other types are counted.
#include "tcpstack/icmp.h"

#include <cstring>

#include "tcpstack/checksum.h"
#include "tcpstack/ethernet.h"
#include "tcpstack/stack.h"

namespace mx::net {

void NetStack::icmp_input(const PacketView& pkt, const Ipv4Header& ip, ByteSpan msg,
                          bool broadcast) noexcept {
  ++ctr_.icmp_rx;
  if (msg.size() < kIcmpHeaderLen) {
    ++ctr_.icmp_drop_short;
    return;
  }
  // NICs' L4 checksum flags cover TCP/UDP only: ICMP is always verified in software.
  if (inet_checksum(msg) != 0) {
    ++ctr_.icmp_drop_checksum;
    return;
  }
  if (msg[0] == kIcmpDestUnreachable) {
    ++ctr_.icmp_unreachable_in;
    if (!broadcast) tcp_.icmp_unreachable(msg[1], load_be16(msg.data() + 6), msg.subspan(kIcmpHeaderLen), now_);
    return;
  }
  if (msg[0] != kIcmpEchoRequest || msg[1] != 0) {
    ++ctr_.icmp_other_in;
    return;
  }
  ++ctr_.icmp_echo_request_in;
  if (broadcast) {
    ++ctr_.icmp_drop_broadcast_echo;  // no smurf amplifier
    return;
  }
  // The reply goes back to the link-layer sender of the request: the neighbour that handed
  // us the datagram is the right next hop for the answer.
  const uint32_t len = kEthHeaderLen + kIpv4MinHeaderLen + static_cast<uint32_t>(msg.size());
  TxFrame f;
  if (!begin_frame(len, MacAddr::from_bytes(pkt.data + 6), kEtherTypeIpv4, f)) return;
  Ipv4Header out;
  out.total_len = static_cast<uint16_t>(kIpv4MinHeaderLen + msg.size());
  out.id = ip_id_++;
  out.ttl = kIpv4DefaultTtl;
  out.proto = kIpProtoIcmp;
  out.src = cfg_.ipv4.addr;
  out.dst = ip.src;
  const bool offload = (netif_.tx_caps() & kTxIpv4Csum) != 0;
  write_ipv4_header(f.data + kEthHeaderLen, out, offload);
  if (offload) f.offload |= kTxIpv4Csum;
  uint8_t* icmp = f.data + kEthHeaderLen + kIpv4MinHeaderLen;
  std::memcpy(icmp, msg.data(), msg.size());
  // Only the type changes (8 -> 0): update the verified checksum instead of summing again.
  icmp[0] = kIcmpEchoReply;
  store_be16(icmp + 2, csum_update16(load_be16(msg.data() + 2), uint16_t{kIcmpEchoRequest} << 8,
                                     uint16_t{kIcmpEchoReply} << 8));
  ++ctr_.icmp_echo_reply_out;
  submit(f);
}

}  // namespace mx::net
