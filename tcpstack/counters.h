// tcpstack/counters.h — per-lcore counters of the L2/L3 input and output paths.
//
// Every dropped frame increments exactly one drop counter that names the reason. The X-macro
// list keeps names and fields in one place so that the data plane can print them at exit.
#pragma once

#include <cstdint>

namespace mx::net {

#define MX_L2L3_COUNTERS(X)                                                        \
  X(eth_rx_frames)              /* frames handed to the stack */                   \
  X(eth_rx_bytes)                                                                  \
  X(eth_drop_short)             /* shorter than an Ethernet header */              \
  X(eth_drop_not_for_us)        /* unicast to another MAC */                       \
  X(eth_drop_bad_src)           /* multicast or zero source MAC */                 \
  X(eth_drop_vlan)              /* 802.1Q/802.1ad tagged: no VLAN support */       \
  X(eth_drop_unknown_type)                                                         \
  X(eth_drop_multiseg)          /* chained buffers (set by the data plane) */      \
  X(eth_tx_frames)                                                                 \
  X(eth_tx_bytes)                                                                  \
  X(tx_drop_no_buffer)          /* buffer pool empty */                            \
  X(arp_rx)                                                                        \
  X(arp_drop_malformed)         /* short, or not Ethernet/IPv4 */                  \
  X(arp_drop_bad_sender)        /* sender MAC/IP unusable */                       \
  X(arp_drop_bad_op)                                                               \
  X(arp_conflict)               /* someone else claims our address */             \
  X(arp_request_in)                                                                \
  X(arp_reply_in)                                                                  \
  X(arp_not_for_us)             /* request for another address */                  \
  X(arp_reply_out)                                                                 \
  X(arp_request_out)                                                               \
  X(arp_cache_insert)                                                              \
  X(arp_cache_update)                                                              \
  X(arp_cache_evict)            /* a live entry displaced because its set was full */ \
  X(arp_cache_expire)                                                              \
  X(ipv4_rx)                                                                       \
  X(ipv4_drop_short)                                                               \
  X(ipv4_drop_version)                                                             \
  X(ipv4_drop_ihl)                                                                 \
  X(ipv4_drop_total_len)                                                           \
  X(ipv4_drop_checksum)                                                            \
  X(ipv4_drop_bad_options)                                                         \
  X(ipv4_drop_source_route)                                                        \
  X(ipv4_drop_bad_src)                                                             \
  X(ipv4_drop_not_for_us)                                                          \
  X(ipv4_drop_fragment)         /* not reassembled (see stack.h) */               \
  X(ipv4_drop_unknown_proto)                                                       \
  X(ipv4_rx_options)            /* accepted datagrams that carried options */      \
  X(icmp_rx)                                                                       \
  X(icmp_drop_short)                                                               \
  X(icmp_drop_checksum)                                                            \
  X(icmp_drop_broadcast_echo)   /* RFC 1122 3.2.2.6: ignored */                    \
  X(icmp_echo_request_in)                                                          \
  X(icmp_echo_reply_out)                                                           \
  X(icmp_unreachable_in)        /* destination unreachable: handed to TCP */       \
  X(icmp_other_in)              /* types we do not act on */                       \
  X(ipv6_rx_unhandled)          /* IPv6 arrives with a later issue */

struct alignas(64) L2L3Counters {
#define MX_DECLARE_COUNTER(name) uint64_t name = 0;
  MX_L2L3_COUNTERS(MX_DECLARE_COUNTER)
#undef MX_DECLARE_COUNTER

  // Calls f(name, value) for every counter, in declaration order.
  template <typename F>
  void for_each(F&& f) const {
#define MX_VISIT_COUNTER(name) f(#name, name);
    MX_L2L3_COUNTERS(MX_VISIT_COUNTER)
#undef MX_VISIT_COUNTER
  }
};

}  // namespace mx::net
