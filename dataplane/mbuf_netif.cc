// dataplane/mbuf_netif.cc
#include "dataplane/mbuf_netif.h"

namespace mx::dp {

bool MbufNetif::tx_alloc(uint32_t len, net::TxFrame& out) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) return false;
  if (len > rte_pktmbuf_tailroom(m)) {
    rte_pktmbuf_free(m);
    return false;
  }
  out.data = rte_pktmbuf_mtod(m, uint8_t*);
  out.capacity = rte_pktmbuf_tailroom(m);
  out.len = 0;
  out.handle = m;
  return true;
}

void MbufNetif::tx_submit(net::TxFrame& frame) {
  auto* m = static_cast<rte_mbuf*>(frame.handle);
  m->data_len = static_cast<uint16_t>(frame.len);
  m->pkt_len = frame.len;
  frame.handle = nullptr;
  if (pending_n_ == cfg::kMaxBurst) flush();
  pending_[pending_n_++] = m;
}

void MbufNetif::flush() noexcept {
  if (pending_n_ == 0) return;
  uint16_t sent = rte_eth_tx_burst(port_, queue_, pending_, pending_n_);
  if (sent < pending_n_) {
    rte_pktmbuf_free_bulk(pending_ + sent, pending_n_ - sent);
    tx_dropped_ += pending_n_ - sent;
  }
  pending_n_ = 0;
}

void MbufNetif::drop_pending() noexcept {
  if (pending_n_) rte_pktmbuf_free_bulk(pending_, pending_n_);
  pending_n_ = 0;
}

net::PacketView MbufNetif::view(const rte_mbuf* m) noexcept {
  net::PacketView v;
  v.data = rte_pktmbuf_mtod(m, const uint8_t*);
  v.len = rte_pktmbuf_data_len(m);
  uint64_t f = m->ol_flags;
  if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD) v.rx_flags |= net::kRxIpCsumGood;
  if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD) v.rx_flags |= net::kRxIpCsumBad;
  if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) v.rx_flags |= net::kRxL4CsumGood;
  if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD) v.rx_flags |= net::kRxL4CsumBad;
  return v;
}

}  // namespace mx::dp
