// tcpstack/tcp_input.cc — segment arrival (RFC 9293 3.10.7) with the defences of RFC 5961
// (challenge ACKs for in-window RSTs and SYNs and for ACKs out of range, rate-limited per
// connection) and PAWS (RFC 7323 5).
#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

namespace {
constexpr uint32_t kPawsIdleMs = 24u * 24 * 3600 * 1000;  // RFC 7323 5.5: 24 days
}  // namespace

void TcpLayer::input(const PacketView& pkt, Ipv4Addr src, Ipv4Addr dst, ByteSpan seg, Tick now) noexcept {
  now_ = now;
  ++ctr_.tcp_rx;
  if (pkt.rx_flags & kRxL4CsumBad) {
    ++ctr_.tcp_drop_checksum;
    return;
  }
  TcpSegment s;
  switch (parse_tcp(seg, src, dst, (pkt.rx_flags & kRxL4CsumGood) != 0, s)) {
    case TcpVerdict::kOk: break;
    case TcpVerdict::kShort: ++ctr_.tcp_drop_short; return;
    case TcpVerdict::kDataOffset: ++ctr_.tcp_drop_data_offset; return;
    case TcpVerdict::kChecksum: ++ctr_.tcp_drop_checksum; return;
    case TcpVerdict::kBadOption: ++ctr_.tcp_drop_bad_option; return;
    case TcpVerdict::kUrgentPastEnd: ++ctr_.tcp_drop_urgent; return;
    case TcpVerdict::kBadFlags: ++ctr_.tcp_drop_bad_flags; return;
  }
  if (s.src_port == 0 || s.dst_port == 0) {
    ++ctr_.tcp_drop_port_zero;
    return;
  }
  const FourTuple t{dst, src, s.dst_port, s.src_port};
  ++dispatch_depth_;
  TcpConn* c = find(t);
  TcpListener* l = nullptr;
  if (c && c->state == TcpState::kTimeWait && (s.flags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
    l = find_listener(dst, s.dst_port);
    if (l && timewait_reuse(c, s)) c = nullptr;
  }
  if (c) {
    conn_input(c, s, pkt);
  } else if ((l = find_listener(dst, s.dst_port)) != nullptr) {
    listen_input(l, s, t, pkt);
  } else {
    ++ctr_.tcp_drop_no_conn;
    if (!(s.flags & kTcpRst)) send_rst_for(t, s);
  }
  --dispatch_depth_;
  finish();
}

void TcpLayer::conn_input(TcpConn* c, const TcpSegment& s, const PacketView& pkt) noexcept {
  c->last_rx_ns = now_.ns;
  if (c->state == TcpState::kSynSent) {
    syn_sent_input(c, s);
    return;
  }
  if (c->state == TcpState::kTimeWait) {
    timewait_input(c, s);
    return;
  }
  if (!check_seq(c, s) || !rst_and_syn(c, s)) return;
  if (!(s.flags & kTcpAck)) {
    ++ctr_.tcp_drop_no_ack;
    return;
  }
  // RFC 7323 4.3: remember the newest timestamp of a segment that starts at or before the left
  // window edge.
  if (c->has(kCfTs) && s.opt.has_timestamps && seq_le(s.seq, c->rcv_nxt) &&
      static_cast<int32_t>(s.opt.ts_val - c->ts_recent) >= 0) {
    c->ts_recent = s.opt.ts_val;
    c->ts_recent_ms = ts_now();
  }
  if (!ack_input(c, s)) return;
  data_input(c, s, pkt);
  if (c->has(kCfDead)) return;
  output(c);
  if (c->has(kCfAckNow) || c->unacked_segs >= 2) {
    send_ack(c);
  } else if (c->unacked_segs) {
    arm_delack(c);
  }
}

// RFC 9293 3.10.7.3.
void TcpLayer::syn_sent_input(TcpConn* c, const TcpSegment& s) noexcept {
  const bool ack = (s.flags & kTcpAck) != 0;
  if (ack && (seq_le(s.ack, c->iss) || seq_gt(s.ack, c->snd_max))) {
    ++ctr_.tcp_drop_bad_ack;
    if (!(s.flags & kTcpRst)) send_rst_for(c->t, s);
    return;
  }
  if (s.flags & kTcpRst) {
    if (ack) {  // RFC 5961 3.2: in SYN-SENT an acceptable ACK makes the RST acceptable
      ++ctr_.tcp_rst_in;
      conn_error(c, TcpError::kRefused);
    } else {
      ++ctr_.tcp_drop_out_of_window;
    }
    return;
  }
  if (!(s.flags & kTcpSyn)) {
    ++ctr_.tcp_drop_no_ack;
    return;
  }
  c->irs = s.seq;
  c->rcv_nxt = c->rcv_adv = s.seq + 1;
  syn_options(c, s);
  c->snd_wnd = c->max_snd_wnd = s.window;  // RFC 7323 2.2: not scaled in a SYN
  c->snd_wl1 = s.seq;
  c->snd_wl2 = s.ack;
  if (!ack) {  // simultaneous open (RFC 9293 3.5 figure 8)
    set_state(c, TcpState::kSynReceived);
    send_syn(c);
    return;
  }
  if (c->retries == 0) c->rto.sample(now_.ns - c->rtt_start_ns);  // Karn: only if never resent
  c->snd_una = s.ack;
  c->retries = 0;
  disarm_rtx(c);
  established(c);
  c->set(kCfAckNow);
  output(c);
  if (c->has(kCfAckNow)) send_ack(c);
}

// The acceptability test (RFC 9293 3.10.7.4 first) after PAWS (RFC 7323 5.3).
bool TcpLayer::check_seq(TcpConn* c, const TcpSegment& s) noexcept {
  if (c->state == TcpState::kSynReceived && (s.flags & (kTcpSyn | kTcpAck)) == kTcpSyn && s.seq == c->irs) {
    send_syn(c);  // the peer did not get our SYN-ACK: repeat it
    return false;
  }
  if (c->has(kCfTs) && s.opt.has_timestamps && !(s.flags & kTcpRst) &&
      static_cast<int32_t>(s.opt.ts_val - c->ts_recent) < 0) {
    if (ts_now() - c->ts_recent_ms > kPawsIdleMs) {
      c->ts_recent = s.opt.ts_val;  // the old timestamp is too old to judge by
    } else {
      ++ctr_.tcp_drop_paws;
      send_ack(c);
      return false;
    }
  }
  uint32_t wnd = rcv_window(c);
  if (seq_gt(c->rcv_adv, c->rcv_nxt + wnd)) wnd = seq_diff(c->rcv_adv, c->rcv_nxt);  // never shrink
  const uint32_t len = s.seg_len();
  bool ok;
  if (len == 0)
    ok = wnd == 0 ? s.seq == c->rcv_nxt : seq_in_window(s.seq, c->rcv_nxt, wnd);
  else
    ok = wnd != 0 && (seq_in_window(s.seq, c->rcv_nxt, wnd) || seq_in_window(s.seq + (len - 1), c->rcv_nxt, wnd));
  // A zero window still takes ACKs and RSTs at RCV.NXT (RFC 9293 3.10.7.4); data is trimmed.
  if (!ok && wnd == 0 && s.seq == c->rcv_nxt) ok = true;
  if (!ok) {
    ++ctr_.tcp_drop_out_of_window;
    if (s.flags & kTcpRst) return false;
    // RFC 9293 3.10.7.4: "special allowance should be made to accept valid ACKs" when the
    // segment's data cannot be taken (zero window, old or window-probe sequence numbers).
    // Otherwise a peer whose every segment carries data we cannot accept could never tell us
    // that it received ours. The ACK still passes RFC 5961's range check in ack_input().
    if ((s.flags & (kTcpAck | kTcpSyn)) == kTcpAck && c->state != TcpState::kSynReceived) {
      if (!ack_input(c, s)) return false;
      output(c);
    }
    send_ack(c);
    return false;
  }
  return true;
}

// RST and SYN in a synchronised state (RFC 5961 3.2 and 4; RFC 9293 3.10.7.4 second, fourth).
bool TcpLayer::rst_and_syn(TcpConn* c, const TcpSegment& s) noexcept {
  if (s.flags & kTcpRst) {
    if (s.seq != c->rcv_nxt) {
      challenge_ack(c);  // in the window but not exact: maybe blind, so ask instead of dying
      return false;
    }
    ++ctr_.tcp_rst_in;
    if (c->state == TcpState::kSynReceived && c->has(kCfPassive)) {
      conn_free(c);  // back to LISTEN: nobody above knew about it
    } else {
      conn_error(c, c->state == TcpState::kSynReceived ? TcpError::kRefused : TcpError::kReset);
    }
    return false;
  }
  if (s.flags & kTcpSyn) {
    challenge_ack(c);
    return false;
  }
  return true;
}

void TcpLayer::challenge_ack(TcpConn* c) noexcept {
  const uint32_t sec = static_cast<uint32_t>(now_.ns / kNsPerSec);
  if (sec != c->challenge_sec) {
    c->challenge_sec = sec;
    c->challenge_acks = 0;
  }
  if (c->challenge_acks >= kTcpChallengeAckPerSec) {
    ++ctr_.tcp_challenge_ack_limited;
    return;
  }
  ++c->challenge_acks;
  ++ctr_.tcp_challenge_ack;
  send_ack(c);
}

// RFC 9293 3.10.7.4 fifth, with RFC 5961 5.2's range check. False: stop processing.
bool TcpLayer::ack_input(TcpConn* c, const TcpSegment& s) noexcept {
  if (seq_gt(s.ack, c->snd_max) || seq_lt(s.ack, c->snd_una - c->max_snd_wnd)) {
    ++ctr_.tcp_drop_bad_ack;
    if (c->state == TcpState::kSynReceived) send_rst_for(c->t, s); else challenge_ack(c);
    return false;
  }
  if (c->state == TcpState::kSynReceived) {
    if (!seq_gt(s.ack, c->snd_una)) {
      ++ctr_.tcp_drop_bad_ack;
      send_rst_for(c->t, s);
      return false;
    }
    if (c->retries == 0) c->rto.sample(now_.ns - c->rtt_start_ns);
    c->snd_una = s.ack;
    c->retries = 0;
    disarm_rtx(c);
    c->snd_wnd = static_cast<uint32_t>(s.window) << c->snd_wscale;
    c->max_snd_wnd = std::max(c->max_snd_wnd, c->snd_wnd);
    c->snd_wl1 = s.seq;
    c->snd_wl2 = s.ack;
    established(c);
    if (c->has(kCfDead)) return false;
  }
  if (c->has(kCfSack) && s.opt.sack_count) sack_update(c, s);
  const uint32_t wnd = static_cast<uint32_t>(s.window) << c->snd_wscale;
  if (seq_gt(s.ack, c->snd_una)) {
    ack_advance(c, s, seq_diff(s.ack, c->snd_una));
  } else if (s.ack == c->snd_una && s.payload.empty() && !(s.flags & (kTcpSyn | kTcpFin)) &&
             wnd == c->snd_wnd && c->snd_max != c->snd_una) {
    dupack_input(c, s);  // RFC 5681 2: the definition of a duplicate acknowledgement
  }
  // RFC 6675 IsLost(): DupThresh segments SACKed above the first hole mean it was lost, even
  // when fewer than three duplicate ACKs arrived (ACK loss, or a small window).
  if (c->sack_count && !c->cc.in_recovery() && c->snd_una != c->snd_max &&
      sacked_bytes(c) >= NewReno::kDupAckThreshold * c->mss &&
      c->cc.on_loss(c->snd_una, c->snd_max, seq_diff(c->snd_max, c->snd_una))) {
    ++ctr_.tcp_fast_retransmit;
    c->high_rxt = c->snd_una;
    c->clear(kCfRttActive);
    retransmit_first(c);
    sack_recovery(c);
    arm_rtx(c, RtxKind::kRetransmit, c->rto.rto_ns());
  }
  if (seq_lt(c->snd_wl1, s.seq) || (c->snd_wl1 == s.seq && seq_le(c->snd_wl2, s.ack))) {
    const bool opened = c->snd_wnd == 0 && wnd != 0;
    c->snd_wnd = wnd;
    c->max_snd_wnd = std::max(c->max_snd_wnd, wnd);
    c->snd_wl1 = s.seq;
    c->snd_wl2 = s.ack;
    if (opened) c->persist_since_ns = 0;
    if (opened && c->rtx_kind == RtxKind::kPersist) {
      disarm_rtx(c);
      c->retries = 0;
    }
  }
  if (c->has(kCfFinSent) && s.ack == c->snd_max && c->snd_una == c->snd_max) fin_acked(c);
  return !c->has(kCfDead);
}

void TcpLayer::ack_advance(TcpConn* c, const TcpSegment& s, uint32_t acked) noexcept {
  snd_drop_acked(c, std::min(acked, c->snd_queued));
  c->snd_una = s.ack;
  if (seq_lt(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una;
  if (seq_lt(c->high_rxt, c->snd_una)) c->high_rxt = c->snd_una;
  // RTT: a timestamp echo measures even retransmitted data (RFC 7323 4); otherwise Karn.
  if (c->has(kCfTs) && s.opt.has_timestamps && s.opt.ts_ecr != 0) {
    const uint32_t ms = ts_now() - s.opt.ts_ecr;
    if (ms < 60000) c->rto.sample(std::max<uint64_t>(ms, 1) * kNsPerMs);
  } else if (c->has(kCfRttActive) && seq_gt(s.ack, c->rtt_seq)) {
    c->rto.sample(now_.ns - c->rtt_start_ns);
  }
  if (c->has(kCfRttActive) && seq_gt(s.ack, c->rtt_seq)) c->clear(kCfRttActive);
  c->retries = 0;
  c->dupacks = 0;
  const bool was_recovery = c->cc.in_recovery();
  c->cc.on_ack(acked, c->snd_una, seq_diff(c->snd_max, c->snd_una));
  if (was_recovery && c->cc.in_recovery()) {  // RFC 6582 partial ACK: resend the next hole
    if (!(c->has(kCfSack) && sack_recovery(c))) retransmit_first(c);
  } else if (was_recovery) {
    c->sack_count = 0;  // recovery over: start the next episode from a clean scoreboard
  }
  if (c->snd_una == c->snd_max) {
    disarm_rtx(c);
    c->sack_count = 0;
    if (cfg_.keepalive_idle_ns) arm_rtx(c, RtxKind::kKeepalive, cfg_.keepalive_idle_ns);
  } else {
    arm_rtx(c, RtxKind::kRetransmit, c->rto.rto_ns());
  }
  if (c->has(kCfWantWritable) && send_space(*c) > 0) {
    c->clear(kCfWantWritable);
    notify(c, kEvWritable);
  }
}

void TcpLayer::dupack_input(TcpConn* c, const TcpSegment&) noexcept {
  const uint32_t flight = seq_diff(c->snd_max, c->snd_una);
  if (c->cc.on_dupack(c->snd_una, c->snd_max, flight)) {
    ++ctr_.tcp_fast_retransmit;
    c->high_rxt = c->snd_una;
    retransmit_first(c);
    c->clear(kCfRttActive);
    arm_rtx(c, RtxKind::kRetransmit, c->rto.rto_ns());
    return;
  }
  if (c->cc.in_recovery() && c->has(kCfSack)) sack_recovery(c);
}

// Our FIN was acknowledged (RFC 9293 3.10.7.4 fifth, FIN-WAIT-1 / CLOSING / LAST-ACK).
void TcpLayer::fin_acked(TcpConn* c) noexcept {
  switch (c->state) {
    case TcpState::kFinWait1:
      set_state(c, TcpState::kFinWait2);
      disarm_rtx(c);
      // An orphan (closed by the application) must not wait for the peer's FIN forever.
      if (c->has(kCfAppClosed)) arm_rtx(c, RtxKind::kTimeWait, 2 * cfg_.msl_ns);
      return;
    case TcpState::kClosing:
      enter_timewait(c);
      return;
    case TcpState::kLastAck:
      conn_error(c, TcpError::kNone);
      return;
    default:
      return;
  }
}

void TcpLayer::data_input(TcpConn* c, const TcpSegment& s, const PacketView& pkt) noexcept {
  const bool fin_flag = (s.flags & kTcpFin) != 0;
  if (c->state != TcpState::kEstablished && c->state != TcpState::kFinWait1 &&
      c->state != TcpState::kFinWait2) {
    // CLOSE-WAIT, CLOSING, LAST-ACK: the peer's FIN was already taken; a repeat gets an ACK.
    if (fin_flag || !s.payload.empty()) c->set(kCfAckNow);
    return;
  }
  SeqNum seq = s.seq;
  const uint8_t* p = s.payload.data();
  uint32_t n = static_cast<uint32_t>(s.payload.size());
  bool fin = fin_flag;
  if (n && c->has(kCfAppClosed)) {  // RFC 9293 3.10.4 / RFC 2525 2.17: nobody will read it
    ++ctr_.tcp_drop_after_close;
    send_raw(c->t, c->snd_max, c->rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
    ++ctr_.tcp_rst_out;
    conn_free(c);
    return;
  }
  if (seq_lt(seq, c->rcv_nxt)) {  // trim what we already have
    const uint32_t d = seq_diff(c->rcv_nxt, seq);
    if (d > n) fin = fin && seq_ge(seq + n, c->rcv_nxt);
    const uint32_t cut = std::min(d, n);
    p += cut;
    n -= cut;
    seq = c->rcv_nxt;
  }
  uint32_t right = rcv_window(c);
  if (seq_gt(c->rcv_adv, c->rcv_nxt + right)) right = seq_diff(c->rcv_adv, c->rcv_nxt);
  const uint32_t off = seq_diff(seq, c->rcv_nxt);
  const uint32_t room = right > off ? right - off : 0;
  if (n > room) {  // beyond the window: keep what fits, the peer sends the rest again
    n = room;
    fin = false;
  }
  if (n == 0 && !fin) {
    if (!s.payload.empty()) c->set(kCfAckNow);  // a duplicate: tell the peer where we are
    return;
  }
  if (seq != c->rcv_nxt) {
    ooo_insert(c, seq, p, n, pkt);
    if (fin) {
      c->set(kCfOooFin);
      c->ooo_fin = seq + n;
    }
    c->set(kCfAckNow);  // RFC 5681 4.2: out-of-order data is acknowledged at once (with SACK)
    return;
  }
  uint32_t first = n;
  if (c->ooo_head && seq_lt(c->ooo_head->seq, seq + n)) first = seq_diff(c->ooo_head->seq, seq);
  const uint32_t took = deliver(c, p, first, pkt);
  if (took < first) {
    c->set(kCfAckNow);
    return;  // out of buffers: the rest (and any FIN) comes again
  }
  if (first < n) ooo_insert(c, seq + first, p + first, n - first, pkt);
  if (c->ooo_head || c->has(kCfOooFin)) {
    ooo_pull(c);
    c->set(kCfAckNow);  // a hole was filled
  }
  if (n) ++c->unacked_segs;
  if (fin && c->rcv_nxt == s.seq + static_cast<uint32_t>(s.payload.size())) fin_input(c);
  else if (c->has(kCfOooFin) && c->rcv_nxt == c->ooo_fin) fin_input(c);
}

void TcpLayer::fin_input(TcpConn* c) noexcept {
  c->clear(kCfOooFin);
  c->rcv_nxt = c->rcv_nxt + 1;
  c->set(kCfFinRcvd);
  c->set(kCfAckNow);
  notify(c, kEvPeerClosed);
  switch (c->state) {
    case TcpState::kEstablished: set_state(c, TcpState::kCloseWait); break;
    case TcpState::kFinWait1: set_state(c, TcpState::kClosing); break;
    case TcpState::kFinWait2: enter_timewait(c); break;
    default: break;
  }
}

// TIME-WAIT (RFC 9293 3.10.7.4; RFC 1337: an RST does not end it early). Anything else but a
// repeated bare ACK is answered with an ACK: an unacceptable segment must be (RFC 9293 3.10.7.4
// first), and data after the peer's FIN is never taken, so the peer learns where we are instead
// of waiting out 2 MSL in silence (Linux and FreeBSD answer the same way). Rate-limited like a
// challenge ACK, so TIME-WAIT cannot be used as a reflector.
void TcpLayer::timewait_input(TcpConn* c, const TcpSegment& s) noexcept {
  if (s.flags & kTcpRst) {
    ++ctr_.tcp_drop_out_of_window;
    return;
  }
  if (s.flags & kTcpSyn) {
    challenge_ack(c);
    return;
  }
  if (s.flags & kTcpFin) {  // the peer did not get our ACK of its FIN
    send_ack(c);
    arm_rtx(c, RtxKind::kTimeWait, 2 * cfg_.msl_ns);
    return;
  }
  if (!s.payload.empty() || s.seq != c->rcv_nxt) challenge_ack(c);
}

void TcpLayer::established(TcpConn* c) noexcept {
  set_state(c, TcpState::kEstablished);
  ++ctr_.tcp_established;
  if (cfg_.keepalive_idle_ns) arm_rtx(c, RtxKind::kKeepalive, cfg_.keepalive_idle_ns);
  if (!c->has(kCfPassive)) {
    notify(c, kEvConnected);
    return;
  }
  TcpListener* l = c->listener;
  if (!l || l->acceptq >= cfg_.accept_backlog) {
    ++ctr_.tcp_accept_queue_full;
    send_raw(c->t, c->snd_max, c->rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
    ++ctr_.tcp_rst_out;
    conn_free(c);
    return;
  }
  acceptq_push(l, c);
}

void TcpLayer::conn_error(TcpConn* c, TcpError e) noexcept {
  TcpHandler* h = c->handler;
  const bool tell = h && !c->has(kCfAppClosed) && !c->has(kCfInAcceptQ);
  if (e == TcpError::kTimeout) ++ctr_.tcp_timeout;
  conn_free(c);
  if (!tell) return;
  c->handler = h;
  c->error = e;
  notify(c, kEvClosed);
}

void TcpLayer::notify(TcpConn* c, uint8_t ev) noexcept {
  c->events |= ev;
  if (c->has(kCfPending)) return;
  c->set(kCfPending);
  c->pending_next = pending_;
  pending_ = c;
}

// Delivers queued events; the handler may call back into the layer for this or any connection.
void TcpLayer::dispatch(TcpConn* c) noexcept {
  TcpHandler* h = c->handler;
  uint8_t ev = c->events;
  c->events = 0;
  if (!h) return;
  if (ev & kEvClosed) {
    c->handler = nullptr;
    h->on_closed(*c, c->error);
    return;
  }
  auto live = [&] { return c->handler == h && !c->has(kCfDead) && !c->has(kCfAppClosed); };
  if ((ev & kEvConnected) && live()) h->on_connected(*c);
  if ((ev & kEvData) && live() && c->rcv_queued) h->on_data(*c);
  if ((ev & kEvWritable) && live()) h->on_writable(*c);
  if ((ev & kEvPeerClosed) && live()) h->on_peer_closed(*c);
}

void TcpLayer::finish() noexcept {
  if (dispatch_depth_ != 0) return;
  ++dispatch_depth_;
  for (int rounds = 0; (pending_ || notify_listeners_) && rounds < 64; ++rounds) {
    if (notify_listeners_) {
      notify_listeners_ = false;
      for (TcpListener& l : listeners_)
        if (l.used && l.acceptq && l.handler) l.handler->on_acceptable(l);
    }
    while (pending_) {
      TcpConn* c = pending_;
      pending_ = c->pending_next;
      c->pending_next = nullptr;
      c->clear(kCfPending);
      dispatch(c);
    }
  }
  --dispatch_depth_;
  reap();
}

}  // namespace mx::net
