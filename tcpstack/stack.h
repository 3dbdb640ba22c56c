// tcpstack/stack.h — the per-lcore network stack: Ethernet in, ARP, IPv4, ICMP, TCP.
//
// SECURITY: input() takes frames straight from the wire. Each frame is either handled or
// dropped with exactly one named counter incremented; nothing is thrown, nothing allocated.
// STANDARDS: RFC 826 (ARP), RFC 791 and RFC 1122 (IPv4 host), RFC 792 (ICMP), RFC 1071,
// RFC 1191 (path MTU: ICMP fragmentation-needed lowers a TCP connection's MSS). IPv4 fragments
// are dropped and counted (ipv4_drop_fragment), not reassembled: TCP never needs them (it sends
// with DF and sizes segments by MSS and path MTU), and a reassembly buffer is an attack surface.
#pragma once

#include <cstdint>
#include <optional>

#include "common/net_types.h"
#include "common/strong_id.h"
#include "tcpstack/arp.h"
#include "tcpstack/counters.h"
#include "tcpstack/ipv4.h"
#include "tcpstack/packet.h"
#include "tcpstack/tcp.h"

namespace mx::net {

struct StackConfig {
  Ipv4Prefix ipv4;
  std::optional<Ipv6Prefix> ipv6;
  uint32_t arp_entries = kArpCacheDefaultEntries;
  uint64_t arp_reachable_ns = kArpDefaultReachableNs;
  TcpConfig tcp;
};

class NetStack {
 public:
  NetStack(Netif& netif, const StackConfig& cfg, Tick now = Tick{});

  // Handles one received frame. The frame is not referenced after return unless TCP holds it
  // (Netif::rx_hold).
  void input(const PacketView& pkt, Tick now) noexcept;
  // Protocol timers (TCP); cheap when nothing is due: call every loop iteration.
  void poll(Tick now) noexcept;
  // Periodic work: neighbour cache ageing.
  void on_timer(Tick now) noexcept;
  // Copies the neighbour cache's statistics into counters() (done by on_timer too).
  void sync_counters() noexcept;
  // Broadcasts an ARP request for ip (used to resolve next hops; also a gratuitous ARP when
  // ip is our own address).
  bool send_arp_request(Ipv4Addr ip) noexcept;

  const L2L3Counters& counters() const noexcept { return ctr_; }
  L2L3Counters& counters() noexcept { return ctr_; }
  const ArpCache& arp_cache() const noexcept { return arp_; }
  ArpCache& arp_cache() noexcept { return arp_; }
  TcpLayer& tcp() noexcept { return tcp_; }
  const TcpLayer& tcp() const noexcept { return tcp_; }
  Netif& netif() noexcept { return netif_; }

  // IPv4 output for the transport layer: a frame for a datagram of l4_len payload bytes to dst
  // (an on-link neighbour), with the Ethernet and IPv4 headers written (DF set). Returns the
  // payload pointer, or nullptr when there is no buffer or no neighbour entry (then an ARP
  // request is sent and the caller's retransmission tries again).
  uint8_t* ipv4_begin(Ipv4Addr dst, uint8_t proto, uint32_t l4_len, TxFrame& f) noexcept;
  void ipv4_send(TxFrame& f) noexcept { submit(f); }
  Ipv4Addr ipv4() const noexcept { return cfg_.ipv4.addr; }

 private:
  void arp_input(ByteSpan payload, Tick now) noexcept;
  void ipv4_input(const PacketView& pkt, ByteSpan payload) noexcept;
  void icmp_input(const PacketView& pkt, const Ipv4Header& ip, ByteSpan msg, bool broadcast) noexcept;
  bool is_our_ipv4_dst(Ipv4Addr a, bool& broadcast) const noexcept;
  bool bad_ipv4_src(Ipv4Addr a) const noexcept;
  // Gets a frame and writes its Ethernet header; the caller fills from offset 14.
  bool begin_frame(uint32_t len, const MacAddr& dst, uint16_t type, TxFrame& f) noexcept;
  void submit(TxFrame& f) noexcept;

  Netif& netif_;
  StackConfig cfg_;
  MacAddr mac_;
  ArpCache arp_;
  L2L3Counters ctr_;
  uint16_t ip_id_ = 0;
  Tick now_;
  TcpLayer tcp_;
};

}  // namespace mx::net
