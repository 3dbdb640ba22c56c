// dataplane/stats.cc
#include "dataplane/stats.h"

#include <rte_ethdev.h>

#include <cinttypes>

namespace mx::dp {

void print_counters(FILE* f, const std::vector<std::unique_ptr<NetLcore>>& lcores, const std::vector<Port>& ports) {
  for (const auto& l : lcores) {
    const LoopCounters& lc = l->loop_counters();
    std::fprintf(f,
                 "mxgate: counters lcore=%u loop polls=%" PRIu64 " rx_packets=%" PRIu64 " idle_sleeps=%" PRIu64
                 " tx_drop_full=%" PRIu64 " tx_retries=%" PRIu64 " impair_drop=%" PRIu64 " impair_dup=%" PRIu64 " impair_reorder=%" PRIu64 "\n",
                 l->lcore(), lc.polls, lc.rx_packets, lc.idle_sleeps, lc.tx_drop_full, lc.tx_retries, lc.impair_drop, lc.impair_dup,
                 lc.impair_reorder);
    for (const auto& q : l->queues()) {
      std::fprintf(f, "mxgate: counters lcore=%u port=%s", l->lcore(), q->port->cfg->name.c_str());
      q->stack.counters().for_each([&](const char* name, uint64_t v) {
        if (v) std::fprintf(f, " %s=%" PRIu64, name, v);
      });
      std::fputc('\n', f);
      std::fprintf(f, "mxgate: counters lcore=%u port=%s tcp conns=%u", l->lcore(), q->port->cfg->name.c_str(),
                   q->stack.tcp().conn_count());
      uint32_t states[11];
      q->stack.tcp().count_states(states);
      for (uint8_t s = 0; s < 11; ++s)
        if (states[s]) std::fprintf(f, " state_%s=%u", net::tcp_state_name(static_cast<net::TcpState>(s)), states[s]);
      q->stack.tcp().counters().for_each([&](const char* name, uint64_t v) {
        if (v) std::fprintf(f, " %s=%" PRIu64, name, v);
      });
      std::fputc('\n', f);
      const auto& ss = q->services.stats();
      std::fprintf(f,
                   "mxgate: counters lcore=%u port=%s services accepted=%" PRIu64 " discard_bytes=%" PRIu64
                   " echo_bytes=%" PRIu64 " chargen_bytes=%" PRIu64 " source_bytes=%" PRIu64 " source=%s\n",
                   l->lcore(), q->port->cfg->name.c_str(), ss.accepted, ss.discard_bytes, ss.echo_bytes,
                   ss.chargen_bytes, ss.source_bytes,
                   ss.source_failed ? "failed" : ss.source_done ? "done" : "none");
      if (q->gateway) {
        const GatewayCounters& g = q->gateway->counters();
        std::fprintf(f,
                     "mxgate: gateway lcore=%u port=%s sessions=%" PRIu64 " sessions_refused=%" PRIu64
                     " messages=%" PRIu64 " delivered=%" PRIu64 " quarantined=%" PRIu64 " rejected=%" PRIu64
                     " tempfailed=%" PRIu64 " relay_denied=%" PRIu64 " policy_split=%" PRIu64 " relay_failed=%" PRIu64
                     " log_errors=%" PRIu64 " scan_ring_full=%" PRIu64 " io_ring_full=%" PRIu64
                     " snapshot_swaps=%" PRIu64 " spooled=%" PRIu64 " spool_deliveries=%" PRIu64
                     " output_stalled=%" PRIu64 " memory_refused=%" PRIu64 " client_gone=%" PRIu64
                     " message_memory_in_use=%" PRIu64 " rcpt_refused_downstream=%" PRIu64 " io_dropped=%" PRIu64 "\n",
                     l->lcore(), q->port->cfg->name.c_str(), g.sessions, g.sessions_refused, g.messages, g.delivered,
                     g.quarantined, g.rejected, g.tempfailed, g.relay_denied, g.policy_split, g.relay_failed,
                     g.log_errors, g.scan_ring_full, g.io_ring_full, g.snapshot_swaps, g.spooled,
                     g.spool_deliveries, g.output_stalled, g.memory_refused, g.client_gone,
                     q->gateway->message_memory_in_use(), g.rcpt_refused_downstream, g.io_dropped);
      }
    }
  }
  for (const Port& p : ports) {
    rte_eth_stats s{};
    if (rte_eth_stats_get(p.id, &s) != 0) continue;
    std::fprintf(f,
                 "mxgate: counters port=%s driver ipackets=%" PRIu64 " opackets=%" PRIu64 " ibytes=%" PRIu64
                 " obytes=%" PRIu64 " imissed=%" PRIu64 " ierrors=%" PRIu64 " oerrors=%" PRIu64
                 " rx_nombuf=%" PRIu64 "\n",
                 p.cfg->name.c_str(), s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors,
                 s.rx_nombuf);
  }
  std::fflush(f);
}

}  // namespace mx::dp
