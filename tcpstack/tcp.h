// tcpstack/tcp.h — TCP for one lcore: connections, listeners, timers and the API that the layer
// above (SMTP sessions, relay clients, test services) uses.
//
// SECURITY: input() takes segments from the wire. Every malformed or unacceptable segment is
// dropped with one named counter (tcp_counters.h). Memory is bounded per lcore (connection
// table, segment descriptors, blocks, all allocated at construction) and per connection
// (receive window, out-of-order budget, send buffer); nothing is allocated per packet.
// STANDARDS: RFC 9293 (TCP), RFC 7323 (window scale, timestamps, PAWS), RFC 2018 and RFC 6675
// (SACK; recovery simplified, see tcp_output.cc), RFC 6298 (RTO), RFC 5681 / 6582 (NewReno),
// RFC 5961 (blind in-window attacks), RFC 4987 (SYN cookies), RFC 6528 (ISNs), RFC 6191
// (TIME-WAIT reuse with timestamps), RFC 1191 (path MTU), RFC 1122 4.2.3.2 (delayed ACK).
//
// Events: the layer calls TcpHandler methods at the end of processing a segment or a timer, never
// in the middle of a state change. A handler may call any TcpLayer function from a callback,
// including close() or abort() of that connection.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/expected.h"
#include "common/net_types.h"
#include "common/strong_id.h"
#include "tcpstack/congestion.h"
#include "tcpstack/isn.h"
#include "tcpstack/packet.h"
#include "tcpstack/rto.h"
#include "tcpstack/seq.h"
#include "tcpstack/syn_cookie.h"
#include "tcpstack/tcp_buf.h"
#include "tcpstack/tcp_counters.h"
#include "tcpstack/tcp_header.h"
#include "tcpstack/timer_wheel.h"

namespace mx::net {

class NetStack;
class TcpLayer;
struct TcpConn;
struct TcpListener;

constexpr uint32_t kTcpMaxListeners = 16;
constexpr uint32_t kTcpOooSegCharge = 1024;      // each out-of-order segment costs at least this much budget
constexpr uint32_t kTcpMaxRxSegs = 1024;         // all received segments held per connection
// Out-of-order data is pruned lcore-wide (other connections' queues, oldest first) when fewer
// than 1/kTcpOooPruneLowDiv of the lcore's blocks or segment descriptors are left, until
// 1/kTcpOooPruneHighDiv are free again (tcp_rxq.cc).
constexpr uint32_t kTcpOooPruneLowDiv = 8;
constexpr uint32_t kTcpOooPruneHighDiv = 4;
constexpr uint32_t kTcpChallengeAckPerSec = 10;  // RFC 5961 7, per connection
constexpr uint32_t kTcpMaxSynRetries = 5;
constexpr uint32_t kTcpMaxRetries = 12;          // data retransmissions before giving up
constexpr uint32_t kTcpMaxScoreboard = 8;        // SACK ranges remembered from the peer
constexpr uint32_t kTcpMaxRecoveryBurst = 4;     // holes retransmitted per ACK in SACK recovery
constexpr uint16_t kTcpDefaultMss = 536;         // RFC 9293 3.7.1 when the peer sends none
constexpr uint16_t kTcpMinMss = 536;
constexpr uint64_t kTcpOrphanPersistNs = 60 * kNsPerSec;  // zero window after close(): then RST             // floor for PMTU reductions (RFC 1191 minimum 576)

struct TcpConfig {
  uint32_t max_conns = 4096;        // connection table capacity (TIME-WAIT included)
  uint32_t rx_segs = 16384;         // segment descriptors per lcore
  uint32_t blocks = 8192;           // 2 KiB blocks per lcore (send buffers, small-segment copies)
  uint32_t rcv_buf = 256 * 1024;    // receive window per connection
  uint32_t snd_buf = 256 * 1024;    // send buffer per connection
  uint32_t ooo_budget = 256 * 1024; // out-of-order bytes held per connection (see tcp_rxq.cc)
  uint32_t max_held_packets = 4096; // packet buffers held at once (zero copy); then payload is copied
  uint16_t syn_backlog = 1024;      // half-open connections per listener before SYN cookies
  uint16_t accept_backlog = 1024;   // established connections waiting for accept()
  uint64_t msl_ns = 30 * kNsPerSec; // TIME-WAIT lasts 2 MSL
  uint64_t delack_ns = 40 * kNsPerMs;
  uint64_t keepalive_idle_ns = 0;   // 0: no keepalive; else idle time before probes
  // A zero window that stays closed this long ends the connection (RST, kTimeout): a peer that
  // never reads cannot pin our send buffer for ever (RFC 6429 allows it for resource management).
  // Once the application closed the connection, kTcpOrphanPersistNs instead.
  uint64_t persist_max_ns = 600 * kNsPerSec;
  uint64_t keepalive_intvl_ns = 10 * kNsPerSec;
  uint32_t keepalive_probes = 5;
  uint64_t syn_rcvd_timeout_ns = 30 * kNsPerSec;
  RtoConfig rto{1 * kNsPerSec, 200 * kNsPerMs, 60 * kNsPerSec, kNsPerMs};  // min 200 ms, as Linux
  uint16_t ephemeral_lo = 32768, ephemeral_hi = 60999;
  uint32_t isn_fixed = 0;           // tests only: every ISN is this (0: RFC 6528 keyed hash)
  uint64_t key0 = 0x6d78676174650001ull, key1 = 0x6d78676174650002ull;  // ISN/cookie/hash secret
};

enum class TcpState : uint8_t {
  kClosed, kListen, kSynSent, kSynReceived, kEstablished, kFinWait1, kFinWait2,
  kCloseWait, kClosing, kLastAck, kTimeWait,
};
const char* tcp_state_name(TcpState s) noexcept;

enum class TcpError : uint8_t { kNone, kReset, kRefused, kTimeout, kAborted, kNoMemory };
const char* tcp_error_name(TcpError e) noexcept;

// Callbacks of one connection. The connection pointer stays valid until on_closed returns or
// the application calls close()/abort() (after which no callback arrives).
class TcpHandler {
 public:
  virtual ~TcpHandler() = default;
  virtual void on_connected(TcpConn&) {}    // active open completed
  virtual void on_data(TcpConn&) {}         // bytes are readable
  virtual void on_writable(TcpConn&) {}     // send space became available after send() fell short
  virtual void on_peer_closed(TcpConn&) {}  // FIN received after all data: no more bytes come
  virtual void on_closed(TcpConn&, TcpError) = 0;  // the connection is gone (reset, timeout, ...)
};

// Connections completing the handshake on a listener wait in its accept queue; on_acceptable is
// called when the queue becomes non-empty, and the handler takes them with TcpLayer::accept().
class TcpListenHandler {
 public:
  virtual ~TcpListenHandler() = default;
  virtual void on_acceptable(TcpListener&) = 0;
};

// Source-port choice for active opens: true when the tuple is acceptable (e.g. its RSS hash
// lands on this lcore's queue).
using PortChoiceFn = bool (*)(void* ctx, const FourTuple& t);

struct TcpListener {
  Ipv4Addr addr;  // 0.0.0.0: any of ours
  uint16_t port = 0;
  bool used = false;
  uint16_t synq = 0;  // connections in SYN-RECEIVED
  uint16_t acceptq = 0;
  uint64_t cookie_until_ns = 0;  // cookies were sent recently: accept cookie ACKs until then
  TcpConn* acceptq_head = nullptr;
  TcpConn* acceptq_tail = nullptr;
  TcpListenHandler* handler = nullptr;
};

struct ConnTimer : TimerNode {
  TcpConn* conn = nullptr;
};

enum ConnFlag : uint32_t {
  kCfPassive = 1u << 0,       // created by a listener
  kCfInAcceptQ = 1u << 1,
  kCfAppClosed = 1u << 2,     // close(): the application will not read; no more callbacks
  kCfFinQueued = 1u << 3,     // shutdown_write()/close(): send FIN after the queued data
  kCfFinSent = 1u << 4,
  kCfTs = 1u << 5,            // timestamps negotiated
  kCfSack = 1u << 6,          // SACK permitted both ways
  kCfWs = 1u << 7,            // window scaling negotiated
  kCfWantWritable = 1u << 8,  // send() fell short: on_writable when space frees
  kCfAckNow = 1u << 9,
  kCfFinRcvd = 1u << 10,      // peer's FIN consumed (rcv_nxt past it)
  kCfOooFin = 1u << 11,       // a FIN arrived out of order at ooo_fin
  kCfDead = 1u << 12,         // freed at the end of the current input/poll
  kCfRttActive = 1u << 13,
  kCfCookie = 1u << 14,       // established from a SYN cookie
  kCfPending = 1u << 15,      // on the layer's pending-event list
};

enum ConnEvent : uint8_t {
  kEvConnected = 1u << 0,
  kEvData = 1u << 1,
  kEvWritable = 1u << 2,
  kEvPeerClosed = 1u << 3,
  kEvClosed = 1u << 4,
};

enum class RtxKind : uint8_t { kNone, kRetransmit, kPersist, kKeepalive, kTimeWait, kSynRcvd };

// The transmission control block (RFC 9293 3.3.1). Field order groups what the fast path
// touches together.
struct TcpConn {
  FourTuple t;
  TcpState state = TcpState::kClosed;
  uint8_t events = 0;
  TcpError error = TcpError::kNone;
  uint8_t snd_wscale = 0, rcv_wscale = 0;
  uint32_t flags = 0;
  uint16_t mss = kTcpDefaultMss;  // effective send MSS (payload bytes per segment)
  uint16_t rx_segs = 0;           // received segments held (in order + out of order)
  uint16_t ooo_segs = 0;
  uint8_t retries = 0;
  uint8_t dupacks = 0;
  uint8_t unacked_segs = 0;       // received full segments not yet acknowledged (delayed ACK)
  uint8_t challenge_acks = 0;     // in the current second
  uint8_t sack_count = 0;         // ranges in `sacked`
  RtxKind rtx_kind = RtxKind::kNone;

  // Send side.
  SeqNum iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2, high_rxt, recover;
  uint32_t snd_wnd = 0, max_snd_wnd = 0;
  uint32_t snd_queued = 0;  // bytes in the send buffer from snd_una (FIN not counted)
  uint32_t snd_head = kTcpNoBlock, snd_tail = kTcpNoBlock;  // block chain
  uint32_t snd_head_off = 0;  // offset of snd_una in the head block
  uint32_t snd_tail_len = 0;  // bytes used in the tail block
  uint32_t snd_cur = kTcpNoBlock;  // copy_out's cursor: a block of the chain and
  SeqNum snd_cur_seq;              // the sequence number of its first byte
  SackBlock sacked[kTcpMaxScoreboard];

  // Receive side.
  SeqNum irs, rcv_nxt, rcv_adv, ooo_fin;
  uint32_t rcv_queued = 0;  // in-order bytes waiting for the application
  uint32_t ooo_bytes = 0;
  RxSeg* rcvq_head = nullptr;
  RxSeg* rcvq_tail = nullptr;
  RxSeg* ooo_head = nullptr;  // sorted by seq, non-overlapping
  TcpConn* ooo_older = nullptr;  // the lcore's connections holding out-of-order data, oldest
  TcpConn* ooo_newer = nullptr;  // first (TcpLayer::ooo_first_/ooo_last_)
  bool ooo_linked = false;

  // Timestamps (RFC 7323) and round-trip timing.
  uint32_t ts_recent = 0;
  uint32_t ts_recent_ms = 0;  // our clock when ts_recent was set
  uint32_t challenge_sec = 0;
  SeqNum rtt_seq;
  uint64_t rtt_start_ns = 0;
  uint64_t last_rx_ns = 0;
  uint64_t persist_since_ns = 0;  // the peer's window has been zero since (persist timer armed)
  RtoEstimator rto{RtoConfig{}};
  NewReno cc{kTcpDefaultMss};

  ConnTimer rtx_timer;
  ConnTimer ack_timer;
  TcpHandler* handler = nullptr;
  void* user = nullptr;  // the application's pointer
  TcpListener* listener = nullptr;
  TcpConn* next = nullptr;  // pool free list, accept queue, dead list
  TcpConn* pending_next = nullptr;

  bool has(ConnFlag f) const { return (flags & f) != 0; }
  void set(ConnFlag f) { flags |= f; }
  void clear(ConnFlag f) { flags &= ~static_cast<uint32_t>(f); }
  uint32_t flight() const { return seq_diff(snd_nxt, snd_una); }
};

class TcpLayer {
 public:
  TcpLayer(NetStack& stack, Netif& netif, const TcpConfig& cfg, Tick now);
  ~TcpLayer();
  TcpLayer(const TcpLayer&) = delete;
  TcpLayer& operator=(const TcpLayer&) = delete;

  // ---- from the IP layer ----
  // A TCP segment (the IPv4 payload) from src to dst.
  void input(const PacketView& pkt, Ipv4Addr src, Ipv4Addr dst, ByteSpan seg, Tick now) noexcept;
  // An ICMP destination-unreachable about a segment we sent: `inner` is the quoted IPv4 header
  // plus at least 8 bytes of TCP header. code 4 with next_hop_mtu lowers the path MTU.
  void icmp_unreachable(uint8_t code, uint16_t next_hop_mtu, ByteSpan inner, Tick now) noexcept;
  // Timers; call often (every loop iteration is fine: it does nothing until a tick passes).
  void poll(Tick now) noexcept;

  // ---- for the application ----
  Expected<TcpListener*> listen(Ipv4Addr addr, uint16_t port, TcpListenHandler* h);
  void unlisten(TcpListener& l) noexcept;
  TcpConn* accept(TcpListener& l, TcpHandler* h, void* user = nullptr) noexcept;
  // Active open from our address; nullptr with *err set when no port or no memory is left.
  TcpConn* connect(Ipv4Addr dst, uint16_t dport, TcpHandler* h, void* user, TcpError* err) noexcept;
  void set_port_choice(PortChoiceFn fn, void* ctx) noexcept { port_fn_ = fn; port_ctx_ = ctx; }

  uint32_t readable(const TcpConn& c) const noexcept { return c.rcv_queued; }
  ByteSpan peek(const TcpConn& c) const noexcept;  // the first contiguous run
  void consume(TcpConn& c, uint32_t n) noexcept;
  uint32_t read(TcpConn& c, uint8_t* out, uint32_t n) noexcept;  // copies and consumes
  // Zero copy: hands the first run to the caller, who must give it back with release() on this
  // layer (this lcore) when done; the bytes stay valid until then, even after the connection
  // is gone.
  bool take(TcpConn& c, RxBuf& out) noexcept;
  void release(RxBuf& b) noexcept;

  uint32_t send_space(const TcpConn& c) const noexcept;
  // Queues up to data.size() bytes; returns how many were taken (fewer when the send buffer is
  // full: on_writable follows when space frees).
  uint32_t send(TcpConn& c, ByteSpan data) noexcept;
  void shutdown_write(TcpConn& c) noexcept;  // FIN after the queued data; reading continues
  void close(TcpConn& c) noexcept;           // shutdown_write + detach; RST if unread data
  void abort(TcpConn& c) noexcept;           // RST now; detach

  const TcpCounters& counters() const noexcept { return ctr_; }
  TcpCounters& counters() noexcept { return ctr_; }
  uint32_t conn_count() const noexcept { return conns_in_use_; }
  uint32_t blocks_available() const noexcept { return blocks_.available(); }
  uint32_t packets_held() const noexcept { return held_; }
  uint32_t rxsegs_available() const noexcept { return segs_.available(); }
  const TcpConfig& config() const noexcept { return cfg_; }
  Tick now() const noexcept { return now_; }
  // Connections per state (diagnostics; walks the table).
  void count_states(uint32_t (&out)[11]) const noexcept;
  // Looks up a connection by tuple (tests and diagnostics).
  TcpConn* find(const FourTuple& t) const noexcept;

 private:
  friend struct TcpInternals;
  // connection table (tcp_table.cc)
  uint32_t hash(const FourTuple& t) const noexcept;
  bool table_insert(TcpConn* c) noexcept;
  void table_erase(TcpConn* c) noexcept;
  TcpConn* conn_alloc(const FourTuple& t) noexcept;
  void conn_free(TcpConn* c) noexcept;
  void reap() noexcept;
  // input (tcp_input.cc)
  void conn_input(TcpConn* c, const TcpSegment& s, const PacketView& pkt) noexcept;
  void syn_sent_input(TcpConn* c, const TcpSegment& s) noexcept;
  bool check_seq(TcpConn* c, const TcpSegment& s) noexcept;
  bool rst_and_syn(TcpConn* c, const TcpSegment& s) noexcept;
  bool ack_input(TcpConn* c, const TcpSegment& s) noexcept;
  void ack_advance(TcpConn* c, const TcpSegment& s, uint32_t acked) noexcept;
  void dupack_input(TcpConn* c, const TcpSegment& s) noexcept;
  void fin_acked(TcpConn* c) noexcept;
  void data_input(TcpConn* c, const TcpSegment& s, const PacketView& pkt) noexcept;
  void fin_input(TcpConn* c) noexcept;
  void timewait_input(TcpConn* c, const TcpSegment& s) noexcept;
  void challenge_ack(TcpConn* c) noexcept;
  void established(TcpConn* c) noexcept;
  void dispatch(TcpConn* c) noexcept;
  void notify(TcpConn* c, uint8_t ev) noexcept;
  void finish() noexcept;
  void conn_error(TcpConn* c, TcpError e) noexcept;
  // listen (tcp_listen.cc)
  TcpListener* find_listener(Ipv4Addr dst, uint16_t port) noexcept;
  void listen_input(TcpListener* l, const TcpSegment& s, const FourTuple& t, const PacketView& pkt) noexcept;
  bool cookie_ack(TcpListener* l, const TcpSegment& s, const FourTuple& t, const PacketView& pkt) noexcept;
  void acceptq_remove(TcpConn* c) noexcept;
  void syn_options(TcpConn* c, const TcpSegment& s) noexcept;
  bool timewait_reuse(TcpConn* c, const TcpSegment& s) noexcept;
  void acceptq_push(TcpListener* l, TcpConn* c) noexcept;
  uint32_t minute() const noexcept;
  // receive queue and reassembly (tcp_rxq.cc)
  RxSeg* make_seg(TcpConn* c, const PacketView& pkt, const uint8_t* data, uint32_t len) noexcept;
  void ooo_track(TcpConn* c) noexcept;
  bool rx_pressure() const noexcept;
  void ooo_prune(const TcpConn* keep) noexcept;
  uint32_t deliver(TcpConn* c, const uint8_t* p, uint32_t n, const PacketView& pkt) noexcept;
  void rcvq_append(TcpConn* c, RxSeg* seg) noexcept;
  void ooo_insert(TcpConn* c, SeqNum seq, const uint8_t* data, uint32_t len, const PacketView& pkt) noexcept;
  void ooo_pull(TcpConn* c) noexcept;
  void rx_purge(TcpConn* c) noexcept;
  uint32_t rcv_window(const TcpConn* c) const noexcept;
  uint8_t ooo_sack(const TcpConn* c, SackBlock* out, uint8_t max) const noexcept;
  void window_update(TcpConn* c) noexcept;
  // output (tcp_output.cc)
  void output(TcpConn* c) noexcept;
  bool send_segment(TcpConn* c, SeqNum seq, uint32_t& len, uint8_t& flags) noexcept;
  void send_ack(TcpConn* c) noexcept;
  void send_probe(TcpConn* c) noexcept;
  void send_syn(TcpConn* c) noexcept;
  void send_rst_for(const FourTuple& t, const TcpSegment& s) noexcept;
  void send_raw(const FourTuple& t, SeqNum seq, SeqNum ack, uint8_t flags, uint16_t wnd,
                const uint8_t* opts, uint32_t opt_len) noexcept;
  void retransmit_first(TcpConn* c) noexcept;
  bool sack_recovery(TcpConn* c) noexcept;
  void sack_update(TcpConn* c, const TcpSegment& s) noexcept;
  uint32_t sacked_bytes(const TcpConn* c) const noexcept;
  void copy_out(TcpConn* c, SeqNum seq, uint8_t* dst, uint32_t len) noexcept;
  void snd_drop_acked(TcpConn* c, uint32_t n) noexcept;
  uint32_t ts_now() const noexcept { return static_cast<uint32_t>(now_.ns / kNsPerMs); }
  uint16_t adv_window(TcpConn* c) noexcept;
  // timers (tcp_timer.cc)
  void arm_rtx(TcpConn* c, RtxKind k, uint64_t after_ns) noexcept;
  void disarm_rtx(TcpConn* c) noexcept;
  void arm_delack(TcpConn* c) noexcept;
  void on_rtx_timer(TcpConn* c) noexcept;
  void on_ack_timer(TcpConn* c) noexcept;
  void enter_timewait(TcpConn* c) noexcept;
  void set_state(TcpConn* c, TcpState s) noexcept;

  NetStack& stack_;
  Netif& netif_;
  TcpConfig cfg_;
  Tick now_;
  TcpCounters ctr_;
  IsnGenerator isn_;
  SynCookies cookies_;
  TimerWheel wheel_;
  BlockPool blocks_;
  ObjPool<RxSeg> segs_;
  std::vector<TcpConn> conns_;
  TcpConn* free_conns_ = nullptr;
  TcpConn* dead_ = nullptr;
  uint32_t conns_in_use_ = 0;
  std::vector<TcpConn*> table_;  // open addressing, linear probing, backward-shift deletion
  uint32_t table_mask_ = 0;
  TcpListener listeners_[kTcpMaxListeners];
  uint16_t next_port_;
  PortChoiceFn port_fn_ = nullptr;
  void* port_ctx_ = nullptr;
  uint8_t rcv_wscale_ = 0;
  uint32_t dispatch_depth_ = 0;
  uint32_t held_ = 0;  // packet buffers held through Netif::rx_hold
  TcpConn* pending_ = nullptr;
  TcpConn* ooo_first_ = nullptr;  // oldest out-of-order holder (pruned first under pressure)
  TcpConn* ooo_last_ = nullptr;
  bool notify_listeners_ = false;
};

}  // namespace mx::net
