// tcpstack/tcp_listen.cc — passive open: listeners, the SYN queue, SYN cookies when it is full
// (RFC 4987 3.6), option negotiation (RFC 7323, RFC 2018), the accept queue, and TIME-WAIT
// reuse by a new SYN (RFC 6191).
#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

namespace {
constexpr uint64_t kCookieWindowNs = 60ull * kSynCookieMaxAgeMin * kNsPerSec;
constexpr uint32_t kTcpIpHeaders = 40;  // IPv4 + TCP without options
constexpr uint32_t kTsOptionSpace = 12;
}  // namespace

uint32_t TcpLayer::minute() const noexcept { return static_cast<uint32_t>(now_.ns / (60 * kNsPerSec)); }

Expected<TcpListener*> TcpLayer::listen(Ipv4Addr addr, uint16_t port, TcpListenHandler* h) {
  if (port == 0) return Error{"cannot listen on port 0"};
  TcpListener* slot = nullptr;
  for (TcpListener& l : listeners_) {
    if (l.used && l.port == port && (l.addr == addr || l.addr.is_zero() || addr.is_zero()))
      return Error{"port " + std::to_string(port) + " is already listening"};
    if (!l.used && !slot) slot = &l;
  }
  if (!slot) return Error{"too many listeners (at most " + std::to_string(kTcpMaxListeners) + ")"};
  *slot = TcpListener{};
  slot->used = true;
  slot->addr = addr;
  slot->port = port;
  slot->handler = h;
  return slot;
}

void TcpLayer::unlisten(TcpListener& l) noexcept {
  for (TcpConn& c : conns_) {
    if (c.listener == &l && !c.has(kCfDead) && (c.has(kCfInAcceptQ) || c.state == TcpState::kSynReceived)) {
      send_raw(c.t, c.snd_max, c.rcv_nxt, kTcpRst | kTcpAck, 0, nullptr, 0);
      conn_free(&c);
    } else if (c.listener == &l) {
      c.listener = nullptr;
    }
  }
  l = TcpListener{};
  reap();
}

TcpListener* TcpLayer::find_listener(Ipv4Addr dst, uint16_t port) noexcept {
  for (TcpListener& l : listeners_)
    if (l.used && l.port == port && (l.addr.is_zero() || l.addr == dst)) return &l;
  return nullptr;
}

void TcpLayer::acceptq_push(TcpListener* l, TcpConn* c) noexcept {
  c->set(kCfInAcceptQ);
  c->next = nullptr;
  if (l->acceptq_tail) l->acceptq_tail->next = c; else l->acceptq_head = c;
  l->acceptq_tail = c;
  ++l->acceptq;
  notify_listeners_ = true;
}

void TcpLayer::acceptq_remove(TcpConn* c) noexcept {
  TcpListener* l = c->listener;
  c->clear(kCfInAcceptQ);
  if (!l) return;
  TcpConn* prev = nullptr;
  for (TcpConn* p = l->acceptq_head; p; prev = p, p = p->next) {
    if (p != c) continue;
    if (prev) prev->next = p->next; else l->acceptq_head = p->next;
    if (l->acceptq_tail == p) l->acceptq_tail = prev;
    --l->acceptq;
    return;
  }
}

TcpConn* TcpLayer::accept(TcpListener& l, TcpHandler* h, void* user) noexcept {
  TcpConn* c = l.acceptq_head;
  if (!c) return nullptr;
  l.acceptq_head = c->next;
  if (!l.acceptq_head) l.acceptq_tail = nullptr;
  --l.acceptq;
  c->clear(kCfInAcceptQ);
  c->handler = h;
  c->user = user;
  // What arrived while it waited is announced through the pending list (see finish()). notify()
  // links through pending_next and sets kCfPending; `next` is the accept queue / dead list link.
  c->events = 0;
  c->next = nullptr;
  uint8_t ev = 0;
  if (c->rcv_queued) ev |= kEvData;
  if (c->has(kCfFinRcvd)) ev |= kEvPeerClosed;
  if (ev) notify(c, ev);
  return c;
}

// Negotiates options from the peer's SYN (passive) or SYN-ACK (active): RFC 9293 3.7.1 (MSS),
// RFC 7323 2.2 (window scale only when both sent it), RFC 7323 3.2 (timestamps), RFC 2018 (SACK).
void TcpLayer::syn_options(TcpConn* c, const TcpSegment& s) noexcept {
  const uint16_t ours = static_cast<uint16_t>(netif_.mtu() - kTcpIpHeaders);
  uint16_t mss = s.opt.mss ? s.opt.mss : kTcpDefaultMss;
  if (mss > ours) mss = ours;
  if (mss < 64) mss = 64;  // a peer asking for less is not worth a segment per byte
  if (s.opt.wscale >= 0) {
    c->set(kCfWs);
    c->snd_wscale = static_cast<uint8_t>(s.opt.wscale);
    c->rcv_wscale = rcv_wscale_;
  } else {
    c->clear(kCfWs);
    c->snd_wscale = c->rcv_wscale = 0;
  }
  if (s.opt.sack_permitted) c->set(kCfSack); else c->clear(kCfSack);
  if (s.opt.has_timestamps) {
    c->set(kCfTs);
    c->ts_recent = s.opt.ts_val;
    c->ts_recent_ms = ts_now();
    mss = static_cast<uint16_t>(mss - kTsOptionSpace);
  } else {
    c->clear(kCfTs);
  }
  c->mss = mss;
  c->cc = NewReno(mss);
}

// RFC 6191: a SYN for a tuple in TIME-WAIT may start a new incarnation when its timestamp (or,
// without timestamps, its sequence number) is beyond everything of the old one.
bool TcpLayer::timewait_reuse(TcpConn* c, const TcpSegment& s) noexcept {
  bool ok;
  if (c->has(kCfTs) && s.opt.has_timestamps)
    ok = static_cast<int32_t>(s.opt.ts_val - c->ts_recent) > 0;
  else
    ok = !c->has(kCfTs) && seq_gt(s.seq, c->rcv_nxt);
  if (!ok) return false;
  ++ctr_.tcp_timewait_reuse;
  conn_free(c);
  return true;
}

void TcpLayer::listen_input(TcpListener* l, const TcpSegment& s, const FourTuple& t,
                            const PacketView& pkt) noexcept {
  if (s.flags & kTcpRst) {  // RFC 9293 3.10.7.2: ignore
    ++ctr_.tcp_drop_listen;
    return;
  }
  if (s.flags & kTcpAck) {
    if (!(s.flags & kTcpSyn) && cookie_ack(l, s, t, pkt)) return;
    ++ctr_.tcp_drop_listen;
    send_rst_for(t, s);
    return;
  }
  if (!(s.flags & kTcpSyn)) {
    ++ctr_.tcp_drop_listen;
    return;
  }
  ++ctr_.tcp_syn_in;
  if (l->acceptq >= cfg_.accept_backlog) {
    ++ctr_.tcp_accept_queue_full;  // like a full SYN queue without cookies: the peer retries
    return;
  }
  if (l->synq >= cfg_.syn_backlog) {
    // RFC 4987 3.6: answer from the cookie, keep no state. Options that need state (window
    // scale, SACK, timestamps) are not offered, so both sides go without them.
    const uint8_t idx = SynCookies::mss_index(s.opt.mss ? s.opt.mss : kTcpDefaultMss);
    const SeqNum cookie = cookies_.make(t, s.seq, idx, minute());
    uint8_t opt[4] = {2, 4, 0, 0};
    store_be16(opt + 2, static_cast<uint16_t>(netif_.mtu() - kTcpIpHeaders));
    const uint16_t wnd = static_cast<uint16_t>(std::min<uint32_t>(cfg_.rcv_buf, 65535));
    send_raw(t, cookie, s.seq + 1, kTcpSyn | kTcpAck, wnd, opt, sizeof opt);
    l->cookie_until_ns = now_.ns + kCookieWindowNs;
    ++ctr_.tcp_syncookie_sent;
    return;
  }
  TcpConn* c = conn_alloc(t);
  if (!c) return;
  c->listener = l;
  c->set(kCfPassive);
  c->irs = s.seq;
  c->rcv_nxt = s.seq + 1;
  c->rcv_adv = c->rcv_nxt;
  syn_options(c, s);
  c->iss = cfg_.isn_fixed ? SeqNum{cfg_.isn_fixed} : isn_.isn(t.local, t.local_port, t.remote, t.remote_port, now_);
  c->snd_una = c->snd_nxt = c->snd_max = c->high_rxt = c->recover = c->iss;
  c->snd_wnd = s.window;  // RFC 7323 2.2: a SYN's window is never scaled
  c->max_snd_wnd = c->snd_wnd;
  c->snd_wl1 = s.seq;
  c->snd_wl2 = c->iss;
  c->last_rx_ns = now_.ns;
  ++l->synq;
  set_state(c, TcpState::kSynReceived);
  ++ctr_.tcp_passive_open;
  send_syn(c);
}

// The ACK completing a handshake whose SYN-ACK came from a cookie (RFC 4987 3.6).
bool TcpLayer::cookie_ack(TcpListener* l, const TcpSegment& s, const FourTuple& t,
                          const PacketView& pkt) noexcept {
  if (now_.ns > l->cookie_until_ns) return false;
  auto idx = cookies_.check(t, s.seq - 1, s.ack - 1, minute());
  if (!idx) {
    ++ctr_.tcp_syncookie_bad;
    return false;
  }
  if (l->acceptq >= cfg_.accept_backlog) {
    ++ctr_.tcp_accept_queue_full;
    return true;  // dropped: the peer's retransmission finds room later, or times out
  }
  TcpConn* c = conn_alloc(t);
  if (!c) return true;
  ++ctr_.tcp_syncookie_ok;
  c->listener = l;
  c->set(kCfPassive);
  c->set(kCfCookie);
  c->iss = s.ack - 1;
  c->snd_una = c->snd_nxt = c->snd_max = c->high_rxt = c->recover = s.ack;
  c->irs = s.seq - 1;
  c->rcv_nxt = c->rcv_adv = s.seq;
  const uint16_t ours = static_cast<uint16_t>(netif_.mtu() - kTcpIpHeaders);
  c->mss = std::min(kSynCookieMss[*idx], ours);
  c->cc = NewReno(c->mss);
  c->snd_wnd = c->max_snd_wnd = s.window;
  c->snd_wl1 = s.seq;
  c->snd_wl2 = s.ack;
  c->last_rx_ns = now_.ns;
  ++ctr_.tcp_passive_open;
  set_state(c, TcpState::kSynReceived);  // established() below moves it on, as for any ACK
  ++l->synq;
  established(c);
  if (c->has(kCfDead)) return true;
  if (!s.payload.empty() || (s.flags & kTcpFin)) conn_input(c, s, pkt);
  return true;
}

}  // namespace mx::net
