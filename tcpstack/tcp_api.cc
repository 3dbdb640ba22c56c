// tcpstack/tcp_api.cc — what the application calls: connect, send, shutdown, close, abort; and
// ICMP errors about our segments (RFC 1191 path MTU, RFC 5927 validation).
#include <cstring>

#include "tcpstack/ipv4.h"
#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

BlockPool::BlockPool(uint32_t blocks)
    : mem_(static_cast<size_t>(blocks) * kTcpBlockSize), next_(blocks, kTcpNoBlock) {
  free_.reserve(blocks);
  for (uint32_t i = blocks; i-- > 0;) free_.push_back(i);
}

uint32_t BlockPool::alloc() noexcept {
  if (free_.empty()) return kTcpNoBlock;
  const uint32_t b = free_.back();
  free_.pop_back();
  next_[b] = kTcpNoBlock;
  return b;
}

void BlockPool::free(uint32_t b) noexcept { free_.push_back(b); }  // capacity reserved: no allocation

TcpConn* TcpLayer::connect(Ipv4Addr dst, uint16_t dport, TcpHandler* h, void* user, TcpError* err) noexcept {
  FourTuple t{stack_.ipv4(), dst, 0, dport};
  const uint32_t range = static_cast<uint32_t>(cfg_.ephemeral_hi - cfg_.ephemeral_lo) + 1;
  bool found = false;
  for (uint32_t i = 0; i < range && !found; ++i) {
    t.local_port = next_port_;
    next_port_ = next_port_ >= cfg_.ephemeral_hi ? cfg_.ephemeral_lo : static_cast<uint16_t>(next_port_ + 1);
    if (port_fn_ && !port_fn_(port_ctx_, t)) continue;
    TcpConn* old = find(t);
    if (!old) {
      found = true;
    } else if (old->state == TcpState::kTimeWait && old->has(kCfTs)) {
      // Safe reuse: our timestamps only grow, so the peer's PAWS tells the incarnations apart.
      ++ctr_.tcp_timewait_reuse;
      conn_free(old);
      found = true;
    }
  }
  TcpConn* c = found ? conn_alloc(t) : nullptr;
  if (!c) {
    if (err) *err = TcpError::kNoMemory;
    return nullptr;
  }
  c->handler = h;
  c->user = user;
  c->iss = cfg_.isn_fixed ? SeqNum{cfg_.isn_fixed} : isn_.isn(t.local, t.local_port, t.remote, t.remote_port, now_);
  c->snd_una = c->snd_nxt = c->snd_max = c->high_rxt = c->recover = c->iss;
  c->rcv_wscale = rcv_wscale_;
  c->mss = static_cast<uint16_t>(netif_.mtu() - 40);
  c->last_rx_ns = now_.ns;
  set_state(c, TcpState::kSynSent);
  ++ctr_.tcp_active_open;
  send_syn(c);
  if (err) *err = TcpError::kNone;
  return c;
}

uint32_t TcpLayer::send_space(const TcpConn& c) const noexcept {
  switch (c.state) {
    case TcpState::kSynSent: case TcpState::kSynReceived: case TcpState::kEstablished:
    case TcpState::kCloseWait:
      break;
    default:
      return 0;
  }
  if (c.has(kCfFinQueued)) return 0;
  return c.snd_queued >= cfg_.snd_buf ? 0 : cfg_.snd_buf - c.snd_queued;
}

uint32_t TcpLayer::send(TcpConn& c, ByteSpan data) noexcept {
  const uint32_t want = static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX));
  const uint32_t n = std::min(want, send_space(c));
  uint32_t done = 0;
  while (done < n) {
    if (c.snd_tail == kTcpNoBlock || c.snd_tail_len == kTcpBlockSize) {
      const uint32_t b = blocks_.alloc();
      if (b == kTcpNoBlock) break;
      if (c.snd_tail == kTcpNoBlock) c.snd_head = b; else blocks_.next(c.snd_tail) = b;
      c.snd_tail = b;
      c.snd_tail_len = 0;
    }
    const uint32_t k = std::min(n - done, kTcpBlockSize - c.snd_tail_len);
    std::memcpy(blocks_.data(c.snd_tail) + c.snd_tail_len, data.data() + done, k);
    c.snd_tail_len += k;
    done += k;
  }
  c.snd_queued += done;
  if (done < want) c.set(kCfWantWritable);
  output(&c);
  return done;
}

void TcpLayer::shutdown_write(TcpConn& c) noexcept {
  if (c.has(kCfFinQueued) || c.has(kCfDead)) return;
  switch (c.state) {
    case TcpState::kSynSent:
      conn_free(&c);
      break;
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
      c.set(kCfFinQueued);
      set_state(&c, TcpState::kFinWait1);
      output(&c);
      break;
    case TcpState::kCloseWait:
      c.set(kCfFinQueued);
      set_state(&c, TcpState::kLastAck);
      output(&c);
      break;
    default:
      break;
  }
  reap();
}

void TcpLayer::close(TcpConn& c) noexcept {
  if (c.has(kCfDead)) return;
  c.handler = nullptr;
  c.set(kCfAppClosed);
  if (c.rcv_queued || c.ooo_head) {  // unread data: RFC 2525 2.17, reset rather than pretend
    abort(c);
    return;
  }
  if (c.state == TcpState::kTimeWait) return;
  if (c.state == TcpState::kFinWait2) arm_rtx(&c, RtxKind::kTimeWait, 2 * cfg_.msl_ns);
  shutdown_write(c);
}

void TcpLayer::abort(TcpConn& c) noexcept {
  if (c.has(kCfDead)) return;
  c.handler = nullptr;
  c.set(kCfAppClosed);
  if (c.state != TcpState::kSynSent && c.state != TcpState::kTimeWait)
    send_raw(c.t, c.snd_max, c.rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
  conn_free(&c);
  reap();
}

// RFC 1191 / RFC 5927: an ICMP error counts only when it quotes a segment we have outstanding.
void TcpLayer::icmp_unreachable(uint8_t code, uint16_t next_hop_mtu, ByteSpan inner, Tick now) noexcept {
  now_ = now;
  if (inner.size() < kIpv4MinHeaderLen) return;
  const uint32_t ihl = (inner[0] & 0x0f) * 4u;
  if ((inner[0] >> 4) != 4 || ihl < kIpv4MinHeaderLen || inner.size() < ihl + 8 || inner[9] != kIpProtoTcp) {
    ++ctr_.tcp_icmp_ignored;
    return;
  }
  const uint8_t* tcp = inner.data() + ihl;
  const FourTuple t{Ipv4Addr::load(inner.data() + 12), Ipv4Addr::load(inner.data() + 16), load_be16(tcp),
                    load_be16(tcp + 2)};
  TcpConn* c = find(t);
  const SeqNum seq{load_be32(tcp + 4)};
  if (!c || c->state == TcpState::kTimeWait || !seq_ge(seq, c->snd_una) || !seq_lt(seq, c->snd_max) ||
      code != 4) {
    ++ctr_.tcp_icmp_ignored;  // soft errors (RFC 1122 4.2.3.9) and forgeries change nothing
    return;
  }
  // Fragmentation needed (RFC 1191 4): lower the MSS to the next hop's MTU and resend.
  const uint32_t opt = c->has(kCfTs) ? 12 : 0;
  uint32_t mtu = next_hop_mtu ? next_hop_mtu : 576;  // RFC 1191 5: old routers send 0
  uint32_t mss = mtu > 40 + opt ? mtu - 40 - opt : 0;
  if (mss < kTcpMinMss - opt) mss = kTcpMinMss - opt;
  if (mss >= c->mss) {
    ++ctr_.tcp_icmp_ignored;
    return;
  }
  c->mss = static_cast<uint16_t>(mss);
  ++ctr_.tcp_pmtu_update;
  ++dispatch_depth_;
  c->snd_nxt = c->snd_una;  // everything in flight was sized for the old path
  output(c);
  --dispatch_depth_;
  finish();
}

}  // namespace mx::net
