// tcpstack/stack_arp.cc — ARP input and output for NetStack (RFC 826, RFC 5227 probes).
#include "tcpstack/ethernet.h"
#include "tcpstack/stack.h"

namespace mx::net {

void NetStack::arp_input(ByteSpan payload, Tick now) noexcept {
  ++ctr_.arp_rx;
  auto a = parse_arp(payload);
  if (!a) {
    ++ctr_.arp_drop_malformed;
    return;
  }
  if (a->op != kArpOpRequest && a->op != kArpOpReply) {
    ++ctr_.arp_drop_bad_op;
    return;
  }
  if (a->sha.is_multicast() || a->sha.is_zero() || a->spa.is_multicast() ||
      a->spa.is_limited_broadcast() || a->spa.is_loopback()) {
    ++ctr_.arp_drop_bad_sender;
    return;
  }
  if (a->spa == cfg_.ipv4.addr) {
    ++ctr_.arp_conflict;  // never let another host take over our address in our cache
    return;
  }
  // RFC 826 merge: refresh a known sender; learn a new one only when it talks to us. An RFC
  // 5227 probe (sender 0.0.0.0) teaches nothing.
  bool for_us = a->tpa == cfg_.ipv4.addr;
  bool learnable = !a->spa.is_zero() && cfg_.ipv4.contains(a->spa);
  if (learnable && (for_us || arp_.contains(a->spa))) arp_.update(a->spa, a->sha, now);

  if (a->op == kArpOpReply) {
    ++ctr_.arp_reply_in;
    return;
  }
  ++ctr_.arp_request_in;
  if (!for_us) {
    ++ctr_.arp_not_for_us;
    return;
  }
  TxFrame f;
  if (!begin_frame(kEthHeaderLen + kArpPacketLen, a->sha, kEtherTypeArp, f)) return;
  write_arp(f.data + kEthHeaderLen, ArpPacket{kArpOpReply, mac_, a->sha, cfg_.ipv4.addr, a->spa});
  ++ctr_.arp_reply_out;
  submit(f);
}

bool NetStack::send_arp_request(Ipv4Addr ip) noexcept {
  TxFrame f;
  if (!begin_frame(kEthHeaderLen + kArpPacketLen, MacAddr::broadcast(), kEtherTypeArp, f))
    return false;
  write_arp(f.data + kEthHeaderLen, ArpPacket{kArpOpRequest, mac_, MacAddr{}, cfg_.ipv4.addr, ip});
  ++ctr_.arp_request_out;
  submit(f);
  return true;
}

}  // namespace mx::net
