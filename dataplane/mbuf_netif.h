// dataplane/mbuf_netif.h — Netif over one DPDK port queue: frames are mbufs, written in place
// and sent in bursts; nothing is copied between the stack and the NIC.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "common/net_types.h"
#include "dataplane/config.h"
#include "tcpstack/packet.h"

namespace mx::dp {

class MbufNetif final : public net::Netif {
 public:
  MbufNetif(uint16_t port, uint16_t queue, rte_mempool* pool, const MacAddr& mac, uint16_t mtu)
      : port_(port), queue_(queue), pool_(pool), mac_(mac), mtu_(mtu) {}
  ~MbufNetif() override { drop_pending(); }
  MbufNetif(const MbufNetif&) = delete;
  MbufNetif& operator=(const MbufNetif&) = delete;

  MacAddr mac() const override { return mac_; }
  uint16_t mtu() const override { return mtu_; }
  bool tx_alloc(uint32_t len, net::TxFrame& out) override;
  void tx_submit(net::TxFrame& frame) override;
  void rx_hold(void* handle) override { rte_mbuf_refcnt_update(static_cast<rte_mbuf*>(handle), 1); }
  void rx_release(void* handle) override { rte_pktmbuf_free(static_cast<rte_mbuf*>(handle)); }

  // Sends what is queued; frames the queue cannot take are freed and counted.
  void flush() noexcept;
  uint64_t tx_dropped() const noexcept { return tx_dropped_; }

  // View of a received single-segment mbuf (no copy).
  static net::PacketView view(const rte_mbuf* m) noexcept;

 private:
  void drop_pending() noexcept;

  uint16_t port_, queue_;
  rte_mempool* pool_;
  MacAddr mac_;
  uint16_t mtu_;
  uint16_t pending_n_ = 0;
  uint64_t tx_dropped_ = 0;
  rte_mbuf* pending_[cfg::kMaxBurst]{};
};

}  // namespace mx::dp
