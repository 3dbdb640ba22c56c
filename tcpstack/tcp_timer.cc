// tcpstack/tcp_timer.cc — the two timers of a connection on the lcore's wheel: the
// retransmission timer (also persist, keepalive, SYN-RECEIVED and TIME-WAIT / orphan FIN-WAIT-2,
// one at a time) and the delayed-ACK timer (RFC 1122 4.2.3.2, RFC 5681 4.2).
#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

namespace {
constexpr uint64_t kPersistMaxNs = 60 * kNsPerSec;
}  // namespace

void TcpLayer::arm_rtx(TcpConn* c, RtxKind k, uint64_t after_ns) noexcept {
  c->rtx_kind = k;
  wheel_.schedule(c->rtx_timer, Tick{now_.ns + after_ns});
}

void TcpLayer::disarm_rtx(TcpConn* c) noexcept {
  c->rtx_kind = RtxKind::kNone;
  wheel_.cancel(c->rtx_timer);
}

void TcpLayer::arm_delack(TcpConn* c) noexcept {
  if (!c->ack_timer.linked()) wheel_.schedule(c->ack_timer, Tick{now_.ns + cfg_.delack_ns});
}

void TcpLayer::poll(Tick now) noexcept {
  now_ = now;
  ++dispatch_depth_;
  wheel_.advance(now, [this](TimerNode& n) {
    auto& t = static_cast<ConnTimer&>(n);
    if (t.conn->has(kCfDead)) return;
    if (&t == &t.conn->ack_timer) on_ack_timer(t.conn); else on_rtx_timer(t.conn);
  });
  --dispatch_depth_;
  finish();
}

void TcpLayer::on_ack_timer(TcpConn* c) noexcept {
  if (c->unacked_segs == 0 && !c->has(kCfAckNow)) return;
  ++ctr_.tcp_delayed_ack;
  send_ack(c);
}

void TcpLayer::on_rtx_timer(TcpConn* c) noexcept {
  const RtxKind k = c->rtx_kind;
  c->rtx_kind = RtxKind::kNone;
  switch (k) {
    case RtxKind::kNone:
      return;
    case RtxKind::kTimeWait:
      if (c->state == TcpState::kTimeWait || c->state == TcpState::kFinWait2) conn_error(c, TcpError::kNone);
      return;
    case RtxKind::kPersist: {
      const uint64_t bound = c->has(kCfAppClosed) ? kTcpOrphanPersistNs : cfg_.persist_max_ns;
      if (c->persist_since_ns && now_.ns - c->persist_since_ns >= bound) {
        ++ctr_.tcp_persist_timeout;
        send_raw(c->t, c->snd_max, c->rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
        conn_error(c, TcpError::kTimeout);
        return;
      }
      // Zero-window probe: an old sequence number makes the peer answer with its window.
      ++ctr_.tcp_zero_window_probe;
      send_probe(c);
      if (c->retries < 16) ++c->retries;
      const uint64_t next = std::min<uint64_t>(c->rto.rto_ns() << std::min<uint32_t>(c->retries, 6), kPersistMaxNs);
      arm_rtx(c, RtxKind::kPersist, next);
      return;
    }
    case RtxKind::kKeepalive: {
      const uint64_t idle = now_.ns - c->last_rx_ns;
      if (idle < cfg_.keepalive_idle_ns) {  // heard from recently (perhaps a probe's answer)
        c->retries = 0;
        arm_rtx(c, RtxKind::kKeepalive, cfg_.keepalive_idle_ns - idle);
        return;
      }
      if (c->retries >= cfg_.keepalive_probes) {
        conn_error(c, TcpError::kTimeout);
        return;
      }
      ++c->retries;
      ++ctr_.tcp_keepalive_probe;
      send_probe(c);
      arm_rtx(c, RtxKind::kKeepalive, cfg_.keepalive_intvl_ns);
      return;
    }
    case RtxKind::kSynRcvd:
    case RtxKind::kRetransmit:
      break;
  }
  ++ctr_.tcp_rto_fired;
  const bool syn = c->state == TcpState::kSynSent || c->state == TcpState::kSynReceived;
  if (++c->retries > (syn ? kTcpMaxSynRetries : kTcpMaxRetries)) {
    if (c->state == TcpState::kSynReceived && c->has(kCfPassive)) {
      conn_free(c);  // a half-open connection nobody above knew about
      ++ctr_.tcp_timeout;
    } else {
      if (!syn) send_raw(c->t, c->snd_max, c->rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
      conn_error(c, TcpError::kTimeout);
    }
    return;
  }
  c->rto.backoff();
  c->clear(kCfRttActive);  // Karn: nothing in flight now can be timed
  if (syn) {
    send_syn(c);
    return;
  }
  c->cc.on_rto(seq_diff(c->snd_max, c->snd_una));
  c->snd_nxt = c->snd_una;  // go back N: the loss window of one segment starts at snd_una
  c->high_rxt = c->snd_una;
  c->sack_count = 0;        // RFC 6675 5.1: the receiver may have reneged
  output(c);
  if (c->snd_nxt == c->snd_una && c->snd_max != c->snd_una) retransmit_first(c);  // zero window
  arm_rtx(c, RtxKind::kRetransmit, c->rto.rto_ns());
}

void TcpLayer::enter_timewait(TcpConn* c) noexcept {
  set_state(c, TcpState::kTimeWait);
  wheel_.cancel(c->ack_timer);
  arm_rtx(c, RtxKind::kTimeWait, 2 * cfg_.msl_ns);
}

void TcpLayer::set_state(TcpConn* c, TcpState s) noexcept {
  if (c->state == TcpState::kSynReceived && s != TcpState::kSynReceived && c->listener) --c->listener->synq;
  c->state = s;
}

}  // namespace mx::net
