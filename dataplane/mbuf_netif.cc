// dataplane/mbuf_netif.cc
#include "dataplane/mbuf_netif.h"

#include <cstring>

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
  if (frame.offload) {  // IPv4 without options, after an untagged Ethernet header
    m->l2_len = 14;
    m->l3_len = 20;
    m->ol_flags = RTE_MBUF_F_TX_IPV4;
    if (frame.offload & net::kTxIpv4Csum) m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
    if (frame.offload & net::kTxTcpCsum) m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  }
  frame.handle = nullptr;
  if (impair_.any()) {
    switch (net::impair_decide(impair_, rng_)) {
      case net::ImpairAction::kDrop:
        ++impair_drop;
        rte_pktmbuf_free(m);
        return;
      case net::ImpairAction::kDup:
        // A copy, not a second reference: drivers may finish checksums in the buffer in place.
        if (rte_mbuf* d = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX)) {
          ++impair_dup;
          d->l2_len = m->l2_len;
          d->l3_len = m->l3_len;
          d->ol_flags = m->ol_flags;
          enqueue(d);
        }
        break;
      case net::ImpairAction::kReorder:
        if (!held_) {
          ++impair_reorder;
          held_ = m;
          return;
        }
        break;
      case net::ImpairAction::kPass:
      case net::ImpairAction::kCorrupt:
        break;
    }
    enqueue(m);
    if (held_) {
      enqueue(held_);
      held_ = nullptr;
    }
    return;
  }
  enqueue(m);
}

void MbufNetif::enqueue(rte_mbuf* m) noexcept {
  if (pending_n_ == cfg::kMaxBurst) flush();
  if (pending_n_ == cfg::kMaxBurst) {  // the device took nothing: this frame is lost (counted)
    rte_pktmbuf_free(m);
    ++tx_dropped_;
    return;
  }
  pending_[pending_n_++] = m;
}

void MbufNetif::flush() noexcept {
  if (held_ && pending_n_ == 0) {  // nothing followed it in this round: send it now
    pending_[pending_n_++] = held_;
    held_ = nullptr;
  }
  if (pending_n_ == 0) return;
  uint16_t sent = rte_eth_tx_burst(port_, queue_, pending_, pending_n_);
  head_fails_ = sent ? 0 : head_fails_ + 1;
  if (sent == 0 && head_fails_ >= kMaxHeadFails) {  // the device refuses this frame for good
    rte_pktmbuf_free(pending_[0]);
    ++tx_dropped_;
    sent = 1;
    head_fails_ = 0;
  }
  if (sent < pending_n_) {
    // The queue is full (or the device refused a frame): keep the rest, in order, for the next
    // flush rather than losing them; only when the pending array is full are frames dropped.
    std::memmove(pending_, pending_ + sent, (pending_n_ - sent) * sizeof(rte_mbuf*));
    pending_n_ = static_cast<uint16_t>(pending_n_ - sent);
    ++tx_retries_;
    return;
  }
  pending_n_ = 0;
}

void MbufNetif::drop_pending() noexcept {
  if (pending_n_) rte_pktmbuf_free_bulk(pending_, pending_n_);
  pending_n_ = 0;
}

net::PacketView MbufNetif::view(rte_mbuf* m) noexcept {
  net::PacketView v;
  v.handle = m;
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
