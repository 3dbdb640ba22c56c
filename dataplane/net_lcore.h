// dataplane/net_lcore.h — the net lcore: rx burst -> stack -> tx burst, per-lcore state.
//
// Threads: one NetLcore per net lcore, created by main before launch and touched only by its
// own lcore until that lcore has returned. No heap allocation, lock or log call in the loop;
// the only syscall is the idle back-off sleep (IdleMode::kAdaptive).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/config.h"
#include "dataplane/gateway.h"
#include "dataplane/mbuf_netif.h"
#include "dataplane/port.h"
#include "tcpstack/impair.h"
#include "tcpstack/stack.h"
#include "tcpstack/tcp_services.h"

namespace mx::dp {

struct alignas(64) LoopCounters {
  uint64_t polls = 0;
  uint64_t rx_packets = 0;
  uint64_t idle_sleeps = 0;
  uint64_t tx_drop_full = 0;
  uint64_t tx_retries = 0;  // flushes the port did not take whole (frames kept for the next)
  uint64_t impair_drop = 0, impair_dup = 0, impair_reorder = 0;
};

struct PortQueue {
  PortQueue(const Port& p, uint16_t q, rte_mempool* pool, const net::StackConfig& sc)
      : port(&p), queue(q), netif(p.id, q, pool, p.mac, p.cfg->mtu, p.tx_caps), stack(netif, sc),
        services(stack.tcp()), impair_rng(p.cfg->impair_seed * 1000 + q) {}
  const Port* port;
  uint16_t queue;
  MbufNetif netif;
  net::NetStack stack;
  net::TcpServices services;
  net::ImpairConfig impair;
  net::ImpairRng impair_rng;
  std::unique_ptr<Gateway> gateway;  // the SMTP gateway on this port's address ([gateway])
  rte_mbuf* held = nullptr;  // a frame the impairment layer holds back (reordering)
  bool held_new = false;
};

class NetLcore {
 public:
  NetLcore(uint32_t lcore, uint16_t queue, const cfg::Config& c, const std::vector<Port>& ports,
           rte_mempool* pool);
  ~NetLcore();
  // Starts the configured test services (before launch); an error names the port.
  Expected<bool> start_services(bool with_source);
  // Starts the SMTP gateway on every port (before launch).
  Expected<bool> start_gateway(GatewayShared& shared);
  // Runs until `stop` is set; returns 0.
  int run(const std::atomic<bool>& stop) noexcept;

  uint32_t lcore() const noexcept { return lcore_; }
  const LoopCounters& loop_counters() const noexcept { return lc_; }
  const std::vector<std::unique_ptr<PortQueue>>& queues() const noexcept { return queues_; }

 private:
  uint32_t poll_once(uint64_t now_ns) noexcept;
  void rx_frame(PortQueue& q, rte_mbuf* m, Tick now, rte_mbuf** to_free, uint16_t& nfree) noexcept;
  void idle(uint32_t& empty_polls, uint32_t& sleep_us) noexcept;

  uint32_t lcore_;
  const cfg::DataplaneConfig& dc_;
  const cfg::TcpSection& tc_;
  bool source_pending_ = false;
  std::vector<std::unique_ptr<PortQueue>> queues_;
  LoopCounters lc_;
};

// rte_eal_remote_launch entry point; arg is a NetLcoreLaunch*.
struct NetLcoreLaunch {
  NetLcore* lcore;
  const std::atomic<bool>* stop;
};
int net_lcore_entry(void* arg);

}  // namespace mx::dp
