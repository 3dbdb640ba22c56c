// tests/unit/tcpstack/sim.h — a deterministic simulator: two NetStacks joined by a simulated
// Ethernet link with a virtual clock and a seeded impairment model per direction (loss,
// duplication, reordering, corruption, delay, bandwidth limit with a bounded queue). Nothing
// depends on wall time or global state, so a seed reproduces a run exactly. The TCP benchmark
// uses it with impairments off as its in-memory link.
#pragma once

#include <array>
#include <deque>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "tcpstack/impair.h"
#include "tcpstack/stack.h"

namespace mx::test {

struct LinkModel {
  net::ImpairConfig impair;
  uint64_t delay_ns = 0;          // one-way propagation delay
  uint64_t reorder_ns = 0;        // extra delay of a reordered frame (default: 3 frame times or 1 ms)
  uint64_t bandwidth_bps = 0;     // 0: unlimited
  uint32_t queue_bytes = 256 * 1024;  // tail drop beyond this backlog (with a bandwidth limit)
};

class Sim;

class SimNetif final : public net::Netif {
 public:
  SimNetif(Sim& sim, int side, MacAddr mac) : sim_(sim), side_(side), mac_(mac) {}
  MacAddr mac() const override { return mac_; }
  uint16_t mtu() const override { return mtu_; }
  uint32_t tx_caps() const override { return caps_; }
  bool tx_alloc(uint32_t len, net::TxFrame& out) override;
  void tx_submit(net::TxFrame& frame) override;
  void rx_hold(void* handle) override;
  void rx_release(void* handle) override;
  uint16_t mtu_ = 1500;
  uint32_t caps_ = 0;

 private:
  Sim& sim_;
  int side_;
  MacAddr mac_;
};

struct SimStats {
  uint64_t frames = 0, dropped = 0, duplicated = 0, reordered = 0, corrupted = 0, queue_drops = 0;
};

class Sim {
 public:
  static constexpr uint32_t kBufSize = 2048;
  static constexpr Ipv4Addr kIpA{0xC6120001};  // 198.18.0.1
  static constexpr Ipv4Addr kIpB{0xC6120002};  // 198.18.0.2

  Sim(uint64_t seed, const LinkModel& a_to_b, const LinkModel& b_to_a, const net::TcpConfig& tcp = {},
      uint64_t start_ns = 1'000'000'000);
  ~Sim();
  net::NetStack& a() { return *stack_[0]; }
  net::NetStack& b() { return *stack_[1]; }
  net::NetStack& side(int i) { return *stack_[i]; }
  Tick now() const { return Tick{now_}; }
  // Teaches each side the other's MAC (skips the ARP exchange, as benchmarks want).
  void prime_arp();
  // Both ports offer checksum offload: senders leave checksums to the "NIC", receivers are told
  // the NIC verified them (a corrupted frame is flagged bad, as a NIC would find it).
  void set_offload(bool on);
  // Runs the link and the timers until pred() holds or `limit_ns` of virtual time passed.
  template <typename Pred>
  bool run_until(Pred&& pred, uint64_t limit_ns) {
    const uint64_t end = now_ + limit_ns;
    while (!pred()) {
      if (now_ >= end) return false;
      step(end);
    }
    return true;
  }
  const SimStats& stats(int dir) const { return stats_[dir]; }
  uint32_t buffers_in_use() const { return static_cast<uint32_t>(bufs_.size() - free_.size()); }
  uint64_t oversize_frames = 0;  // frames larger than the MTU that a stack tried to send

  // for SimNetif
  bool alloc(uint32_t& idx);
  uint8_t* data(uint32_t idx) { return bufs_[idx].data(); }
  void ref(uint32_t idx) { ++refs_[idx]; }
  void unref(uint32_t idx);
  void transmit(int from, uint32_t idx, uint32_t len, uint32_t offload);

 private:
  struct InFlight {
    uint64_t due, order;
    uint32_t idx, len;
    int to;
    uint32_t rx_flags;
    bool operator>(const InFlight& o) const { return due != o.due ? due > o.due : order > o.order; }
  };
  void step(uint64_t end);
  void enqueue(int to, uint32_t idx, uint32_t len, uint64_t due, uint32_t rx_flags);

  uint64_t now_;
  uint64_t order_ = 0;
  LinkModel link_[2];
  net::ImpairRng rng_[2];
  uint64_t link_free_at_[2] = {0, 0};
  SimStats stats_[2];
  std::deque<std::array<uint8_t, kBufSize>> bufs_;  // deque: held buffers never move
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> free_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<InFlight>> q_;
  std::unique_ptr<SimNetif> netif_[2];
  std::unique_ptr<net::NetStack> stack_[2];
};

// A deterministic byte stream: byte i of stream `seed`.
class StreamGen {
 public:
  explicit StreamGen(uint64_t seed) : seed_(seed) {}
  void fill(uint64_t offset, uint8_t* out, uint32_t n) const;

 private:
  uint64_t seed_;
};

}  // namespace mx::test
