// tcpstack/tcp_table.cc — TcpLayer construction, the connection pool and the connection table
// (open addressing with linear probing and backward-shift deletion, keyed by a seeded hash of
// the 4-tuple so that a peer cannot aim its tuples at one chain without knowing the key).
#include <bit>

#include "tcpstack/stack.h"
#include "tcpstack/tcp.h"

namespace mx::net {

namespace {

uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

}  // namespace

const char* tcp_state_name(TcpState s) noexcept {
  static constexpr const char* kNames[] = {"CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                           "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                           "CLOSING",     "LAST-ACK",   "TIME-WAIT"};
  return kNames[static_cast<uint8_t>(s)];
}

const char* tcp_error_name(TcpError e) noexcept {
  static constexpr const char* kNames[] = {"none", "reset", "refused", "timeout", "aborted", "no-memory"};
  return kNames[static_cast<uint8_t>(e)];
}

TcpLayer::TcpLayer(NetStack& stack, Netif& netif, const TcpConfig& cfg, Tick now)
    : stack_(stack),
      netif_(netif),
      cfg_(cfg),
      now_(now),
      isn_(cfg.key0, cfg.key1),
      cookies_(fmix64(cfg.key0 ^ 0x636f6f6b6965ull), fmix64(cfg.key1 ^ 0x636f6f6b6965ull)),
      wheel_(kNsPerMs, 4096, now),
      blocks_(cfg.blocks),
      segs_(cfg.rx_segs),
      conns_(cfg.max_conns) {
  for (uint32_t i = 0; i < cfg.max_conns; ++i) conns_[i].next = i + 1 < cfg.max_conns ? &conns_[i + 1] : nullptr;
  free_conns_ = cfg.max_conns ? &conns_[0] : nullptr;
  const uint32_t slots = std::bit_ceil(std::max<uint32_t>(16, cfg.max_conns * 2));
  table_.assign(slots, nullptr);
  table_mask_ = slots - 1;
  while (rcv_wscale_ < kTcpMaxWindowShift && (cfg.rcv_buf >> rcv_wscale_) > 65535) ++rcv_wscale_;
  const uint32_t range = static_cast<uint32_t>(cfg.ephemeral_hi - cfg.ephemeral_lo) + 1;
  next_port_ = static_cast<uint16_t>(cfg.ephemeral_lo + fmix64(cfg.key0) % range);
}

TcpLayer::~TcpLayer() {
  // Give held packet buffers back to the port before it goes away.
  for (TcpConn& c : conns_) rx_purge(&c);
}

uint32_t TcpLayer::hash(const FourTuple& t) const noexcept {
  const uint64_t a = (static_cast<uint64_t>(t.local.v) << 32 | t.remote.v) ^ cfg_.key0;
  const uint64_t b = (static_cast<uint64_t>(t.local_port) << 16 | t.remote_port) ^ cfg_.key1;
  return static_cast<uint32_t>(fmix64(a ^ fmix64(b)));
}

static bool same_tuple(const FourTuple& a, const FourTuple& b) {
  return a.local == b.local && a.remote == b.remote && a.local_port == b.local_port &&
         a.remote_port == b.remote_port;
}

TcpConn* TcpLayer::find(const FourTuple& t) const noexcept {
  for (uint32_t i = hash(t) & table_mask_;; i = (i + 1) & table_mask_) {
    TcpConn* c = table_[i];
    if (!c) return nullptr;
    if (same_tuple(c->t, t)) return c;
  }
}

bool TcpLayer::table_insert(TcpConn* c) noexcept {
  for (uint32_t i = hash(c->t) & table_mask_;; i = (i + 1) & table_mask_) {
    if (!table_[i]) {
      table_[i] = c;
      return true;
    }
    if (same_tuple(table_[i]->t, c->t)) return false;
  }
}

void TcpLayer::table_erase(TcpConn* c) noexcept {
  uint32_t i = hash(c->t) & table_mask_;
  while (table_[i] != c) {
    if (!table_[i]) return;  // not in the table
    i = (i + 1) & table_mask_;
  }
  // Backward-shift deletion: move later members of the probe run into the hole when their home
  // slot is at or before it, so lookups never need tombstones.
  uint32_t hole = i;
  for (uint32_t j = (i + 1) & table_mask_; table_[j]; j = (j + 1) & table_mask_) {
    const uint32_t home = hash(table_[j]->t) & table_mask_;
    const bool movable = ((j - home) & table_mask_) >= ((j - hole) & table_mask_);
    if (movable) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = nullptr;
}

TcpConn* TcpLayer::conn_alloc(const FourTuple& t) noexcept {
  TcpConn* c = free_conns_;
  if (!c) {
    ++ctr_.tcp_conn_table_full;
    return nullptr;
  }
  free_conns_ = c->next;
  *c = TcpConn{};
  c->t = t;
  c->rto = RtoEstimator(cfg_.rto);
  c->rtx_timer.conn = c;
  c->ack_timer.conn = c;
  if (!table_insert(c)) {
    c->next = free_conns_;
    free_conns_ = c;
    return nullptr;
  }
  ++conns_in_use_;
  return c;
}

// Unlinks the connection now and frees its memory at the end of the current input/poll, so a
// handler running further up the stack never sees its connection reused.
void TcpLayer::conn_free(TcpConn* c) noexcept {
  if (c->has(kCfDead)) return;
  if (c->state == TcpState::kSynReceived && c->listener) --c->listener->synq;
  if (c->has(kCfInAcceptQ)) acceptq_remove(c);
  wheel_.cancel(c->rtx_timer);
  wheel_.cancel(c->ack_timer);
  table_erase(c);
  rx_purge(c);
  while (c->snd_head != kTcpNoBlock) {
    const uint32_t nb = blocks_.next(c->snd_head);
    blocks_.free(c->snd_head);
    c->snd_head = nb;
  }
  c->snd_tail = kTcpNoBlock;
  c->snd_queued = 0;
  c->state = TcpState::kClosed;
  c->handler = nullptr;
  c->set(kCfDead);
  c->next = dead_;
  dead_ = c;
  ++ctr_.tcp_closed;
}

// Only with no handler running and no event pending, so nothing refers to a reaped connection.
void TcpLayer::count_states(uint32_t (&out)[11]) const noexcept {
  for (uint32_t& n : out) n = 0;
  for (const TcpConn* c : table_)
    if (c) ++out[static_cast<uint8_t>(c->state)];
}

void TcpLayer::reap() noexcept {
  if (dispatch_depth_ != 0 || pending_) return;
  while (dead_) {
    TcpConn* c = dead_;
    dead_ = c->next;
    c->flags = 0;
    c->rx_segs = 0;
    c->next = free_conns_;
    free_conns_ = c;
    --conns_in_use_;
  }
}

}  // namespace mx::net
