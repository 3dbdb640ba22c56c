// dataplane/net_lcore.cc
#include "dataplane/net_lcore.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>
#include <sys/random.h>

namespace mx::dp {
namespace {
constexpr uint32_t kIdleSleepStartUs = 8;
constexpr uint64_t kTimerPeriodNs = kNsPerSec;
}  // namespace

NetLcore::NetLcore(uint32_t lcore, uint16_t queue, const cfg::Config& c, const std::vector<Port>& ports,
                   rte_mempool* pool)
    : lcore_(lcore), dc_(c.dataplane), tc_(c.tcp) {
  // The secret behind ISNs (RFC 6528), SYN cookies and the connection hash: from the kernel's
  // random source, once, here (tcpstack makes no syscall).
  uint64_t key[2] = {0, 0};
  if (getrandom(key, sizeof key, 0) != sizeof key) key[0] = rte_get_tsc_cycles() ^ (uint64_t{lcore} << 56);
  for (const Port& p : ports) {
    net::StackConfig sc;
    sc.ipv4 = p.cfg->ipv4;
    sc.ipv6 = p.cfg->ipv6;
    sc.arp_entries = dc_.arp_entries;
    sc.arp_reachable_ns = uint64_t{dc_.arp_reachable_s} * kNsPerSec;
    sc.tcp.max_conns = tc_.max_conns;
    sc.tcp.blocks = tc_.buffer_blocks;
    sc.tcp.rx_segs = tc_.rx_segs;
    sc.tcp.rcv_buf = tc_.rcv_buf;
    sc.tcp.snd_buf = tc_.snd_buf;
    sc.tcp.ooo_budget = tc_.rcv_buf;
    // TCP may hold at most half the mbuf pool (shared by every queue of every lcore) in place.
    sc.tcp.max_held_packets =
        dc_.mbufs / 2 / static_cast<uint32_t>(ports.size() * std::max<size_t>(1, dc_.net_lcores.size()));
    sc.tcp.syn_backlog = static_cast<uint16_t>(tc_.syn_backlog);
    sc.tcp.accept_backlog = static_cast<uint16_t>(tc_.accept_backlog);
    sc.tcp.msl_ns = uint64_t{tc_.msl_s} * kNsPerSec;
    sc.tcp.keepalive_idle_ns = uint64_t{tc_.keepalive_idle_s} * kNsPerSec;
    sc.tcp.persist_max_ns = uint64_t{tc_.persist_timeout_s} * kNsPerSec;
    sc.tcp.key0 = key[0] ^ p.id;
    sc.tcp.key1 = key[1];
    auto q = std::make_unique<PortQueue>(p, queue, pool, sc);
    q->impair = net::ImpairConfig{p.cfg->impair_drop_ppm / 1e6, p.cfg->impair_dup_ppm / 1e6,
                                  p.cfg->impair_reorder_ppm / 1e6, 0};
    q->netif.set_impair(q->impair, p.cfg->impair_seed * 1000 + 500 + queue);
    queues_.push_back(std::move(q));
  }
}

NetLcore::~NetLcore() {
  for (auto& q : queues_)
    if (q->held) rte_pktmbuf_free(q->held);
}

Expected<bool> NetLcore::start_services(bool with_source) {
  for (auto& q : queues_) {
    if (!tc_.services) break;
    auto ok = q->services.start(q->port->cfg->ipv4.addr, tc_.services);
    if (!ok) return Error{"port '" + q->port->cfg->name + "': test services: " + ok.error().message};
  }
  source_pending_ = with_source && tc_.source_ip.has_value();
  return true;
}

Expected<bool> NetLcore::start_gateway(GatewayShared& shared) {
  for (auto& q : queues_) {
    q->gateway = std::make_unique<Gateway>(shared, q->stack.tcp(), q->port->cfg->ipv4.addr, lcore_);
    auto ok = q->gateway->start();
    if (!ok) return Error{"port '" + q->port->cfg->name + "': " + ok.error().message};
  }
  return true;
}

// One received frame through the impairment layer (when configured) into the stack.
void NetLcore::rx_frame(PortQueue& q, rte_mbuf* m, Tick now, rte_mbuf** to_free, uint16_t& nfree) noexcept {
  if (m->nb_segs != 1) {
    ++q.stack.counters().eth_drop_multiseg;
    to_free[nfree++] = m;
    return;
  }
  if (q.impair.any()) {
    switch (net::impair_decide(q.impair, q.impair_rng)) {
      case net::ImpairAction::kDrop:
        ++lc_.impair_drop;
        to_free[nfree++] = m;
        return;
      case net::ImpairAction::kDup:
        ++lc_.impair_dup;
        q.stack.input(MbufNetif::view(m), now);
        break;
      case net::ImpairAction::kReorder:
        if (!q.held) {
          ++lc_.impair_reorder;
          q.held = m;  // delivered after the frames of the next burst
          q.held_new = true;
          return;
        }
        break;
      case net::ImpairAction::kPass:
      case net::ImpairAction::kCorrupt:
        break;
    }
  }
  q.stack.input(MbufNetif::view(m), now);
  to_free[nfree++] = m;
}

uint32_t NetLcore::poll_once(uint64_t now_ns) noexcept {
  rte_mbuf* rx[cfg::kMaxBurst];
  uint32_t total = 0;
  Tick now{now_ns};
  for (auto& q : queues_) {
    uint16_t n = rte_eth_rx_burst(q->port->id, q->queue, rx, static_cast<uint16_t>(dc_.burst));
    rte_mbuf* to_free[cfg::kMaxBurst + 1];
    uint16_t nfree = 0;
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
      rx_frame(*q, rx[i], now, to_free, nfree);
    }
    if (q->held && !q->held_new) {
      q->stack.input(MbufNetif::view(q->held), now);
      to_free[nfree++] = q->held;
      q->held = nullptr;
    }
    q->held_new = false;
    // Buffers TCP holds (zero-copy receive) keep a reference: this only drops ours.
    if (nfree) rte_pktmbuf_free_bulk(to_free, nfree);
    q->stack.poll(now);
    if (q->gateway) q->gateway->poll(now);
    if (source_pending_ && now_ns >= uint64_t{tc_.source_after_ms} * kNsPerMs) {
      source_pending_ = false;
      q->services.start_source(*tc_.source_ip, tc_.source_port, tc_.source_bytes);
    }
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
      for (auto& q : queues_) {
        q->stack.on_timer(Tick{now_ns});
        if (q->gateway) q->gateway->on_timer(Tick{now_ns});
      }
      next_timer = now_ns + kTimerPeriodNs;
    }
  }
  for (auto& q : queues_) {
    q->netif.flush();
    q->stack.sync_counters();
    lc_.tx_drop_full += q->netif.tx_dropped();
    lc_.tx_retries += q->netif.tx_retries();
    lc_.impair_drop += q->netif.impair_drop;
    lc_.impair_dup += q->netif.impair_dup;
    lc_.impair_reorder += q->netif.impair_reorder;
  }
  return 0;
}

int net_lcore_entry(void* arg) {
  auto* l = static_cast<NetLcoreLaunch*>(arg);
  return l->lcore->run(*l->stop);
}

}  // namespace mx::dp
