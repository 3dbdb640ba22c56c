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
                 " tx_drop_full=%" PRIu64 "\n",
                 l->lcore(), lc.polls, lc.rx_packets, lc.idle_sleeps, lc.tx_drop_full);
    for (const auto& q : l->queues()) {
      std::fprintf(f, "mxgate: counters lcore=%u port=%s", l->lcore(), q->port->cfg->name.c_str());
      q->stack.counters().for_each([&](const char* name, uint64_t v) {
        if (v) std::fprintf(f, " %s=%" PRIu64, name, v);
      });
      std::fputc('\n', f);
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
