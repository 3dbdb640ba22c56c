// dataplane/mbuf_netif.h — Netif over one DPDK port queue: frames are mbufs, written in place
// and sent in bursts; nothing is copied between the stack and the NIC.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "common/net_types.h"
#include "dataplane/config.h"
#include "tcpstack/impair.h"
#include "tcpstack/packet.h"

namespace mx::dp {

class MbufNetif final : public net::Netif {
 public:
  MbufNetif(uint16_t port, uint16_t queue, rte_mempool* pool, const MacAddr& mac, uint16_t mtu, uint32_t tx_caps)
      : port_(port), queue_(queue), pool_(pool), mac_(mac), mtu_(mtu), tx_caps_(tx_caps) {}
  ~MbufNetif() override {
    drop_pending();
    if (held_) rte_pktmbuf_free(held_);
  }
  MbufNetif(const MbufNetif&) = delete;
  MbufNetif& operator=(const MbufNetif&) = delete;

  MacAddr mac() const override { return mac_; }
  uint16_t mtu() const override { return mtu_; }
  uint32_t tx_caps() const override { return tx_caps_; }
  bool tx_alloc(uint32_t len, net::TxFrame& out) override;
  void tx_submit(net::TxFrame& frame) override;
  void rx_hold(void* handle) override { rte_mbuf_refcnt_update(static_cast<rte_mbuf*>(handle), 1); }
  void rx_release(void* handle) override { rte_pktmbuf_free(static_cast<rte_mbuf*>(handle)); }

  // Sends what is queued; frames the queue cannot take are freed and counted.
  void flush() noexcept;
  uint64_t tx_dropped() const noexcept { return tx_dropped_; }
  uint64_t tx_retries() const noexcept { return tx_retries_; }
  // The impairment layer on transmit (see cfg::PortConfig::impair_*).
  void set_impair(const net::ImpairConfig& c, uint64_t seed) noexcept {
    impair_ = c;
    rng_ = net::ImpairRng(seed);
  }
  uint64_t impair_drop = 0, impair_dup = 0, impair_reorder = 0;

  // View of a received single-segment mbuf (no copy); the handle lets TCP hold it.
  static net::PacketView view(rte_mbuf* m) noexcept;

 private:
  void drop_pending() noexcept;
  void enqueue(rte_mbuf* m) noexcept;

  uint16_t port_, queue_;
  rte_mempool* pool_;
  MacAddr mac_;
  uint16_t mtu_;
  uint32_t tx_caps_;
  uint16_t pending_n_ = 0;
  uint64_t tx_dropped_ = 0;
  uint64_t tx_retries_ = 0;  // flushes the device did not take whole
  uint32_t head_fails_ = 0;  // consecutive flushes that sent nothing
  static constexpr uint32_t kMaxHeadFails = 64;
  rte_mbuf* pending_[cfg::kMaxBurst]{};
  net::ImpairConfig impair_;
  net::ImpairRng rng_{1};
  rte_mbuf* held_ = nullptr;  // reordered: sent after the next frame
};

}  // namespace mx::dp
