// tcpstack/tcp_counters.h — per-lcore TCP counters. Every dropped segment increments exactly
// one drop counter naming the reason.
#pragma once

#include <cstdint>

namespace mx::net {

#define MX_TCP_COUNTERS(X)                                                           \
  X(tcp_rx)                     /* segments handed to TCP */                         \
  X(tcp_drop_short)                                                                  \
  X(tcp_drop_data_offset)                                                            \
  X(tcp_drop_checksum)                                                               \
  X(tcp_drop_bad_option)                                                             \
  X(tcp_drop_urgent)            /* urgent pointer past the payload */               \
  X(tcp_drop_bad_flags)         /* SYN+FIN, SYN+RST, no flags */                    \
  X(tcp_drop_port_zero)                                                              \
  X(tcp_drop_no_conn)           /* no connection or listener: RST sent unless RST */ \
  X(tcp_drop_listen)            /* not a SYN (or valid cookie ACK) at a listener */  \
  X(tcp_drop_out_of_window)     /* unacceptable sequence: ACK sent unless RST */     \
  X(tcp_drop_paws)              /* RFC 7323 5: old timestamp */                      \
  X(tcp_drop_bad_ack)           /* RFC 5961 5.2: ACK out of range */                 \
  X(tcp_drop_no_ack)            /* synchronised state, ACK bit off */                \
  X(tcp_drop_rx_budget)         /* out of receive descriptors or blocks */           \
  X(tcp_drop_ooo_budget)        /* out-of-order data beyond the per-connection budget */ \
  X(tcp_drop_after_close)       /* data after the application closed: RST */         \
  X(tcp_rst_in)                 /* accepted resets */                                \
  X(tcp_rst_out)                                                                     \
  X(tcp_challenge_ack)          /* RFC 5961 challenge ACKs sent */                   \
  X(tcp_challenge_ack_limited)  /* ... suppressed by the rate limit */               \
  X(tcp_syn_in)                                                                      \
  X(tcp_syncookie_sent)                                                              \
  X(tcp_syncookie_ok)                                                                \
  X(tcp_syncookie_bad)                                                               \
  X(tcp_accept_queue_full)      /* handshake completed with a full accept queue */   \
  X(tcp_conn_table_full)                                                             \
  X(tcp_passive_open)                                                                \
  X(tcp_active_open)                                                                 \
  X(tcp_established)                                                                 \
  X(tcp_timewait_reuse)         /* RFC 6191 / active-open reuse of a TIME-WAIT tuple */ \
  X(tcp_closed)                                                                      \
  X(tcp_timeout)                /* retransmission or keepalive gave up */            \
  X(tcp_tx_segments)                                                                 \
  X(tcp_tx_bytes)                                                                    \
  X(tcp_retransmit)             /* segments sent again (RTO or fast) */              \
  X(tcp_rto_fired)                                                                   \
  X(tcp_fast_retransmit)                                                             \
  X(tcp_sack_retransmit)                                                             \
  X(tcp_delayed_ack)                                                                 \
  X(tcp_zero_window_probe)                                                           \
  X(tcp_persist_timeout)        /* zero window for too long: connection reset */      \
  X(tcp_keepalive_probe)                                                             \
  X(tcp_ooo_segments)           /* queued out of order */                            \
  X(tcp_ooo_pruned)             /* out-of-order segments dropped under lcore-wide pressure */ \
  X(tcp_ooo_prune_conns)        /* ... connections whose out-of-order queue was dropped */ \
  X(tcp_rx_bytes)               /* in-order payload delivered to the receive queue */ \
  X(tcp_rx_copied_segments)     /* small payloads copied instead of held */          \
  X(tcp_tx_fail)                /* no frame buffer, or no neighbour (ARP sent) */    \
  X(tcp_pmtu_update)            /* RFC 1191: MSS lowered by ICMP frag-needed */      \
  X(tcp_icmp_ignored)           /* ICMP error not matching a connection's window */

struct alignas(64) TcpCounters {
#define MX_DECLARE_COUNTER(name) uint64_t name = 0;
  MX_TCP_COUNTERS(MX_DECLARE_COUNTER)
#undef MX_DECLARE_COUNTER

  template <typename F>
  void for_each(F&& f) const {
#define MX_VISIT_COUNTER(name) f(#name, name);
    MX_TCP_COUNTERS(MX_VISIT_COUNTER)
#undef MX_VISIT_COUNTER
  }
};

}  // namespace mx::net
