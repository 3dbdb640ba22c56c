// dataplane/control_link.h — the data plane's end of the channel to mxgate-control (ipc/frame.h),
// run by the main thread (never a net lcore): it connects to control's node socket (a Unix
// socket, or TCP with mutual TLS for a control on another host), says hello
// with the node's name and the generation it serves, and for every snapshot pushed: validates
// it whole (ipc::parse_snapshot, rules compiled), keeps it durably in the state directory,
// publishes it (sessions in flight keep the generation they started with), and ACKs it — or
// NACKs it with the reason and keeps serving what it had. While control is unreachable it keeps
// serving and reconnects every kControlRetryMs; at start, the last snapshot pushed (if any) is
// what mxgate serves (load_pushed_snapshot), so a restart does not need control.
//
// It also ships the transaction log to control. The log file itself (written and fdatasync'ed by
// the I/O thread) is the journal: records are sent in batches of whole lines from the position
// control last acknowledged, each batch numbered by its position in the node's log stream
// (seq = base + offset in the file), so control de-duplicates a batch sent again after a lost
// connection or a restart; the acknowledged position is kept durably in state_dir/log.state.
// One batch is in flight at a time. If the file is replaced (another inode) or truncated,
// shipping continues in the new content at a base past everything acknowledged and past the batch
// that may be in flight; lines of the old file not yet acknowledged then stay in that file (not
// collected).
//
// And every kStatsIntervalMs (and at once after hello) it sends the node's counters in a stats
// frame (ipc/node_stats.h; names in docs/ipc.md), which control relays in its GET /metrics. They
// are read the way another thread may read them while the lcores run: each gateway's copy
// published at its timer tick, the workers' atomics; nothing on the data path waits for it. A
// stats frame is queued only when nothing else is waiting to be written, so a slow control
// never makes the link buffer more than one.
//
// Over TCP ([control] socket = "tcp:HOST:PORT") the connect and the TLS handshake are stepped at
// each poll() without blocking (HOST is an IP literal: no name lookup), and must finish within
// kControlConnectTimeoutMs; the node presents its certificate (control admits it only if the
// certificate names node_name) and verifies control's against tls_ca and tls_server_name
// (common/tls_channel.h). A connection that control keeps refusing the same way is logged once,
// not at every retry.
//
// SECURITY: control is trusted to set policy, but its bytes are parsed with bounds
// (ipc::FrameReader, the snapshot reader); the first bad frame closes the channel. Over TCP it is
// trusted only once its certificate verified: a man in the middle can neither push a policy nor
// read the transaction log. Writes never raise SIGPIPE (send with MSG_NOSIGNAL, also under TLS).
// STANDARDS: none (docs/ipc.md); TLS: see common/tls_channel.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/tls_channel.h"
#include "dataplane/config.h"
#include "dataplane/gateway.h"
#include "ipc/frame.h"

namespace mx::dp {

constexpr uint64_t kControlRetryMs = 1000;
constexpr uint64_t kControlConnectTimeoutMs = tls::kHandshakeTimeoutMs;  // TCP connect + TLS handshake
// A connection that ends the same way as the one before within this is not logged again (a
// control that refuses this node at once, every kControlRetryMs).
constexpr uint64_t kControlFlapMs = 5000;
constexpr uint64_t kStatsIntervalMs = 5000;  // between stats frames
constexpr const char* kPushedSnapshotFile = "snapshot.toml";
constexpr const char* kLogStateFile = "log.state";
// At most this much of the log per batch (whole lines): the frame's bound, so that under load each
// of control's commits (an fsync) carries as many records as it can (group commit).
constexpr size_t kLogBatchBytes = ipc::kMaxLogBatchBytes;

// The snapshot last pushed and kept in `state_dir`, with its generation; a null snapshot when
// there is none. An unreadable or invalid file is an error (mxgate does not start on a policy it
// cannot read; remove the file to start from [gateway] tenants).
struct PushedSnapshot {
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t generation = 0;
};
Expected<PushedSnapshot> load_pushed_snapshot(const std::string& state_dir);

class NetLcore;
// What the stats frame is built from: main's objects, which outlive the link (any may be null:
// no gateway).
struct StatsSources {
  const std::vector<std::unique_ptr<NetLcore>>* lcores = nullptr;
  const ScanWorker* scan = nullptr;
  const IoWorker* io = nullptr;
};
// The node's counters as the stats frame's text: every gateway's summed over lcores and ports,
// the scan and I/O threads', the spool's depth, the message memory in use and `serving`.
std::string stats_text(const StatsSources& src, const GatewayShared& gw, uint64_t serving);

class ControlLink {
 public:
  // `serving`: the control generation mxgate serves now (0: its own file).
  // `log_file`: the transaction log to ship (empty: none).
  ControlLink(const cfg::ControlSection& cfg, GatewayShared& gw, uint64_t serving, std::string log_file);
  ~ControlLink();
  ControlLink(const ControlLink&) = delete;
  ControlLink& operator=(const ControlLink&) = delete;
  // Non-blocking; call every loop of the main thread.
  void poll(uint64_t now_ms);
  uint64_t serving() const { return serving_; }
  bool connected() const { return state_ == State::kUp; }
  uint64_t log_acked() const { return log_acked_; }
  void set_stats_sources(const StatsSources& s) { stats_ = s; }

 private:
  enum class State { kDown, kConnecting, kHandshaking, kUp };
  void connect_now(uint64_t now_ms);
  bool advance(uint64_t now_ms);  // steps a TCP connect and TLS handshake; true once up
  void up(uint64_t now_ms);       // connected: say hello
  void unreachable(const std::string& why, uint64_t now_ms);
  std::string where() const;      // the socket path or tcp:HOST:PORT, for logs
  void on_frame(const ipc::FrameHeader& h, std::string_view payload);
  void apply(uint64_t generation, std::string_view document);
  void send(ipc::FrameType t, uint64_t seq, std::string_view payload);
  void flush();  // what is queued, as far as the socket takes it
  void drop(const std::string& why, uint64_t now_ms);
  void ship_log();
  void log_acked(uint64_t seq);
  void save_log_state();
  void send_stats();

  cfg::ControlSection cfg_;
  GatewayShared& gw_;
  uint64_t serving_ = 0;
  int fd_ = -1;
  State state_ = State::kDown;
  std::shared_ptr<tls::Context> tls_ctx_;  // over TCP: made at the first attempt
  std::unique_ptr<tls::Stream> tls_;
  uint64_t connect_deadline_ms_ = 0;
  uint64_t up_at_ms_ = 0;
  std::string unreachable_why_;  // the last reason logged (not logged again while it repeats)
  std::string lost_why_;         // the last connection's end, and whether repeats are quiet
  bool quiet_ = false;
  uint64_t retry_at_ms_ = 0;
  uint64_t now_ms_ = 0;  // of the current poll()
  ipc::FrameReader reader_;
  std::string out_;
  std::string log_path_;
  uint64_t log_inode_ = 0, log_base_ = 0, log_acked_ = 0, log_sent_ = 0;  // sent == acked: none in flight
  StatsSources stats_;
  uint64_t stats_at_ms_ = 0;  // the next stats frame is due
};

}  // namespace mx::dp
