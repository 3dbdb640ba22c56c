// dataplane/gateway.cc — the per-lcore gateway: listener, rings, snapshot pick-up, reaping.
#include "dataplane/gateway.h"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>

#include "dataplane/gateway_session.h"

namespace mx::dp {

namespace {

constexpr std::string_view kExtraActions[] = {"abandoned", "spool", "other"};
constexpr std::string_view kRefusalStages[] = {"smtp", "rcpt", "data", "output", "other"};
constexpr size_t kPolicyActions = kMessageActionSlots - std::size(kExtraActions);
static_assert(std::size(kRefusalStages) == kRefusalStageSlots);
static_assert(static_cast<size_t>(scan::PolicyAction::kReject) + 1 == kPolicyActions,
              "a new policy action needs a slot in GatewayCounters::messages_by");

}  // namespace

std::string_view message_class_name(size_t slot) noexcept {
  return slot < scan::kVerdictClassCount ? scan::verdict_class_name(static_cast<scan::VerdictClass>(slot))
                                         : std::string_view("unscanned");
}

std::string_view message_action_name(size_t slot) noexcept {
  return slot < kPolicyActions ? scan::policy_action_name(static_cast<scan::PolicyAction>(slot))
                               : kExtraActions[std::min(slot - kPolicyActions, std::size(kExtraActions) - 1)];
}

size_t message_action_slot(std::string_view action) noexcept {
  for (size_t i = 0; i + 1 < kMessageActionSlots; ++i)
    if (message_action_name(i) == action) return i;
  return kMessageActionSlots - 1;
}

std::string_view refusal_stage_name(size_t slot) noexcept {
  return kRefusalStages[std::min(slot, kRefusalStageSlots - 1)];
}

size_t refusal_stage_slot(std::string_view stage) noexcept {
  for (size_t i = 0; i + 1 < kRefusalStageSlots; ++i)
    if (kRefusalStages[i] == stage) return i;
  return kRefusalStageSlots - 1;
}

void PublishedCounters::store(const GatewayCounters& c) noexcept {
  uint64_t w[kWords];
  std::memcpy(w, &c, sizeof w);
  for (size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
}

GatewayCounters PublishedCounters::load() const noexcept {
  uint64_t w[kWords];
  for (size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
  GatewayCounters c;
  std::memcpy(&c, w, sizeof w);
  return c;
}

void GatewayShared::publish(std::shared_ptr<const Snapshot> s) {
  std::lock_guard<std::mutex> g(mu_);
  snap_ = std::move(s);
  generation.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Snapshot> GatewayShared::current() const {
  std::lock_guard<std::mutex> g(mu_);
  return snap_;
}

Gateway::Gateway(GatewayShared& sh, net::TcpLayer& tcp, Ipv4Addr addr, uint32_t lcore)
    : sh_(sh), tcp_(tcp), addr_(addr), lcore_(lcore) {
  server_cfg_.hostname = sh.cfg->hostname;
  server_cfg_.max_message_size = sh.cfg->max_message_size;
  msg_mem_.limit = sh.lcore_msg_limit;
}

Gateway::~Gateway() {
  reap();
  // Requests that never reached the I/O thread (it has stopped): nothing was promised on them
  // (final replies wait for the I/O thread's answer).
  for (IoReq* r : io_backlog_) delete r;
  io_backlog_.clear();
  for (auto& [g, s] : sessions_) delete s;
  for (RelayConn* r : relays_) delete r;
  // Jobs and requests still out on other threads are answered into these rings after the
  // threads stop; main stops them before the gateways are destroyed.
  void* p = nullptr;
  while (scan_reply_ && rte_ring_dequeue(scan_reply_, &p) == 0) delete static_cast<MsgJob*>(p);
  while (io_reply_ && rte_ring_dequeue(io_reply_, &p) == 0) delete static_cast<IoReq*>(p);
  // Deliveries not started stay in the spool (the I/O thread owns the files).
  while (spool_in_ && rte_ring_dequeue(spool_in_, &p) == 0) delete static_cast<SpoolDelivery*>(p);
  rte_ring_free(spool_in_);
  rte_ring_free(scan_reply_);
  rte_ring_free(io_reply_);
}

Expected<bool> Gateway::start() {
  const std::string suffix = std::to_string(lcore_) + "_" + std::to_string(addr_.v & 0xffff);
  scan_reply_ = rte_ring_create(("mx_scan_r" + suffix).c_str(), kGatewayReplyRing, SOCKET_ID_ANY,
                                RING_F_SC_DEQ);
  io_reply_ = rte_ring_create(("mx_io_r" + suffix).c_str(), kGatewayReplyRing, SOCKET_ID_ANY, RING_F_SC_DEQ);
  spool_in_ = rte_ring_create(("mx_spool" + suffix).c_str(), kSpoolRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (!scan_reply_ || !io_reply_ || !spool_in_) return Error{std::string("gateway rings: ") + rte_strerror(rte_errno)};
  snap_ = sh_.current();
  snap_gen_ = sh_.generation.load(std::memory_order_acquire);
  auto l = tcp_.listen(addr_, sh_.cfg->smtp_port, this);
  if (!l) return Error{"SMTP listener on " + addr_.to_string() + ":" + std::to_string(sh_.cfg->smtp_port) + ": " +
                       l.error().message};
  listener_ = *l;
  sh_.io->add_spool_target(spool_in_);
  return true;
}

void Gateway::on_acceptable(net::TcpListener& l) {
  while (net::TcpConn* c = tcp_.accept(l, nullptr)) {
    if (sessions_.size() >= sh_.cfg->max_sessions) {
      // Over the session limit: 421 instead of a greeting (RFC 5321 3.1), then close.
      ++ctr_.sessions_refused;
      static constexpr char k421[] = "421 4.3.2 too many connections, try again later\r\n";
      tcp_.send(*c, ByteSpan(reinterpret_cast<const uint8_t*>(k421), sizeof k421 - 1));
      tcp_.close(*c);
      continue;
    }
    ++ctr_.sessions;
    auto* s = new InSession(*this, c, tcp_.now());
    s->gen = next_gen_++;
    sessions_.emplace(s->gen, s);
    s->start(tcp_.now());
  }
}

bool Gateway::recipient_verified(const std::string& key, uint64_t now_ns) const {
  auto it = verified_.find(key);
  return it != verified_.end() && now_ns < it->second;
}

void Gateway::remember_recipient(const std::string& key, uint64_t now_ns) {
  if (verified_.size() >= kMaxVerifiedRecipients) verified_.clear();  // bounded; refilled on use
  verified_[key] = now_ns + kVerifiedRecipientNs;
}

const smtp::Reply* Gateway::recipient_refused(const std::string& key, uint64_t now_ns) const {
  auto it = refused_.find(key);
  return it != refused_.end() && now_ns < it->second.first ? &it->second.second : nullptr;
}

void Gateway::remember_refusal(const std::string& key, const smtp::Reply& r, uint64_t now_ns) {
  if (refused_.size() >= kMaxVerifiedRecipients) refused_.clear();
  refused_[key] = {now_ns + kRefusedRecipientNs, r};
}

bool Gateway::post_io(IoReq* r, bool best_effort) {
  if (io_backlog_.empty() && sh_.io->post(r)) return true;
  if (best_effort && io_backlog_.size() >= kMaxIoBacklog) {
    ++ctr_.io_dropped;
    return false;
  }
  ++ctr_.io_ring_full;
  io_backlog_.push_back(r);
  return true;
}

void Gateway::flush_io_backlog() {
  while (!io_backlog_.empty() && sh_.io->post(io_backlog_.front())) io_backlog_.pop_front();
}

void Gateway::forget(InSession* s) { dead_sessions_.push_back(s); }

void Gateway::forget(RelayConn* r) {
  auto it = std::find(relays_.begin(), relays_.end(), r);
  if (it != relays_.end()) {
    *it = relays_.back();
    relays_.pop_back();
  }
  dead_relays_.push_back(r);
}

void Gateway::reap() {
  for (InSession* s : dead_sessions_) {
    sessions_.erase(s->gen);
    delete s;
  }
  dead_sessions_.clear();
  for (RelayConn* r : dead_relays_) delete r;
  dead_relays_.clear();
}

void Gateway::poll(Tick now) noexcept {
  // RCU: a new snapshot is taken here, between events; sessions keep the one they started with.
  const uint64_t g = sh_.generation.load(std::memory_order_acquire);
  if (g != snap_gen_) {
    snap_ = sh_.current();
    snap_gen_ = g;
    ++ctr_.snapshot_swaps;
  }
  void* p[32];
  unsigned n = rte_ring_sc_dequeue_burst(scan_reply_, p, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* job = static_cast<MsgJob*>(p[i]);
    if (auto* s = static_cast<InSession*>(job->session)) s->on_scanned(job, now);
    else delete job;  // its session went away while it was scanned
  }
  if (!io_backlog_.empty()) flush_io_backlog();
  n = rte_ring_sc_dequeue_burst(io_reply_, p, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* r = static_cast<IoReq*>(p[i]);
    // The session may be gone (the sender disconnected): then only the request is freed.
    auto it = sessions_.find(r->session_gen);
    if (!r->ok) ++ctr_.log_errors;
    if (it != sessions_.end()) it->second->on_io_done(r, now);
    delete r;
  }
  n = rte_ring_sc_dequeue_burst(spool_in_, p, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    ++ctr_.spool_deliveries;
    (new SpoolRelay(*this, static_cast<SpoolDelivery*>(p[i])))->start(now);  // owned by its RelayConn
  }
  reap();
}

void Gateway::on_timer(Tick now) noexcept {
  for (auto& [g, s] : sessions_) s->tick(now);
  for (size_t i = 0; i < relays_.size(); ++i) relays_[i]->tick(now);
  reap();
  published_.store(ctr_);
}

}  // namespace mx::dp
