// tcpstack/tcp_output.cc — building and sending segments: data within min(cwnd, snd_wnd),
// SYN/SYN-ACK with options, ACKs with timestamps and SACK blocks, RSTs, retransmission.
//
// Loss recovery: NewReno (RFC 6582) drives the window; when SACK was negotiated the sender keeps
// a scoreboard of up to kTcpMaxScoreboard ranges the peer reported (RFC 2018) and, in recovery,
// retransmits the holes below the highest SACKed byte in order, each once per recovery episode,
// while the estimated pipe (outstanding minus SACKed bytes) is below cwnd — a simplified form of
// RFC 6675's NextSeg/pipe. An RTO falls back to go-back-N from snd_una with one segment.
#include <algorithm>
#include <cstring>

#include "tcpstack/checksum.h"
#include "tcpstack/ipv4.h"
#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

namespace {

constexpr uint8_t kOptNop = 1, kOptMss = 2, kOptWs = 3, kOptSackPerm = 4, kOptSack = 5, kOptTs = 8;

uint32_t put_ts(uint8_t* o, uint32_t val, uint32_t ecr) {
  o[0] = kOptNop;
  o[1] = kOptNop;
  o[2] = kOptTs;
  o[3] = 10;
  store_be32(o + 4, val);
  store_be32(o + 8, ecr);
  return 12;
}

}  // namespace

uint16_t TcpLayer::adv_window(TcpConn* c) noexcept {
  SeqNum right = c->rcv_nxt + rcv_window(c);
  if (seq_lt(right, c->rcv_adv)) right = c->rcv_adv;  // never shrink (RFC 9293 3.8.6)
  uint32_t w = seq_diff(right, c->rcv_nxt) >> c->rcv_wscale;
  if (w > 65535) w = 65535;
  const SeqNum adv = c->rcv_nxt + (w << c->rcv_wscale);
  if (seq_gt(adv, c->rcv_adv)) c->rcv_adv = adv;
  return static_cast<uint16_t>(w);
}

// Writes the TCP header + options + payload and sends. Payload bytes come from the send buffer
// at `seq`. SACK blocks take option space, so `len` shrinks (and a FIN waits) when header and
// payload would exceed the MTU; the caller reads back what was sent. False when no frame could
// be built (no buffer or neighbour).
bool TcpLayer::send_segment(TcpConn* c, SeqNum seq, uint32_t& len, uint8_t& flags) noexcept {
  uint8_t opt[40];
  uint32_t ol = 0;
  if (c->has(kCfTs)) ol += put_ts(opt, ts_now(), c->ts_recent);
  if (c->has(kCfSack) && c->ooo_head) {
    SackBlock b[kTcpMaxSackBlocks];
    const uint8_t n = ooo_sack(c, b, c->has(kCfTs) ? 3 : 4);
    opt[ol++] = kOptNop;
    opt[ol++] = kOptNop;
    opt[ol++] = kOptSack;
    opt[ol++] = static_cast<uint8_t>(2 + 8 * n);
    for (uint8_t i = 0; i < n; ++i, ol += 8) {
      store_be32(opt + ol, b[i].left.v);
      store_be32(opt + ol + 4, b[i].right.v);
    }
  }
  const uint32_t hl = kTcpMinHeaderLen + ol;
  const uint32_t room = netif_.mtu() - kIpv4MinHeaderLen - hl;
  if (len > room) {
    len = room;
    flags = static_cast<uint8_t>(flags & ~(kTcpFin | kTcpPsh));
  }
  TxFrame f;
  uint8_t* t = stack_.ipv4_begin(c->t.remote, kIpProtoTcp, hl + len, f);
  if (!t) {
    ++ctr_.tcp_tx_fail;
    return false;
  }
  store_be16(t, c->t.local_port);
  store_be16(t + 2, c->t.remote_port);
  store_be32(t + 4, seq.v);
  store_be32(t + 8, (flags & kTcpAck) ? c->rcv_nxt.v : 0);
  t[12] = static_cast<uint8_t>((hl / 4) << 4);
  t[13] = flags;
  store_be16(t + 14, (flags & kTcpAck) ? adv_window(c) : 0);
  store_be32(t + 16, 0);  // checksum and urgent pointer
  std::memcpy(t + kTcpMinHeaderLen, opt, ol);
  if (len) copy_out(c, seq, t + hl, len);
  if (netif_.tx_caps() & kTxTcpCsum) {
    // The port completes the checksum from the pseudo-header sum stored in the field.
    store_be16(t + 16, tcp_pseudo_sum(c->t.local, c->t.remote, hl + len));
    f.offload |= kTxTcpCsum;
  } else {
    store_be16(t + 16, tcp_checksum({t, hl + len}, c->t.local, c->t.remote));
  }
  stack_.ipv4_send(f);
  ++ctr_.tcp_tx_segments;
  ctr_.tcp_tx_bytes += len;
  if (len && seq_lt(seq, c->snd_max)) ++ctr_.tcp_retransmit;
  if (flags & kTcpAck) {
    c->unacked_segs = 0;
    c->clear(kCfAckNow);
    wheel_.cancel(c->ack_timer);
  }
  return true;
}

// Sends new data (and the FIN when everything before it is out) as the windows allow.
void TcpLayer::output(TcpConn* c) noexcept {
  switch (c->state) {
    case TcpState::kEstablished: case TcpState::kCloseWait: case TcpState::kFinWait1:
    case TcpState::kClosing: case TcpState::kLastAck:
      break;
    default:
      return;
  }
  const SeqNum fin_seq = c->snd_una + c->snd_queued;
  const uint32_t wnd = std::min(c->snd_wnd, c->cc.cwnd());
  for (;;) {
    const uint32_t off = seq_diff(c->snd_nxt, c->snd_una);
    const uint32_t unsent = c->snd_queued > off ? c->snd_queued - off : 0;
    const uint32_t room = wnd > off ? wnd - off : 0;
    uint32_t len = std::min({unsent, static_cast<uint32_t>(c->mss), room});
    const bool fin = c->has(kCfFinQueued) && len == unsent && c->snd_nxt + len == fin_seq;
    if (len == 0 && !fin) break;
    // Sender SWS avoidance (RFC 9293 3.8.6.2.1) without Nagle: a short segment goes only when
    // it is all we have or nothing is in flight.
    if (len < c->mss && len < unsent && off > 0) break;
    uint8_t flags = kTcpAck;
    if (len && len == unsent) flags |= kTcpPsh;
    if (fin) flags |= kTcpFin;
    const bool fresh = c->snd_nxt == c->snd_max;
    if (!send_segment(c, c->snd_nxt, len, flags)) break;
    const bool fin_sent = (flags & kTcpFin) != 0;
    if (fresh && !c->has(kCfRttActive) && len) {
      c->set(kCfRttActive);
      c->rtt_seq = c->snd_nxt;
      c->rtt_start_ns = now_.ns;
    }
    c->snd_nxt = c->snd_nxt + len + (fin_sent ? 1 : 0);
    if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    if (fin_sent) c->set(kCfFinSent);
    if (c->rtx_kind != RtxKind::kRetransmit) arm_rtx(c, RtxKind::kRetransmit, c->rto.rto_ns());
    if (fin_sent) break;
  }
  // Data waits behind a zero window and nothing is outstanding: probe (RFC 9293 3.8.6.1).
  const uint32_t off = seq_diff(c->snd_nxt, c->snd_una);
  if (c->snd_wnd == 0 && c->snd_queued > off && c->snd_max == c->snd_una && c->rtx_kind != RtxKind::kPersist) {
    if (c->persist_since_ns == 0) c->persist_since_ns = now_.ns;
    arm_rtx(c, RtxKind::kPersist, c->rto.rto_ns());
  }
}

// A pure ACK carries the highest sequence number sent (RFC 9293's SND.NXT): after an RTO our
// snd_nxt walks back through old data (go-back-N), and an ACK numbered there would fall left
// of the peer's window and be discarded.
void TcpLayer::send_ack(TcpConn* c) noexcept {
  if (c->state == TcpState::kSynSent || c->state == TcpState::kClosed) return;
  uint32_t len = 0;
  uint8_t flags = kTcpAck;
  send_segment(c, c->snd_max, len, flags);
}

// A window or keepalive probe: an old sequence number makes the peer answer with an ACK that
// carries its current window (RFC 9293 3.8.6.1, RFC 1122 4.2.3.6).
void TcpLayer::send_probe(TcpConn* c) noexcept {
  uint32_t len = 0;
  uint8_t flags = kTcpAck;
  send_segment(c, c->snd_una - 1, len, flags);
}

// SYN (active open) or SYN-ACK (passive, or simultaneous open) with our options: MSS always;
// window scale, SACK-permitted and timestamps in a SYN, and in a SYN-ACK when the peer's SYN
// carried them (RFC 7323 2.2 / 3.2, RFC 2018 2).
void TcpLayer::send_syn(TcpConn* c) noexcept {
  const bool synack = c->state == TcpState::kSynReceived;
  uint8_t opt[24];
  uint32_t ol = 0;
  opt[ol++] = kOptMss;
  opt[ol++] = 4;
  store_be16(opt + ol, static_cast<uint16_t>(netif_.mtu() - 40));
  ol += 2;
  const bool ws = !synack || c->has(kCfWs), sack = !synack || c->has(kCfSack), ts = !synack || c->has(kCfTs);
  if (sack) {
    opt[ol++] = kOptNop;
    opt[ol++] = kOptNop;
    opt[ol++] = kOptSackPerm;
    opt[ol++] = 2;
  }
  if (ts) ol += put_ts(opt + ol, ts_now(), synack ? c->ts_recent : 0);
  if (ws) {
    opt[ol++] = kOptNop;
    opt[ol++] = kOptWs;
    opt[ol++] = 3;
    opt[ol++] = rcv_wscale_;
  }
  const uint16_t wnd = static_cast<uint16_t>(std::min<uint32_t>(cfg_.rcv_buf, 65535));
  send_raw(c->t, c->iss, c->rcv_nxt, synack ? kTcpSyn | kTcpAck : kTcpSyn, wnd, opt, ol);
  if (synack) c->rcv_adv = c->rcv_nxt + wnd;  // the right edge we just offered
  if (c->retries == 0) c->rtt_start_ns = now_.ns;
  c->snd_nxt = c->iss + 1;
  if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
  const uint64_t rto = c->rto.rto_ns();
  arm_rtx(c, RtxKind::kRetransmit, rto);
}

void TcpLayer::send_raw(const FourTuple& t, SeqNum seq, SeqNum ack, uint8_t flags, uint16_t wnd,
                        const uint8_t* opts, uint32_t opt_len) noexcept {
  const uint32_t hl = kTcpMinHeaderLen + opt_len;
  TxFrame f;
  uint8_t* p = stack_.ipv4_begin(t.remote, kIpProtoTcp, hl, f);
  if (!p) {
    ++ctr_.tcp_tx_fail;
    return;
  }
  store_be16(p, t.local_port);
  store_be16(p + 2, t.remote_port);
  store_be32(p + 4, seq.v);
  store_be32(p + 8, (flags & kTcpAck) ? ack.v : 0);
  p[12] = static_cast<uint8_t>((hl / 4) << 4);
  p[13] = flags;
  store_be16(p + 14, wnd);
  store_be32(p + 16, 0);
  if (opt_len) std::memcpy(p + kTcpMinHeaderLen, opts, opt_len);
  store_be16(p + 16, tcp_checksum({p, hl}, t.local, t.remote));
  stack_.ipv4_send(f);
  ++ctr_.tcp_tx_segments;
  if (flags & kTcpRst) ++ctr_.tcp_rst_out;
}

// A reset for a segment that belongs to no connection (RFC 9293 3.10.7.1).
void TcpLayer::send_rst_for(const FourTuple& t, const TcpSegment& s) noexcept {
  if (s.flags & kTcpAck)
    send_raw(t, s.ack, SeqNum{}, kTcpRst, 0, nullptr, 0);
  else
    send_raw(t, SeqNum{}, s.seq + s.seg_len(), kTcpRst | kTcpAck, 0, nullptr, 0);
}

// Sends the first unacknowledged segment again (fast retransmit, partial ACK, RTO).
void TcpLayer::retransmit_first(TcpConn* c) noexcept {
  if (c->state == TcpState::kSynSent || c->state == TcpState::kSynReceived) {
    send_syn(c);
    return;
  }
  uint32_t len = std::min<uint32_t>(c->snd_queued, c->mss);
  const bool fin = c->has(kCfFinSent) && len == c->snd_queued;
  uint8_t flags = kTcpAck;
  if (fin) flags |= kTcpFin;
  if (len == 0 && !fin) return;
  if (!send_segment(c, c->snd_una, len, flags)) return;
  if (len == 0) ++ctr_.tcp_retransmit;  // a lone FIN (send_segment counts data)
  if (seq_lt(c->high_rxt, c->snd_una + len)) c->high_rxt = c->snd_una + len;
}

// RFC 2018: merges the peer's SACK blocks (those within snd_una..snd_max) into the scoreboard.
void TcpLayer::sack_update(TcpConn* c, const TcpSegment& s) noexcept {
  for (uint8_t i = 0; i < s.opt.sack_count; ++i) {
    SackBlock b = s.opt.sack[i];
    if (!seq_lt(b.left, b.right) || seq_le(b.right, c->snd_una) || seq_gt(b.right, c->snd_max)) continue;
    if (seq_lt(b.left, c->snd_una)) b.left = c->snd_una;
    // Merge every overlapping or touching range into b, then insert b in order.
    SackBlock keep[kTcpMaxScoreboard + 1];
    uint8_t n = 0;
    bool placed = false;
    for (uint8_t j = 0; j < c->sack_count; ++j) {
      const SackBlock& r = c->sacked[j];
      if (seq_lt(r.right, b.left)) {
        keep[n++] = r;
      } else if (seq_lt(b.right, r.left)) {
        if (!placed) keep[n++] = b, placed = true;
        keep[n++] = r;
      } else {
        if (seq_lt(r.left, b.left)) b.left = r.left;
        if (seq_gt(r.right, b.right)) b.right = r.right;
      }
    }
    if (!placed) keep[n++] = b;
    if (n > kTcpMaxScoreboard) n = kTcpMaxScoreboard;  // the highest range is forgotten
    std::memcpy(c->sacked, keep, n * sizeof(SackBlock));
    c->sack_count = n;
  }
  // Forget what the cumulative ACK already covers.
  uint8_t n = 0;
  for (uint8_t j = 0; j < c->sack_count; ++j) {
    if (seq_le(c->sacked[j].right, c->snd_una)) continue;
    c->sacked[n] = c->sacked[j];
    if (seq_lt(c->sacked[n].left, c->snd_una)) c->sacked[n].left = c->snd_una;
    ++n;
  }
  c->sack_count = n;
}

uint32_t TcpLayer::sacked_bytes(const TcpConn* c) const noexcept {
  uint32_t n = 0;
  for (uint8_t j = 0; j < c->sack_count; ++j) n += seq_diff(c->sacked[j].right, c->sacked[j].left);
  return n;
}

// Retransmits holes below the highest SACKed byte, lowest first, each once per recovery, while
// the pipe estimate (outstanding minus SACKed bytes) leaves room in cwnd; at most
// kTcpMaxRecoveryBurst segments per ACK (see the file comment). True when one was sent.
bool TcpLayer::sack_recovery(TcpConn* c) noexcept {
  bool sent = false;
  for (uint32_t n = 0; n < kTcpMaxRecoveryBurst && c->sack_count; ++n) {
    const uint32_t flight = seq_diff(c->snd_max, c->snd_una), sacked = sacked_bytes(c);
    const uint32_t rexmit = seq_diff(c->high_rxt, c->snd_una);  // resent this episode, in flight again
    const uint32_t pipe = (flight > sacked ? flight - sacked : 0) + std::min(rexmit, flight / 2);
    if (sent && pipe >= c->cc.cwnd()) break;
    SeqNum start = seq_gt(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
    uint32_t len = 0;
    for (uint8_t j = 0; j < c->sack_count && !len; ++j) {
      const SackBlock& r = c->sacked[j];
      if (seq_lt(start, r.left)) {
        len = std::min<uint32_t>(seq_diff(r.left, start), c->mss);
        len = std::min(len, c->snd_queued - std::min(c->snd_queued, seq_diff(start, c->snd_una)));
        if (len == 0) return sent;
      } else if (seq_lt(start, r.right)) {
        start = r.right;
      }
    }
    if (len == 0) return sent;
    uint8_t flags = kTcpAck;
    if (!send_segment(c, start, len, flags)) return sent;
    ++ctr_.tcp_sack_retransmit;
    c->high_rxt = start + len;
    sent = true;
  }
  return sent;
}

// Copies send-buffer bytes [seq, seq+len) into dst. Blocks before the tail are always full, so
// a byte's block follows from its offset; the walk starts at a cursor left by the previous call
// (output moves forward through the buffer), or at the head when the cursor is behind it.
void TcpLayer::copy_out(TcpConn* c, SeqNum seq, uint8_t* dst, uint32_t len) noexcept {
  const SeqNum head_start = c->snd_una - c->snd_head_off;
  uint32_t b = c->snd_head;
  uint32_t off = seq_diff(seq, head_start);
  if (c->snd_cur != kTcpNoBlock && seq_ge(c->snd_cur_seq, head_start) && seq_ge(seq, c->snd_cur_seq)) {
    b = c->snd_cur;
    off = seq_diff(seq, c->snd_cur_seq);
  }
  while (off >= kTcpBlockSize) {
    b = blocks_.next(b);
    off -= kTcpBlockSize;
  }
  c->snd_cur = b;
  c->snd_cur_seq = seq - off;
  while (len) {
    const uint32_t k = std::min(len, kTcpBlockSize - off);
    std::memcpy(dst, blocks_.data(b) + off, k);
    dst += k;
    len -= k;
    off = 0;
    b = blocks_.next(b);
  }
}

void TcpLayer::snd_drop_acked(TcpConn* c, uint32_t n) noexcept {
  c->snd_queued -= n;
  while (n) {
    const uint32_t used = c->snd_head == c->snd_tail ? c->snd_tail_len : kTcpBlockSize;
    const uint32_t avail = used - c->snd_head_off;
    if (n < avail) {
      c->snd_head_off += n;
      return;
    }
    n -= avail;
    const uint32_t next = c->snd_head == c->snd_tail ? kTcpNoBlock : blocks_.next(c->snd_head);
    blocks_.free(c->snd_head);
    if (c->snd_head == c->snd_tail) {
      c->snd_tail = kTcpNoBlock;
      c->snd_tail_len = 0;
    }
    c->snd_head = next;
    c->snd_head_off = 0;
  }
  if (c->snd_head == kTcpNoBlock) c->snd_head_off = 0;
}

}  // namespace mx::net
