// tcpstack/tcp_rxq.cc — the receive side: in-order queue, out-of-order reassembly, the
// receive window, and the application's read/take/release.
//
// Overlap policy (one rule, everywhere): bytes already received win. A segment that overlaps
// data we hold (in order or out of order) contributes only the sequence ranges nobody has filled
// yet; conflicting bytes in the overlap are ignored, so the application receives each sequence
// number exactly once, from its first arrival. Out-of-order data is bounded per connection by
// TcpConfig::ooo_budget, where each segment costs at least kTcpOooSegCharge (so tiny segments
// cannot pin a block each for a byte each); beyond that it is dropped (counted) and the peer
// retransmits it.
//
// Lcore-wide pressure: the blocks and segment descriptors are shared by every connection of the
// lcore, so many connections each within its budget could still exhaust them and starve in-order
// data (which is what lets sessions progress). When a new piece of received data would leave
// fewer than 1/kTcpOooPruneLowDiv of either pool free, other connections' out-of-order queues
// are dropped, the oldest holder first, until 1/kTcpOooPruneHighDiv is free again. Dropping
// out-of-order data is always safe: it was never acknowledged cumulatively, so the peer keeps it
// and retransmits it (a SACKed range may be reneged, RFC 2018 8).
#include <cstring>

#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

uint32_t TcpLayer::rcv_window(const TcpConn* c) const noexcept {
  const uint32_t used = c->rcv_queued + c->ooo_bytes;
  return used >= cfg_.rcv_buf ? 0 : cfg_.rcv_buf - used;
}

bool TcpLayer::rx_pressure() const noexcept {
  return blocks_.available() < blocks_.capacity() / kTcpOooPruneLowDiv ||
         segs_.available() < segs_.capacity() / kTcpOooPruneLowDiv;
}

// Keeps c in (or out of) the lcore's list of out-of-order holders, in order of arrival.
void TcpLayer::ooo_track(TcpConn* c) noexcept {
  if (c->ooo_head && !c->ooo_linked) {
    c->ooo_older = ooo_last_;
    c->ooo_newer = nullptr;
    if (ooo_last_) ooo_last_->ooo_newer = c; else ooo_first_ = c;
    ooo_last_ = c;
    c->ooo_linked = true;
  } else if (!c->ooo_head && c->ooo_linked) {
    if (c->ooo_older) c->ooo_older->ooo_newer = c->ooo_newer; else ooo_first_ = c->ooo_newer;
    if (c->ooo_newer) c->ooo_newer->ooo_older = c->ooo_older; else ooo_last_ = c->ooo_older;
    c->ooo_older = c->ooo_newer = nullptr;
    c->ooo_linked = false;
  }
}

// Drops whole out-of-order queues, oldest holder first, skipping `keep` (the connection whose
// segment is being stored: its list is being walked), until the pools are out of the low zone.
void TcpLayer::ooo_prune(const TcpConn* keep) noexcept {
  TcpConn* c = ooo_first_;
  while (c && (blocks_.available() < blocks_.capacity() / kTcpOooPruneHighDiv ||
               segs_.available() < segs_.capacity() / kTcpOooPruneHighDiv)) {
    TcpConn* next = c->ooo_newer;
    if (c != keep) {
      while (RxSeg* s = c->ooo_head) {
        c->ooo_head = s->next;
        release(s->buf);
        segs_.free(s);
        ++ctr_.tcp_ooo_pruned;
      }
      c->rx_segs = static_cast<uint16_t>(c->rx_segs - c->ooo_segs);
      c->ooo_segs = 0;
      c->ooo_bytes = 0;
      c->clear(kCfOooFin);  // the peer sends its FIN again with the data before it
      ooo_track(c);
      ++ctr_.tcp_ooo_prune_conns;
    }
    c = next;
  }
}

// One run of received bytes (at most one block when copied) as an RxSeg, or nullptr when the
// per-lcore pools are exhausted.
RxSeg* TcpLayer::make_seg(TcpConn* c, const PacketView& pkt, const uint8_t* data, uint32_t len) noexcept {
  if (ooo_first_ && rx_pressure()) ooo_prune(c);
  RxSeg* seg = segs_.alloc();
  if (!seg) return nullptr;
  // Packet buffers are the port's receive pool: never hold more than the configured share, so
  // connections whose readers stall cannot starve the port (beyond it, payload is copied).
  if (pkt.handle && len >= kTcpCopyBelow && held_ < cfg_.max_held_packets) {
    netif_.rx_hold(pkt.handle);
    ++held_;
    seg->buf = RxBuf{data, len, kTcpNoBlock, pkt.handle};
    return seg;
  }
  const uint32_t b = blocks_.alloc();
  if (b == kTcpNoBlock) {
    segs_.free(seg);
    return nullptr;
  }
  std::memcpy(blocks_.data(b), data, len);
  seg->buf = RxBuf{blocks_.data(b), len, b, nullptr};
  ++ctr_.tcp_rx_copied_segments;
  return seg;
}

// Appends in-order bytes at rcv_nxt; returns how many were taken (all unless out of memory).
uint32_t TcpLayer::deliver(TcpConn* c, const uint8_t* p, uint32_t n, const PacketView& pkt) noexcept {
  uint32_t done = 0;
  // Small payloads join the tail block when it has room (one-byte segments cost no descriptor).
  RxSeg* tail = c->rcvq_tail;
  if (tail && tail->buf.block != kTcpNoBlock && n < kTcpCopyBelow) {
    const uint8_t* end = tail->buf.data + tail->buf.len;
    const uint32_t room = static_cast<uint32_t>(blocks_.data(tail->buf.block) + kTcpBlockSize - end);
    if (room >= n) {
      std::memcpy(const_cast<uint8_t*>(end), p, n);
      tail->buf.len += n;
      done = n;
    }
  }
  while (done < n) {
    if (c->rx_segs >= kTcpMaxRxSegs) break;
    const bool copy = !pkt.handle || n - done < kTcpCopyBelow || held_ >= cfg_.max_held_packets;
    const uint32_t piece = copy ? std::min(n - done, kTcpBlockSize) : n - done;
    RxSeg* seg = make_seg(c, pkt, p + done, piece);
    if (!seg) break;
    seg->seq = c->rcv_nxt + done;
    rcvq_append(c, seg);
    done += piece;
  }
  if (done < n) ++ctr_.tcp_drop_rx_budget;
  if (done) {
    c->rcv_nxt = c->rcv_nxt + done;
    c->rcv_queued += done;
    ctr_.tcp_rx_bytes += done;
    notify(c, kEvData);
  }
  return done;
}

void TcpLayer::rcvq_append(TcpConn* c, RxSeg* seg) noexcept {
  seg->next = nullptr;
  if (c->rcvq_tail) c->rcvq_tail->next = seg; else c->rcvq_head = seg;
  c->rcvq_tail = seg;
  ++c->rx_segs;
}

// Queues [seq, seq+len) out of order, filling only the gaps between what is already held.
void TcpLayer::ooo_insert(TcpConn* c, SeqNum seq, const uint8_t* data, uint32_t len, const PacketView& pkt) noexcept {
  const SeqNum end = seq + len;
  SeqNum cur = seq;
  RxSeg* prev = nullptr;
  RxSeg* node = c->ooo_head;
  while (seq_lt(cur, end)) {
    while (node && seq_le(node->seq + node->buf.len, cur)) {
      prev = node;
      node = node->next;
    }
    SeqNum gap_end = end;
    if (node && seq_lt(node->seq, end)) {
      if (seq_le(node->seq, cur)) {  // cur is inside node: skip past it
        cur = node->seq + node->buf.len;
        prev = node;
        node = node->next;
        continue;
      }
      gap_end = node->seq;
    }
    uint32_t piece = seq_diff(gap_end, cur);
    const bool copy = !pkt.handle || piece < kTcpCopyBelow || held_ >= cfg_.max_held_packets;
    if (copy) piece = std::min(piece, kTcpBlockSize);
    if (c->rx_segs >= kTcpMaxRxSegs || c->ooo_bytes + piece > cfg_.ooo_budget ||
        (c->ooo_segs + 1u) * kTcpOooSegCharge > cfg_.ooo_budget) {
      ++ctr_.tcp_drop_ooo_budget;
      break;
    }
    RxSeg* seg = make_seg(c, pkt, data + seq_diff(cur, seq), piece);
    if (!seg) {
      ++ctr_.tcp_drop_rx_budget;
      break;
    }
    seg->seq = cur;
    seg->next = node;
    if (prev) prev->next = seg; else c->ooo_head = seg;
    prev = seg;
    ++c->ooo_segs;
    ++c->rx_segs;
    c->ooo_bytes += piece;
    ++ctr_.tcp_ooo_segments;
    cur = cur + piece;
  }
  ooo_track(c);
}

// Moves out-of-order segments that now continue the stream to the receive queue.
void TcpLayer::ooo_pull(TcpConn* c) noexcept {
  while (c->ooo_head && c->ooo_head->seq == c->rcv_nxt) {
    RxSeg* seg = c->ooo_head;
    c->ooo_head = seg->next;
    --c->ooo_segs;
    --c->rx_segs;  // rcvq_append counts it again
    c->ooo_bytes -= seg->buf.len;
    c->rcv_nxt = c->rcv_nxt + seg->buf.len;
    c->rcv_queued += seg->buf.len;
    ctr_.tcp_rx_bytes += seg->buf.len;
    rcvq_append(c, seg);
    notify(c, kEvData);
  }
  ooo_track(c);
}

// Up to `max` SACK blocks describing the out-of-order data (RFC 2018 3), lowest first; adjacent
// segments are merged into one block.
uint8_t TcpLayer::ooo_sack(const TcpConn* c, SackBlock* out, uint8_t max) const noexcept {
  uint8_t n = 0;
  for (const RxSeg* s = c->ooo_head; s; s = s->next) {
    const SeqNum right = s->seq + s->buf.len;
    if (n && out[n - 1].right == s->seq) {
      out[n - 1].right = right;
      continue;
    }
    if (n == max) break;
    out[n++] = SackBlock{s->seq, right};
  }
  return n;
}

void TcpLayer::rx_purge(TcpConn* c) noexcept {
  for (RxSeg** head : {&c->rcvq_head, &c->ooo_head}) {
    while (*head) {
      RxSeg* s = *head;
      *head = s->next;
      release(s->buf);
      segs_.free(s);
    }
  }
  c->rcvq_tail = nullptr;
  c->rx_segs = 0;
  c->ooo_segs = 0;
  c->rcv_queued = 0;
  c->ooo_bytes = 0;
  ooo_track(c);
}

ByteSpan TcpLayer::peek(const TcpConn& c) const noexcept {
  if (!c.rcvq_head) return {};
  return {c.rcvq_head->buf.data, c.rcvq_head->buf.len};
}

void TcpLayer::consume(TcpConn& c, uint32_t n) noexcept {
  n = std::min(n, c.rcv_queued);
  c.rcv_queued -= n;
  while (n) {
    RxSeg* s = c.rcvq_head;
    if (n < s->buf.len) {
      s->buf.data += n;
      s->buf.len -= n;
      s->seq = s->seq + n;
      break;
    }
    n -= s->buf.len;
    c.rcvq_head = s->next;
    if (!c.rcvq_head) c.rcvq_tail = nullptr;
    --c.rx_segs;
    release(s->buf);
    segs_.free(s);
  }
  window_update(&c);
}

uint32_t TcpLayer::read(TcpConn& c, uint8_t* out, uint32_t n) noexcept {
  uint32_t done = 0;
  for (RxSeg* s = c.rcvq_head; s && done < n; s = s->next) {
    const uint32_t k = std::min(n - done, s->buf.len);
    std::memcpy(out + done, s->buf.data, k);
    done += k;
  }
  consume(c, done);
  return done;
}

bool TcpLayer::take(TcpConn& c, RxBuf& out) noexcept {
  RxSeg* s = c.rcvq_head;
  if (!s) return false;
  out = s->buf;
  c.rcvq_head = s->next;
  if (!c.rcvq_head) c.rcvq_tail = nullptr;
  --c.rx_segs;
  c.rcv_queued -= s->buf.len;
  segs_.free(s);
  window_update(&c);
  return true;
}

void TcpLayer::release(RxBuf& b) noexcept {
  if (b.handle) {
    netif_.rx_release(b.handle);
    --held_;
  }
  if (b.block != kTcpNoBlock) blocks_.free(b.block);
  b = RxBuf{};
}

// After the application freed receive space: announce the larger window when it grew by at
// least two segments or half the buffer (RFC 9293 3.8.6.2.2, receiver-side SWS avoidance).
void TcpLayer::window_update(TcpConn* c) noexcept {
  if (c->has(kCfDead) || c->state == TcpState::kSynSent || c->state == TcpState::kSynReceived ||
      c->has(kCfFinRcvd))
    return;
  const SeqNum right = c->rcv_nxt + rcv_window(c);
  if (!seq_gt(right, c->rcv_adv)) return;
  const uint32_t grow = seq_diff(right, c->rcv_adv);
  if (grow >= 2u * c->mss || grow >= cfg_.rcv_buf / 2) send_ack(c);
}

}  // namespace mx::net
