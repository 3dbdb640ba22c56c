// dataplane/control_link.cc — snapshots from mxgate-control, validated, kept, published and
// acknowledged, over a Unix socket or TCP with mutual TLS (dataplane/control_link.h).
#include "dataplane/control_link.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/tcp_address.h"
#include "dataplane/durable.h"
#include "dataplane/net_lcore.h"
#include "ipc/node_stats.h"

namespace mx::dp {
namespace {

// The kept file: one header line with the generation, then the document (a TOML comment line,
// so the file is itself a valid snapshot). One durable write: never a document without its
// generation.
constexpr std::string_view kHeader = "# mxgate-control generation ";

// The gateway's plain counters and their names in the stats text (docs/ipc.md): the fields of
// the "mxgate: gateway" line printed at exit, as counters.
struct GatewayCounterName {
  const char* name;
  uint64_t GatewayCounters::*field;
};
constexpr GatewayCounterName kGatewayCounterNames[] = {
    {"mxgate_sessions_total", &GatewayCounters::sessions},
    {"mxgate_sessions_refused_total", &GatewayCounters::sessions_refused},
    {"mxgate_messages_received_total", &GatewayCounters::messages},
    {"mxgate_delivered_total", &GatewayCounters::delivered},
    {"mxgate_quarantined_total", &GatewayCounters::quarantined},
    {"mxgate_rejected_total", &GatewayCounters::rejected},
    {"mxgate_tempfailed_total", &GatewayCounters::tempfailed},
    {"mxgate_spooled_total", &GatewayCounters::spooled},
    {"mxgate_relay_denied_total", &GatewayCounters::relay_denied},
    {"mxgate_policy_split_total", &GatewayCounters::policy_split},
    {"mxgate_relay_failed_total", &GatewayCounters::relay_failed},
    {"mxgate_rcpt_refused_downstream_total", &GatewayCounters::rcpt_refused_downstream},
    {"mxgate_memory_refused_total", &GatewayCounters::memory_refused},
    {"mxgate_output_stalled_total", &GatewayCounters::output_stalled},
    {"mxgate_client_gone_total", &GatewayCounters::client_gone},
    {"mxgate_log_errors_total", &GatewayCounters::log_errors},
    {"mxgate_scan_ring_full_total", &GatewayCounters::scan_ring_full},
    {"mxgate_io_ring_full_total", &GatewayCounters::io_ring_full},
    {"mxgate_io_dropped_total", &GatewayCounters::io_dropped},
    {"mxgate_snapshot_swaps_total", &GatewayCounters::snapshot_swaps},
    {"mxgate_spool_deliveries_total", &GatewayCounters::spool_deliveries},
};

void counter(ipc::StatsWriter& w, const char* name, uint64_t v) {
  w.family(name, ipc::MetricType::kCounter);
  w.sample(name, v);
}

void gauge(ipc::StatsWriter& w, const char* name, uint64_t v) {
  w.family(name, ipc::MetricType::kGauge);
  w.sample(name, v);
}

}  // namespace

std::string stats_text(const StatsSources& src, const GatewayShared& gw, uint64_t serving) {
  // Every gateway (lcore and port) summed: the node is what control's scrape is about.
  GatewayCounters sum;
  bool gateway = false;
  if (src.lcores) {
    for (const auto& l : *src.lcores) {
      for (const auto& q : l->queues()) {
        if (!q->gateway) continue;
        gateway = true;
        const GatewayCounters c = q->gateway->published_counters();
        for (const GatewayCounterName& n : kGatewayCounterNames) sum.*n.field += c.*n.field;
        for (size_t k = 0; k < kMessageClassSlots; ++k)
          for (size_t a = 0; a < kMessageActionSlots; ++a) sum.messages_by[k][a] += c.messages_by[k][a];
        for (size_t k = 0; k < kRefusalStageSlots; ++k) sum.refusals_by[k] += c.refusals_by[k];
      }
    }
  }
  ipc::StatsWriter w;
  gauge(w, "mxgate_snapshot_generation", serving);
  if (gateway) {
    w.family("mxgate_messages_total", ipc::MetricType::kCounter);
    for (size_t k = 0; k < kMessageClassSlots; ++k)
      for (size_t a = 0; a < kMessageActionSlots; ++a)
        w.sample("mxgate_messages_total", {{"class", message_class_name(k)}, {"action", message_action_name(a)}},
                 sum.messages_by[k][a]);
    w.family("mxgate_refusals_total", ipc::MetricType::kCounter);
    for (size_t k = 0; k < kRefusalStageSlots; ++k)
      w.sample("mxgate_refusals_total", {{"stage", refusal_stage_name(k)}}, sum.refusals_by[k]);
    for (const GatewayCounterName& n : kGatewayCounterNames) counter(w, n.name, sum.*n.field);
    gauge(w, "mxgate_message_memory_bytes", gw.msg_mem.used.load(std::memory_order_relaxed));
  }
  if (src.scan) {
    const ScanWorkerStats& s = src.scan->stats();
    counter(w, "mxgate_scan_jobs_total", s.jobs.load(std::memory_order_relaxed));
    counter(w, "mxgate_scan_aborted_total", s.aborted.load(std::memory_order_relaxed));
    counter(w, "mxgate_scan_bytes_total", s.bytes.load(std::memory_order_relaxed));
    counter(w, "mxgate_scan_av_objects_total", s.av_objects.load(std::memory_order_relaxed));
    counter(w, "mxgate_scan_av_resubmits_total", s.av_resubmits.load(std::memory_order_relaxed));
    counter(w, "mxgate_scan_errors_total", s.scanner_errors.load(std::memory_order_relaxed));
  }
  if (src.io) {
    const IoStats& s = src.io->stats();
    counter(w, "mxgate_io_commits_total", s.commits.load(std::memory_order_relaxed));
    counter(w, "mxgate_io_log_lines_total", s.log_lines.load(std::memory_order_relaxed));
    counter(w, "mxgate_io_quarantined_total", s.quarantined.load(std::memory_order_relaxed));
    counter(w, "mxgate_io_spooled_total", s.spooled.load(std::memory_order_relaxed));
    counter(w, "mxgate_io_errors_total", s.errors.load(std::memory_order_relaxed));
    counter(w, "mxgate_spool_attempts_total", s.spool_attempts.load(std::memory_order_relaxed));
    counter(w, "mxgate_spool_delivered_total", s.spool_delivered.load(std::memory_order_relaxed));
    counter(w, "mxgate_spool_retries_total", s.spool_retries.load(std::memory_order_relaxed));
    counter(w, "mxgate_dsn_sent_total", s.dsn_sent.load(std::memory_order_relaxed));
    counter(w, "mxgate_dsn_suppressed_total", s.dsn_suppressed.load(std::memory_order_relaxed));
    counter(w, "mxgate_spool_bad_total", s.spool_bad.load(std::memory_order_relaxed));
    gauge(w, "mxgate_spool_messages", src.io->spool_size());
  }
  return w.take();
}

Expected<PushedSnapshot> load_pushed_snapshot(const std::string& state_dir) {
  const std::string path = state_dir + "/" + kPushedSnapshotFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) return PushedSnapshot{};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t eol = text.find('\n');
  uint64_t gen = 0;
  if (!text.starts_with(kHeader) || eol == std::string::npos ||
      std::from_chars(text.data() + kHeader.size(), text.data() + eol, gen).ptr != text.data() + eol || gen == 0)
    return Error{path + ": not a snapshot kept by mxgate (first line)"};
  auto snap = parse_snapshot(text, path, gen);
  if (!snap) return snap.error();
  return PushedSnapshot{std::move(*snap), gen};
}

ControlLink::ControlLink(const cfg::ControlSection& cfg, GatewayShared& gw, uint64_t serving, std::string log_file)
    : cfg_(cfg), gw_(gw), serving_(serving), log_path_(std::move(log_file)) {
  ::mkdir(cfg_.state_dir.c_str(), 0700);
  // "inode base acked": where shipping stands (written durably at every acknowledgement).
  std::ifstream in(cfg_.state_dir + "/" + kLogStateFile);
  if (!(in >> log_inode_ >> log_base_ >> log_acked_) || log_acked_ < log_base_) log_inode_ = log_base_ = log_acked_ = 0;
  log_sent_ = log_acked_;
}

ControlLink::~ControlLink() {
  if (fd_ >= 0) {
    if (tls_) tls_->close_notify();
    tls_.reset();
    ::close(fd_);
  }
}

std::string ControlLink::where() const { return cfg_.socket; }

void ControlLink::unreachable(const std::string& why, uint64_t now_ms) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  tls_.reset();
  state_ = State::kDown;
  retry_at_ms_ = now_ms + kControlRetryMs;
  if (why == unreachable_why_) return;  // said already: not at every retry
  unreachable_why_ = why;
  std::fprintf(stderr, "mxgate: control %s unreachable (%s): serving generation %llu, retrying every %llu ms\n",
               where().c_str(), why.c_str(), static_cast<unsigned long long>(serving_),
               static_cast<unsigned long long>(kControlRetryMs));
  std::fflush(stderr);
}

void ControlLink::connect_now(uint64_t now_ms) {
  if (!cfg_.tcp) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, cfg_.socket.c_str(), std::min(cfg_.socket.size() + 1, sizeof a.sun_path - 1));
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      const std::string why = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return unreachable(why, now_ms);
    }
    fd_ = fd;
    return up(now_ms);
  }
  // The context (the files) at the first attempt, and again at each attempt until it loads: a
  // file fixed while mxgate runs is picked up without a restart.
  if (!tls_ctx_) {
    auto ctx = tls::Context::client(cfg_.tls_ca, cfg_.tls_cert, cfg_.tls_key);
    if (!ctx) return unreachable(ctx.error().message, now_ms);
    tls_ctx_ = std::move(*ctx);
  }
  const auto a = TcpAddress::parse(cfg_.address);  // checked by the config reader
  if (!a) return unreachable("not an address: " + cfg_.address, now_ms);
  const int fd = ::socket(a->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unreachable(std::strerror(errno), now_ms);
  fd_ = fd;
  if (::connect(fd, a->addr(), a->len) != 0 && errno != EINPROGRESS) return unreachable(std::strerror(errno), now_ms);
  state_ = State::kConnecting;
  connect_deadline_ms_ = now_ms + kControlConnectTimeoutMs;
  advance(now_ms);
}

bool ControlLink::advance(uint64_t now_ms) {
  if (state_ == State::kConnecting) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) {  // not yet (or EINTR): never waited for
      if (now_ms >= connect_deadline_ms_) unreachable("no TCP connection within the deadline", now_ms);
      return false;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr) {
      unreachable(std::strerror(soerr), now_ms);
      return false;
    }
    tls_ = tls::Stream::connect(tls_ctx_, fd_, cfg_.tls_server_name);
    if (!tls_) {
      unreachable("cannot set up TLS for " + cfg_.tls_server_name, now_ms);
      return false;
    }
    state_ = State::kHandshaking;
  }
  if (state_ == State::kHandshaking) {
    const tls::Io io = tls_->handshake();
    if (io == tls::Io::kAgain) {
      if (now_ms >= connect_deadline_ms_) unreachable("TLS handshake not finished within the deadline", now_ms);
      return false;
    }
    if (io != tls::Io::kOk) {
      unreachable("TLS handshake: " + tls_->error(), now_ms);
      return false;
    }
    up(now_ms);
  }
  return state_ == State::kUp;
}

void ControlLink::up(uint64_t now_ms) {
  state_ = State::kUp;
  up_at_ms_ = now_ms;
  unreachable_why_.clear();
  reader_ = ipc::FrameReader(ipc::kNodeAccepts);
  out_.clear();
  log_sent_ = log_acked_;  // a batch not acknowledged before is sent again
  stats_at_ms_ = now_ms;   // the first stats frame right after hello
  if (!quiet_) {
    std::fprintf(stderr, "mxgate: control %s connected as node %s (serving generation %llu)%s%s\n", where().c_str(),
                 cfg_.node_name.c_str(), static_cast<unsigned long long>(serving_), tls_ ? ", " : "",
                 tls_ ? tls_->describe().c_str() : "");
    std::fflush(stderr);
  }
  send(ipc::FrameType::kHello, serving_, cfg_.node_name);
}

void ControlLink::poll(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (fd_ < 0) {
    if (now_ms >= retry_at_ms_) connect_now(now_ms);
    if (fd_ < 0) return;
  }
  if (state_ != State::kUp && !advance(now_ms)) return;
  if (quiet_ && now_ms - up_at_ms_ >= kControlFlapMs) {
    quiet_ = false;  // it stays up now: say so
    lost_why_.clear();
    std::fprintf(stderr, "mxgate: control %s connected as node %s (serving generation %llu)\n", where().c_str(),
                 cfg_.node_name.c_str(), static_cast<unsigned long long>(serving_));
    std::fflush(stderr);
  }
  char buf[65536];
  while (fd_ >= 0) {
    size_t n = 0;
    std::string err;
    const tls::Io io = tls::read_some(fd_, tls_.get(), buf, sizeof buf, n, err);
    if (io == tls::Io::kClosed) return drop("closed by control", now_ms);
    if (io == tls::Io::kError) return drop(err, now_ms);
    if (io == tls::Io::kAgain) break;
    size_t used = 0;
    while (fd_ >= 0 && used < n) {
      used += reader_.feed(ByteSpan(reinterpret_cast<const uint8_t*>(buf) + used, n - used));
      if (reader_.failed()) return drop("protocol error: " + reader_.error(), now_ms);
      ipc::FrameHeader h;
      std::string_view payload;
      while (fd_ >= 0 && reader_.next(h, payload)) on_frame(h, payload);
    }
  }
  ship_log();
  if (fd_ >= 0 && out_.empty() && now_ms >= stats_at_ms_) send_stats();
  flush();
}

void ControlLink::send_stats() {
  stats_at_ms_ = now_ms_ + kStatsIntervalMs;
  const std::string text = stats_text(stats_, gw_, serving_);
  if (text.size() > ipc::kMaxStatsBytes) {  // a fixed set of counters: a few KiB
    std::fprintf(stderr, "mxgate: stats of %zu bytes exceed the stats frame's bound: not sent\n", text.size());
    std::fflush(stderr);
    return;
  }
  send(ipc::FrameType::kStats, 0, text);
}

void ControlLink::on_frame(const ipc::FrameHeader& h, std::string_view payload) {
  using T = ipc::FrameType;
  switch (h.type) {
    case T::kSnapshot: apply(h.seq, payload); break;
    case T::kPing: send(T::kPong, h.seq, ""); break;
    case T::kPong: break;
    case T::kLogAck: log_acked(h.seq); break;
    default:
      std::fprintf(stderr, "mxgate: control sent an unexpected %s frame: ignored\n", ipc::frame_type_name(h.type));
  }
}

void ControlLink::apply(uint64_t generation, std::string_view document) {
  auto nack = [&](const std::string& why) {
    std::fprintf(stderr, "mxgate: generation %llu refused, keeping %llu: %s\n",
                 static_cast<unsigned long long>(generation), static_cast<unsigned long long>(serving_), why.c_str());
    std::fflush(stderr);
    send(ipc::FrameType::kNack, generation, why.substr(0, ipc::kMaxReasonBytes));
  };
  if (generation <= serving_) return nack("generation " + std::to_string(generation) + " is not newer than " +
                                          std::to_string(serving_));
  const std::string path = cfg_.state_dir + "/" + kPushedSnapshotFile;
  auto snap = parse_snapshot(document, path, generation);
  if (!snap) return nack(snap.error().message);
  // Kept before it serves: a restart comes back with what control last saw acknowledged.
  std::string kept = std::string(kHeader) + std::to_string(generation) + "\n";
  kept.append(document);
  const int dir = ::open(cfg_.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::string err = dir < 0 ? std::string(std::strerror(errno)) : std::string();
  const bool ok = dir >= 0 && durable_file(dir, kPushedSnapshotFile,
                                           ByteSpan(reinterpret_cast<const uint8_t*>(kept.data()), kept.size()), &err);
  if (dir >= 0) ::close(dir);
  if (!ok) return nack("cannot keep the snapshot in " + cfg_.state_dir + ": " + err);
  std::fprintf(stderr, "mxgate: tenant snapshot generation %llu from control (%zu tenant(s), %zu user(s))\n",
               static_cast<unsigned long long>(generation), (*snap)->tenants().size(), (*snap)->users().size());
  std::fflush(stderr);
  gw_.publish(std::move(*snap));
  serving_ = generation;
  send(ipc::FrameType::kAck, generation, "");
}

void ControlLink::send(ipc::FrameType t, uint64_t seq, std::string_view payload) {
  if (state_ != State::kUp) return;
  out_ += ipc::encode_frame(t, seq, payload);
  flush();
}

void ControlLink::flush() {
  if (state_ != State::kUp) return;
  // What was written is erased once, at the end: under TLS a write takes a record (16 KiB) at a
  // time, and erasing per write would move a 4 MiB batch hundreds of times.
  size_t off = 0;
  while (fd_ >= 0 && off < out_.size()) {
    size_t n = 0;
    std::string err;
    const tls::Io io = tls::write_some(fd_, tls_.get(), out_.data() + off, out_.size() - off, n, err);
    if (io == tls::Io::kAgain) break;
    if (io != tls::Io::kOk) return drop(err, now_ms_);
    off += n;
  }
  if (fd_ >= 0) out_.erase(0, off);  // a TLS record not finished starts the buffer again, as it must
}

void ControlLink::drop(const std::string& why, uint64_t now_ms) {
  if (fd_ < 0) return;
  if (tls_) tls_->close_notify();
  tls_.reset();
  ::close(fd_);
  fd_ = -1;
  state_ = State::kDown;
  out_.clear();
  retry_at_ms_ = now_ms + kControlRetryMs;
  // A control that ends the connection the same way right after each connect (it refuses this
  // node: a certificate that does not name it, a name in use) is said once, not every second.
  const bool flap = now_ms - up_at_ms_ < kControlFlapMs;
  const bool repeat = flap && why == lost_why_;
  lost_why_ = flap ? why : std::string();
  if (repeat) {
    if (!quiet_) {
      std::fprintf(stderr, "mxgate: control keeps closing the connection (%s): retrying every %llu ms, quietly\n",
                   why.c_str(), static_cast<unsigned long long>(kControlRetryMs));
      std::fflush(stderr);
    }
    quiet_ = true;
    return;
  }
  quiet_ = false;
  std::fprintf(stderr, "mxgate: control connection lost (%s): serving generation %llu\n", why.c_str(),
               static_cast<unsigned long long>(serving_));
  std::fflush(stderr);
}

void ControlLink::ship_log() {
  if (state_ != State::kUp || log_path_.empty() || log_sent_ != log_acked_ || !out_.empty()) return;
  const int fd = ::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return;
  }
  const auto ino = static_cast<uint64_t>(st.st_ino);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (ino != log_inode_ || size < log_acked_ - log_base_) {
    // Another file (first run, replaced, or truncated in place): its offset 0 comes after
    // everything acknowledged and after the one batch that may be in flight unacknowledged (its
    // records may be stored already), so no position is ever used twice.
    if (log_inode_)
      std::fprintf(stderr, "mxgate: transaction log %s is a new or truncated file: shipping it from its start\n",
                   log_path_.c_str());
    const bool first = log_inode_ == 0 && log_acked_ == 0;
    log_inode_ = ino;
    log_base_ = first ? 0 : log_acked_ + kLogBatchBytes + 1;
    log_acked_ = log_sent_ = log_base_;
    save_log_state();
  }
  const uint64_t off = log_acked_ - log_base_;
  if (size <= off) {
    ::close(fd);
    return;
  }
  std::string buf(static_cast<size_t>(std::min<uint64_t>(size - off, kLogBatchBytes)), '\0');
  const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
  ::close(fd);
  if (n <= 0) return;
  buf.resize(static_cast<size_t>(n));
  size_t last = buf.rfind('\n');  // whole lines only: the I/O thread may be mid-write
  if (last == std::string::npos) {
    if (buf.size() < kLogBatchBytes) return;
    last = buf.size() - 1;  // a "line" longer than a batch: sent in pieces (stored unparsed)
  }
  buf.resize(last + 1);
  send(ipc::FrameType::kLogBatch, log_acked_, buf);
  log_sent_ = log_acked_ + buf.size();
}

void ControlLink::log_acked(uint64_t seq) {
  if (seq != log_sent_ || seq == log_acked_) return;  // not the batch in flight
  log_acked_ = seq;
  save_log_state();
}

void ControlLink::save_log_state() {
  const std::string text = std::to_string(log_inode_) + " " + std::to_string(log_base_) + " " +
                           std::to_string(log_acked_) + "\n";
  const int dir = ::open(cfg_.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  std::string err;
  if (!durable_file(dir, kLogStateFile, ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size()), &err))
    std::fprintf(stderr, "mxgate: cannot keep the log position in %s: %s\n", cfg_.state_dir.c_str(), err.c_str());
  ::close(dir);
}

}  // namespace mx::dp
