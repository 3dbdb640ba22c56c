// dataplane/net_lcore.cc
#include "dataplane/net_lcore.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

namespace mx::dp {
namespace {
constexpr uint32_t kIdleSleepStartUs = 8;
constexpr uint64_t kTimerPeriodNs = kNsPerSec;
}  // namespace

NetLcore::NetLcore(uint32_t lcore, uint16_t queue, const cfg::DataplaneConfig& dc, const std::vector<Port>& ports,
                   rte_mempool* pool)
    : lcore_(lcore), dc_(dc) {
  for (const Port& p : ports) {
    net::StackConfig sc;
    sc.ipv4 = p.cfg->ipv4;
    sc.ipv6 = p.cfg->ipv6;
    sc.arp_entries = dc.arp_entries;
    sc.arp_reachable_ns = uint64_t{dc.arp_reachable_s} * kNsPerSec;
    queues_.push_back(std::make_unique<PortQueue>(p, queue, pool, sc));
  }
}

uint32_t NetLcore::poll_once(uint64_t now_ns) noexcept {
  rte_mbuf* rx[cfg::kMaxBurst];
  uint32_t total = 0;
  Tick now{now_ns};
  for (auto& q : queues_) {
    uint16_t n = rte_eth_rx_burst(q->port->id, q->queue, rx, static_cast<uint16_t>(dc_.burst));
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
      if (rx[i]->nb_segs != 1) {
        ++q->stack.counters().eth_drop_multiseg;
        continue;
      }
      q->stack.input(MbufNetif::view(rx[i]), now);
    }
    if (n) rte_pktmbuf_free_bulk(rx, n);
    q->netif.flush();
    total += n;
  }
  return total;
}

void NetLcore::idle(uint32_t& empty_polls, uint32_t& sleep_us) noexcept {
  if (dc_.idle == cfg::IdleMode::kPoll || ++empty_polls < dc_.idle_polls_before_sleep) return;
  // Adaptive back-off: sleep grows from a few microseconds to idle_sleep_max_us while the
  // queues stay empty, and resets on the first packet.
  sleep_us = sleep_us ? std::min(sleep_us * 2, dc_.idle_sleep_max_us) : std::min(kIdleSleepStartUs, dc_.idle_sleep_max_us);
  rte_delay_us_sleep(sleep_us);
  ++lc_.idle_sleeps;
}

int NetLcore::run(const std::atomic<bool>& stop) noexcept {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_get_tsc_cycles();
  uint64_t next_timer = kTimerPeriodNs;
  uint32_t empty_polls = 0, sleep_us = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    uint64_t cycles = rte_get_tsc_cycles() - start;
    uint64_t now_ns = (cycles / hz) * kNsPerSec + (cycles % hz) * kNsPerSec / hz;
    ++lc_.polls;
    uint32_t n = poll_once(now_ns);
    lc_.rx_packets += n;
    if (n) {
      empty_polls = 0;
      sleep_us = 0;
    } else {
      idle(empty_polls, sleep_us);
    }
    if (now_ns >= next_timer) {
      for (auto& q : queues_) q->stack.on_timer(Tick{now_ns});
      next_timer = now_ns + kTimerPeriodNs;
    }
  }
  for (auto& q : queues_) {
    q->netif.flush();
    q->stack.sync_counters();
    lc_.tx_drop_full += q->netif.tx_dropped();
  }
  return 0;
}

int net_lcore_entry(void* arg) {
  auto* l = static_cast<NetLcoreLaunch*>(arg);
  return l->lcore->run(*l->stop);
}

}  // namespace mx::dp
