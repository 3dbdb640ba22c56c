// tcpstack/stack.cc — Ethernet dispatch, IPv4 input and the shared transmit helpers.
#include "tcpstack/stack.h"

#include "tcpstack/checksum.h"
#include "tcpstack/ethernet.h"

namespace mx::net {

NetStack::NetStack(Netif& netif, const StackConfig& cfg, Tick now)
    : netif_(netif), cfg_(cfg), mac_(netif.mac()), arp_(cfg.arp_entries, cfg.arp_reachable_ns),
      now_(now), tcp_(*this, netif, cfg.tcp, now) {}

void NetStack::poll(Tick now) noexcept {
  now_ = now;
  tcp_.poll(now);
}

void NetStack::input(const PacketView& pkt, Tick now) noexcept {
  now_ = now;
  ++ctr_.eth_rx_frames;
  ctr_.eth_rx_bytes += pkt.len;
  if (pkt.len < kEthHeaderLen) {
    ++ctr_.eth_drop_short;
    return;
  }
  MacAddr dst = MacAddr::from_bytes(pkt.data);
  MacAddr src = MacAddr::from_bytes(pkt.data + 6);
  if (!dst.is_multicast() && dst != mac_) {
    ++ctr_.eth_drop_not_for_us;
    return;
  }
  if (src.is_multicast() || src.is_zero()) {
    ++ctr_.eth_drop_bad_src;
    return;
  }
  ByteSpan payload = pkt.bytes().subspan(kEthHeaderLen);
  switch (load_be16(pkt.data + 12)) {
    case kEtherTypeArp:
      arp_input(payload, now);
      return;
    case kEtherTypeIpv4:
      ipv4_input(pkt, payload);
      return;
    case kEtherTypeIpv6:
      ++ctr_.ipv6_rx_unhandled;
      return;
    case kEtherTypeVlan:
    case kEtherTypeQinQ:
      ++ctr_.eth_drop_vlan;
      return;
    default:
      ++ctr_.eth_drop_unknown_type;
      return;
  }
}

void NetStack::on_timer(Tick now) noexcept {
  now_ = now;
  arp_.expire(now);
  sync_counters();
}

void NetStack::sync_counters() noexcept {
  const ArpCacheStats& s = arp_.stats();
  ctr_.arp_cache_insert = s.inserts;
  ctr_.arp_cache_update = s.updates;
  ctr_.arp_cache_evict = s.evictions;
  ctr_.arp_cache_expire = s.expiries;
}

bool NetStack::is_our_ipv4_dst(Ipv4Addr a, bool& broadcast) const noexcept {
  broadcast = a.is_limited_broadcast() ||
              (cfg_.ipv4.len < 31 && a == cfg_.ipv4.directed_broadcast());
  return broadcast || a == cfg_.ipv4.addr;
}

bool NetStack::bad_ipv4_src(Ipv4Addr a) const noexcept {
  // RFC 1122 3.2.1.3: a source must not be a broadcast, multicast, loopback or "this network"
  // address; our own address as a source is a spoof or a loop.
  return a.is_zero() || (a.v >> 24) == 0 || a.is_multicast() || a.is_limited_broadcast() ||
         a.is_loopback() || a == cfg_.ipv4.addr ||
         (cfg_.ipv4.len < 31 && a == cfg_.ipv4.directed_broadcast());
}

void NetStack::ipv4_input(const PacketView& pkt, ByteSpan payload) noexcept {
  ++ctr_.ipv4_rx;
  if (pkt.rx_flags & kRxIpCsumBad) {
    ++ctr_.ipv4_drop_checksum;
    return;
  }
  Ipv4Header ip;
  switch (parse_ipv4(payload, (pkt.rx_flags & kRxIpCsumGood) != 0, ip)) {
    case Ipv4Verdict::kOk: break;
    case Ipv4Verdict::kShort: ++ctr_.ipv4_drop_short; return;
    case Ipv4Verdict::kVersion: ++ctr_.ipv4_drop_version; return;
    case Ipv4Verdict::kIhl: ++ctr_.ipv4_drop_ihl; return;
    case Ipv4Verdict::kTotalLen: ++ctr_.ipv4_drop_total_len; return;
    case Ipv4Verdict::kChecksum: ++ctr_.ipv4_drop_checksum; return;
    case Ipv4Verdict::kBadOptions: ++ctr_.ipv4_drop_bad_options; return;
    case Ipv4Verdict::kSourceRoute: ++ctr_.ipv4_drop_source_route; return;
    case Ipv4Verdict::kFragment: ++ctr_.ipv4_drop_fragment; return;
  }
  if (bad_ipv4_src(ip.src)) {
    ++ctr_.ipv4_drop_bad_src;
    return;
  }
  bool broadcast = false;
  if (!is_our_ipv4_dst(ip.dst, broadcast)) {
    ++ctr_.ipv4_drop_not_for_us;
    return;
  }
  if (ip.has_options) ++ctr_.ipv4_rx_options;
  ByteSpan body = payload.subspan(ip.header_len, ip.total_len - ip.header_len);
  switch (ip.proto) {
    case kIpProtoIcmp:
      icmp_input(pkt, ip, body, broadcast);
      return;
    case kIpProtoTcp:
      if (broadcast) {
        ++ctr_.ipv4_drop_not_for_us;  // TCP is unicast only (RFC 9293 3.9.1)
        return;
      }
      tcp_.input(pkt, ip.src, ip.dst, body, now_);
      return;
    default:
      ++ctr_.ipv4_drop_unknown_proto;
      return;
  }
}

bool NetStack::begin_frame(uint32_t len, const MacAddr& dst, uint16_t type, TxFrame& f) noexcept {
  if (!netif_.tx_alloc(len, f)) {
    ++ctr_.tx_drop_no_buffer;
    return false;
  }
  write_eth_header(f.data, dst, mac_, type);
  f.len = len;
  return true;
}

uint8_t* NetStack::ipv4_begin(Ipv4Addr dst, uint8_t proto, uint32_t l4_len, TxFrame& f) noexcept {
  auto mac = arp_.lookup(dst, now_);
  if (!mac) {
    send_arp_request(dst);
    return nullptr;
  }
  if (!begin_frame(kEthHeaderLen + kIpv4MinHeaderLen + l4_len, *mac, kEtherTypeIpv4, f)) return nullptr;
  Ipv4Header h;
  h.total_len = static_cast<uint16_t>(kIpv4MinHeaderLen + l4_len);
  h.id = ip_id_++;
  h.ttl = kIpv4DefaultTtl;
  h.proto = proto;
  h.src = cfg_.ipv4.addr;
  h.dst = dst;
  const bool offload = (netif_.tx_caps() & kTxIpv4Csum) != 0;
  uint8_t* ip = f.data + kEthHeaderLen;
  write_ipv4_header(ip, h, /*csum_offload=*/true);  // checksum below, after the DF bit
  ip[6] |= 0x40;  // DF: TCP sizes its segments to the path (RFC 1191)
  if (offload) {
    f.offload |= kTxIpv4Csum;
  } else {
    store_be16(ip + 10, inet_checksum({ip, kIpv4MinHeaderLen}));
  }
  return f.data + kEthHeaderLen + kIpv4MinHeaderLen;
}

void NetStack::submit(TxFrame& f) noexcept {
  ++ctr_.eth_tx_frames;
  ctr_.eth_tx_bytes += f.len;
  netif_.tx_submit(f);
}

}  // namespace mx::net
