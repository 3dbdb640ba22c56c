// dataplane/gateway.h — the gateway on one net lcore: SMTP sessions on tcpstack connections,
// tenant selection at RCPT, messages streamed to the scan thread, the verdict's action, relay to
// the tenant's server before 250, the transaction log and quarantine through the I/O thread.
//
// Threads: a Gateway belongs to one port queue of one net lcore and is touched only by it (the
// shared part, GatewayShared, is read-only except the snapshot slot and the id counter). Work
// crosses threads only as MsgJob* (scan thread) and IoReq* (I/O thread) on bounded rings.
// Replies that depend on other threads are deferred (ServerSession::resume) — the net lcore never
// waits.
//
// SECURITY: every byte from senders and from tenants' servers is untrusted and handled by
// smtp/'s engines with their limits. Recipients of domains no tenant owns get 550 5.7.1, so
// mxgate is never an open relay; so do source routes, '%'/'!' routing and address literals.
// A 250 after end of data means the tenant's server accepted the message, or it was quarantined
// durably, and in both cases the log record is durable.
// STANDARDS: RFC 5321 (3.3, 3.6 relaying, 4.2 replies, 6.1 reliable delivery), RFC 3207.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/net_types.h"
#include "dataplane/config.h"
#include "dataplane/io_worker.h"
#include "dataplane/ipc_use.h"
#include "dataplane/msg_job.h"
#include "dataplane/scan_worker.h"
#include "scan/policy.h"
#include "smtp/connection.h"
#include "tcpstack/tcp.h"

struct rte_ring;

namespace mx::dp {

constexpr uint32_t kGatewayReplyRing = 65536;  // >= every job/request one lcore can have open
constexpr uint64_t kVerifiedRecipientNs = 600 * kNsPerSec;  // a positive recipient check is kept
constexpr size_t kMaxVerifiedRecipients = 65536;             // per lcore; then the cache starts over
constexpr uint64_t kRefusedRecipientNs = 60 * kNsPerSec;     // a refusal is kept (dictionary attacks)
constexpr size_t kMaxIoBacklog = 16384;  // best-effort log lines waiting for the I/O ring; then dropped
constexpr uint32_t kMaxRcptChecks = 256;                     // checks open at once per lcore; beyond
                                                             // that a recipient is not checked

struct GatewaySpool {
  uint64_t retry_min_s = 60, retry_max_s = 3600, lifetime_s = 5 * 86400;
};

// Process-wide state the gateways share. Set up by main before the lcores start.
struct GatewayShared {
  const cfg::GatewaySection* cfg = nullptr;
  std::shared_ptr<const smtp::TlsServerContext> tls;
  std::shared_ptr<const smtp::TlsClientContext> tls_client;
  ScanWorker* scan = nullptr;
  IoWorker* io = nullptr;
  GatewaySpool spool;
  uint64_t id_base = 0;                 // start time in seconds << 24: ids are unique across restarts
  std::atomic<uint64_t> next_id{1};
  MemMeter msg_mem;                     // message bytes in flight, process-wide
  uint64_t lcore_msg_limit = UINT64_MAX;  // each gateway's own meter limit

  // The current snapshot: published by main (SIGHUP), picked up by each lcore at a loop boundary.
  void publish(std::shared_ptr<const Snapshot> s);
  std::shared_ptr<const Snapshot> current() const;
  std::atomic<uint64_t> generation{0};

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
};

// The classes and actions of message records (InSession::log_record) as slots of
// GatewayCounters::messages_by: the verdict classes, then "unscanned"; the policy actions, then
// "abandoned", "spool" and "other" (an action this list does not know yet). And the stages of
// "refused" records (log_refusal) as slots of refusals_by, the last "other".
constexpr size_t kMessageClassSlots = scan::kVerdictClassCount + 1;
constexpr size_t kMessageActionSlots = 8;
constexpr size_t kRefusalStageSlots = 5;
std::string_view message_class_name(size_t slot) noexcept;
std::string_view message_action_name(size_t slot) noexcept;
std::string_view refusal_stage_name(size_t slot) noexcept;
size_t message_action_slot(std::string_view action) noexcept;
size_t refusal_stage_slot(std::string_view stage) noexcept;

struct GatewayCounters {
  uint64_t sessions = 0, sessions_refused = 0, messages = 0, delivered = 0, quarantined = 0, rejected = 0,
           tempfailed = 0, relay_denied = 0, policy_split = 0, relay_failed = 0, log_errors = 0,
           scan_ring_full = 0, io_ring_full = 0, snapshot_swaps = 0, spooled = 0, spool_deliveries = 0,
           output_stalled = 0,  // sessions aborted because the client stopped reading
           memory_refused = 0,  // DATA refused (452 4.3.1) at the message memory budget
           client_gone = 0,     // clients that vanished while their final reply was pending
           rcpt_refused_downstream = 0,  // recipients the tenant's server refused at the check
           io_dropped = 0;  // best-effort log lines dropped past kMaxIoBacklog (io_ring_full: waited)
  // One per message record, by the class and action the record carries; one per "refused"
  // record, by its stage.
  uint64_t messages_by[kMessageClassSlots][kMessageActionSlots] = {};
  uint64_t refusals_by[kRefusalStageSlots] = {};
};
static_assert(std::is_trivially_copyable_v<GatewayCounters> && sizeof(GatewayCounters) % sizeof(uint64_t) == 0,
              "PublishedCounters copies GatewayCounters as an array of words");

// A gateway's counters as another thread may read them while the lcore runs (the main thread's
// stats for control): the lcore copies them here at every timer tick with relaxed atomic stores
// (no lock, nothing waits), so a reader sees each counter at most a tick old. The counters
// themselves stay plain: the lcore is their only writer.
class PublishedCounters {
 public:
  void store(const GatewayCounters& c) noexcept;  // the lcore
  GatewayCounters load() const noexcept;          // any thread
 private:
  static constexpr size_t kWords = sizeof(GatewayCounters) / sizeof(uint64_t);
  std::array<std::atomic<uint64_t>, kWords> words_{};
};

class InSession;
class RelayConn;

class Gateway final : public net::TcpListenHandler {
 public:
  Gateway(GatewayShared& sh, net::TcpLayer& tcp, Ipv4Addr addr, uint32_t lcore);
  ~Gateway() override;
  Expected<bool> start();
  // Called every loop iteration of the net lcore, after the stack's poll.
  void poll(Tick now) noexcept;
  // Every second: timeouts of sessions and relays.
  void on_timer(Tick now) noexcept;
  void on_acceptable(net::TcpListener& l) override;
  const GatewayCounters& counters() const { return ctr_; }  // the lcore's (or after it returned)
  GatewayCounters published_counters() const noexcept { return published_.load(); }  // any thread
  // Message bytes this lcore holds in memory now (0 once every message has left).
  uint64_t message_memory_in_use() const { return msg_mem_.used.load(std::memory_order_relaxed); }

 private:
  friend class InSession;
  friend class RelayConn;
  friend class SpoolRelay;
  // Deferred deletion: objects are deleted by reap() outside any of their callbacks.
  void forget(InSession* s);
  void forget(RelayConn* r);
  void reap();
  uint64_t new_id() { return sh_.id_base + sh_.next_id.fetch_add(1, std::memory_order_relaxed); }
  // Recipients a tenant's server accepted recently (verify_recipients): key tenant + address.
  bool recipient_verified(const std::string& key, uint64_t now_ns) const;
  void remember_recipient(const std::string& key, uint64_t now_ns);
  // A refusal of the tenant's server remembered for kRefusedRecipientNs, or null.
  const smtp::Reply* recipient_refused(const std::string& key, uint64_t now_ns) const;
  void remember_refusal(const std::string& key, const smtp::Reply& r, uint64_t now_ns);
  // Hands a request to the I/O thread. When its ring is full the request waits here, in order,
  // and is posted again on the next poll: a final reply is only delayed, never turned into a
  // 4xx, and no log record is lost. `best_effort` requests (log lines nobody waits for) are
  // dropped and counted once kMaxIoBacklog wait; false then (the caller still owns r).
  bool post_io(IoReq* r, bool best_effort = false);
  void flush_io_backlog();

  GatewayShared& sh_;
  net::TcpLayer& tcp_;
  Ipv4Addr addr_;
  uint32_t lcore_;
  net::TcpListener* listener_ = nullptr;
  smtp::ServerConfig server_cfg_;
  std::shared_ptr<const Snapshot> snap_;  // this lcore's view of the current snapshot
  uint64_t snap_gen_ = 0;
  rte_ring* scan_reply_ = nullptr;
  rte_ring* io_reply_ = nullptr;
  rte_ring* spool_in_ = nullptr;  // SpoolDelivery* from the I/O thread
  std::unordered_map<uint64_t, InSession*> sessions_;  // by InSession::gen
  std::vector<RelayConn*> relays_;
  std::vector<InSession*> dead_sessions_;
  std::vector<RelayConn*> dead_relays_;
  uint64_t next_gen_ = 1;
  MemMeter msg_mem_;  // message bytes in flight on this lcore
  std::unordered_map<std::string, uint64_t> verified_;  // recipient -> until (ns)
  std::unordered_map<std::string, std::pair<uint64_t, smtp::Reply>> refused_;  // -> until, reply
  uint32_t rcpt_checks_ = 0;  // open recipient checks
  std::deque<IoReq*> io_backlog_;  // requests waiting for room in the I/O ring (post_io)
  GatewayCounters ctr_;
  PublishedCounters published_;  // ctr_ as of the last on_timer
};

}  // namespace mx::dp
