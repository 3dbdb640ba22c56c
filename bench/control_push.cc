// bench/control_push.cc — pushing a big tenant snapshot from mxgate-control to a node. Two parts:
//
//   validate    ipc::parse_snapshot in this process (what control runs before a commit and what
//               the data plane runs before it ACKs), with the TOML layer (cfg::parse_toml) timed
//               alone to show where the time goes, and the RSS a node holds for the snapshot
//               (growth, and the transient peak while parsing);
//   end to end  a real mxgate-control process (its own store and sockets in a mkdtemp directory);
//               this program is the node (the real framing, ipc/frame.h: hello, then for the
//               snapshot what dataplane/control_link.cc does: parse_snapshot, keep the document
//               durably, ACK) and the operator (POST /v1/snapshot over HTTP/1.1 on the API socket,
//               then GET /v1/nodes until control shows the ACK, as `mxgatectl import --wait` does).
//
// A baseline measured in the same run: the frame's bytes through a Unix socket pair (one writer
// thread, 64 KiB reads, nothing else done with them) — the ceiling for the push's transfer.
//
//   build/bench/bench_control_push [--tenants N] [--domains N] [--users N] [--steps]
//                                  [--control PATH] [--timeout SECONDS] [--no-toml-alone] [--json]
//
// The product goal is < 1 s from commit to every node's ACK at 10,000 tenants / 100,000 domains /
// 1,000,000 users (the defaults). --steps also runs 1% and 10% of the scale first. Progress goes
// to stderr, the table (or JSON) to stdout. The control process is stopped by its PID and the
// directory removed at the end, on error and on SIGINT/SIGTERM too; every wait has a deadline.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/api/http.h"
#include "ipc/frame.h"
#include "ipc/json.h"
#include "ipc/snapshot.h"
#include "ipc/toml.h"
#include "ipc/txlog.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kDefaultTenants = 10000;
constexpr uint64_t kDefaultDomains = 100000;
constexpr uint64_t kDefaultUsers = 1000000;
constexpr double kStepFractions[] = {0.01, 0.1};  // --steps: these before the full scale
// Tenants with a rules_text (4 rules each, spread evenly): enough to exercise the Hyperscan
// compile on the node without making the benchmark a rules benchmark.
constexpr size_t kTenantsWithRules = 5;
constexpr uint64_t kUserThresholdEvery = 10;  // every 10th user has a spam threshold of its own
constexpr uint64_t kUserListEvery = 50;       // every 50th a block list entry
constexpr double kDefaultTimeoutS = 3600;     // each wait of the end-to-end part (a slow parse is a finding, not a hang)
constexpr int kStartTimeoutMs = 10000;        // control's API socket answers
constexpr int kStopGraceMs = 5000;            // SIGTERM, then SIGKILL
constexpr int kAckPollMs = 2;                 // GET /v1/nodes interval (mxgatectl --wait polls every 100 ms)
constexpr size_t kReadChunk = 64 * 1024;      // the data plane's read size (dataplane/control_link.cc)
constexpr size_t kMaxResponseBytes = 1u << 20;
constexpr int kBaselineRuns = 3;              // the socket-pair ceiling: best of these
constexpr const char* kNodeName = "bench-node";
constexpr std::string_view kKeptHeader = "# mxgate-control generation ";  // as the data plane keeps it

std::string json_str(std::string_view s) {
  std::string o;
  mx::ipc::json_string(o, s);
  return o;
}

double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// ---- memory ----

uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A "Vm...:" line of /proc/PID/status, in bytes (0 when absent).
uint64_t status_bytes(const std::string& pid, const char* key) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0) return std::strtoull(line.c_str() + n, nullptr, 10) * 1024;
  return 0;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so the next reading is this phase's peak.
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

// ---- the document ----

struct Scale {
  uint64_t tenants = 0, domains = 0, users = 0;
};

void append_domain(std::string& o, uint64_t d) {
  o += "dom";
  o += std::to_string(d);
  o += ".example";
}

// A small, tenant-specific rule set (docs/rules.md): a header literal, a body regex, an
// attachment name and a meta rule over two of them.
std::string rules_for(uint64_t t) {
  const std::string p = "T" + std::to_string(t) + "_";
  return "# tenant " + std::to_string(t) + "\n" +
         "rule " + p + "WINNER subject icontains \"you are winner " + std::to_string(t) + "\" score 3\n" +
         "rule " + p + "FREE body regex /free\\s+money\\s+" + std::to_string(t) + "/i score 4 action tag\n" +
         "rule " + p + "EXE attachment_name regex /\\.(exe|scr|pif)$/i score 5 action quarantine\n" +
         "meta " + p + "SCAM " + p + "WINNER && " + p + "FREE score 10 action quarantine\n";
}

// Deterministic and valid per docs/tenants.md: tenant t owns domains [t*D/T, (t+1)*D/T); user u
// is user<u> at domain u mod D; settings vary by tenant so that every key path is exercised.
std::string make_document(const Scale& s, size_t& rule_tenants) {
  std::string o;
  o.reserve(s.users * 56 + s.domains * 20 + s.tenants * 200);
  const size_t with_rules = static_cast<size_t>(std::min<uint64_t>(kTenantsWithRules, s.tenants));
  rule_tenants = with_rules;
  size_t next_rules = 0;
  for (uint64_t t = 0; t < s.tenants; ++t) {
    const uint64_t first = t * s.domains / s.tenants, last = (t + 1) * s.domains / s.tenants;
    o += "[[tenant]]\nname = \"tenant";
    o += std::to_string(t);
    o += "\"\ndomains = [";
    for (uint64_t d = first; d < last; ++d) {
      if (d != first) o += ", ";
      o += '"';
      append_domain(o, d);
      o += '"';
    }
    o += "]\nroute = \"198.18." + std::to_string(t / 250 % 256) + "." + std::to_string(t % 250 + 1) + ":25\"\n";
    if (t % 4 == 0) {
      o += "route_tls = \"required-verify\"\nroute_tls_name = \"mx.";
      append_domain(o, first);
      o += "\"\n";
    } else if (t % 4 == 1) {
      o += "route_tls = \"required\"\n";
    }
    if (t % 2 == 0) o += "spool = true\n";
    if (t % 5 == 0) o += "spam_threshold = \"6.5\"\naction_spam = \"quarantine\"\nsubject_tag = \"[SPAM?]\"\n";
    if (t % 7 == 0) {
      o += "allow_senders = [\"partner@";
      append_domain(o, (first + 1) % s.domains);
      o += "\", \"203.0.113.0/24\"]\nblock_senders = [\"spam.example\", \"198.51.100.7\"]\n";
    }
    if (next_rules < with_rules && t == next_rules * s.tenants / with_rules) {
      o += "rules_text = " + mx::ipc::toml_quote(rules_for(t)) + "\n";
      ++next_rules;
    }
    o += '\n';
  }
  for (uint64_t u = 0; u < s.users; ++u) {
    o += "[[user]]\naddress = \"user";
    o += std::to_string(u);
    o += '@';
    append_domain(o, u % s.domains);
    o += "\"\n";
    if (u % kUserThresholdEvery == 0) o += "spam_threshold = \"4.0\"\n";
    if (u % kUserListEvery == 0) {
      o += "block_senders = [\"news@";
      append_domain(o, (u + 1) % s.domains);
      o += "\"]\n";
    }
  }
  return o;
}

// ---- the validate phase ----

struct Validate {
  double toml_ms = -1, parse_ms = 0;  // toml_ms < 0: not measured (--no-toml-alone)
  uint64_t held = 0, peak = 0;  // RSS growth with the snapshot held; the peak while parsing
  size_t tenants = 0, users = 0;
  std::string error;
};

Validate run_validate(const std::string& doc, bool toml_alone) {
  Validate v;
  auto t = Clock::now();
  if (toml_alone) {
    auto toml = mx::cfg::parse_toml(doc, "bench", mx::ipc::kMaxSnapshotDocumentBytes);
    v.toml_ms = ms(t, Clock::now());
    if (!toml) v.error = toml.error().message;
  }
  ::malloc_trim(0);  // what the tree above freed goes back, so the reading below is the snapshot's
  const uint64_t before = rss_bytes();
  reset_peak();
  t = Clock::now();
  auto snap = mx::ipc::parse_snapshot(doc, "bench", 1);
  v.parse_ms = ms(t, Clock::now());
  if (!snap) {
    v.error = snap.error().message;
    return v;
  }
  ::malloc_trim(0);
  const uint64_t after = rss_bytes(), peak = status_bytes("self", "VmHWM:");
  v.held = after > before ? after - before : 0;
  v.peak = peak > before ? peak - before : 0;
  v.tenants = (*snap)->tenants().size();
  v.users = (*snap)->users().size();
  return v;
}

// ---- the baseline ----

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The same bytes through a Unix socket pair, read in the data plane's chunk size and dropped.
double socketpair_ms(size_t size) {
  const std::string bytes(size, 'x');  // what the bytes are does not matter to the socket
  double best = 0;
  for (int run = 0; run < kBaselineRuns; ++run) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    std::vector<char> buf(kReadChunk);
    const auto t = Clock::now();
    std::thread writer([&] { write_all(sv[0], bytes.data(), bytes.size()); });
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(sv[1], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    const double took = ms(t, Clock::now());
    writer.join();
    ::close(sv[0]);
    ::close(sv[1]);
    if (got != bytes.size()) return -1;
    if (run == 0 || took < best) best = took;
  }
  return best;
}

// ---- the control process and its directory ----

// For the signal handler: what to stop and remove when the benchmark is interrupted (only
// async-signal-safe calls there: kill, unlink, rmdir, _exit).
constexpr size_t kMaxDirFiles = 12;
volatile sig_atomic_t g_child = 0;
char g_files[kMaxDirFiles][PATH_MAX];
char g_dir[PATH_MAX];

extern "C" void on_signal(int sig) {
  // Says so (a run killed from outside otherwise ends without a word), then cleans up.
  static const char kMsg[] = "bench_control_push: interrupted by a signal: control killed, directory removed\n";
  (void)!::write(2, kMsg, sizeof kMsg - 1);
  if (g_child > 0) ::kill(static_cast<pid_t>(g_child), SIGKILL);
  for (auto& f : g_files)
    if (f[0]) ::unlink(f);
  if (g_dir[0]) ::rmdir(g_dir);
  ::_exit(128 + sig);
}

// A temporary directory with a real mxgate-control in it; stopped and removed on destruction.
class Control {
 public:
  ~Control() { stop(); }

  bool start(const std::string& bin, std::string& err) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mx_bench_push.XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      err = "mkdtemp: " + std::string(std::strerror(errno));
      return false;
    }
    dir_ = tmpl;
    std::snprintf(g_dir, sizeof g_dir, "%s", dir_.c_str());
    size_t i = 0;
    for (const char* f : {"control.db", "control.db-wal", "control.db-shm", "control.db-journal", "node.sock",
                          "api.sock", "control.log", "snapshot.toml", ".snapshot.toml.tmp"})
      std::snprintf(g_files[i++], PATH_MAX, "%s/%s", dir_.c_str(), f);
    const std::string store = dir_ + "/control.db", log = dir_ + "/control.log";
    std::vector<std::string> args = {bin, "--store", store, "--node-socket", node_socket(), "--api-socket", api_socket()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      err = "fork: " + std::string(std::strerror(errno));
      return false;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the benchmark
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    g_child = pid;
    // Ready when the API socket (opened last) accepts a connection.
    const auto until = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    while (Clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        g_child = 0;
        err = bin + (WIFEXITED(status) ? " exited at start with code " + std::to_string(WEXITSTATUS(status))
                                       : " died at start, signal " + std::to_string(WTERMSIG(status))) +
              ": " + log_tail();
        return false;
      }
      const int fd = connect_unix(api_socket());
      if (fd >= 0) {
        ::close(fd);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    err = bin + ": API socket not answering within " + std::to_string(kStartTimeoutMs) + " ms: " + log_tail();
    return false;
  }

  // SIGTERM by PID, SIGKILL after kStopGraceMs; then the directory goes.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto until = Clock::now() + std::chrono::milliseconds(kStopGraceMs);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) != pid_) {
        if (Clock::now() >= until) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      pid_ = -1;
      g_child = 0;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
      g_dir[0] = 0;
      for (auto& f : g_files) f[0] = 0;
    }
  }

  static int connect_unix(const std::string& path) {
    sockaddr_un a{};
    if (path.size() >= sizeof a.sun_path) return -1;
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  std::string log_tail() const {
    std::ifstream in(dir_ + "/control.log");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }
  std::string pid() const { return std::to_string(pid_); }
  const std::string& dir() const { return dir_; }
  std::string node_socket() const { return dir_ + "/node.sock"; }
  std::string api_socket() const { return dir_ + "/api.sock"; }

 private:
  pid_t pid_ = -1;
  std::string dir_;
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

// ---- HTTP/1.1 over the API socket ----

struct Reply {
  int status = 0;  // 0: no answer (err says why)
  std::string body, err;
  Clock::time_point written{}, answered{};
};

// One request on a fresh connection (Connection: close), every step bounded by `deadline`.
Reply http(const std::string& sock, const std::string& method, const std::string& target, std::string_view body,
           Clock::time_point deadline) {
  Reply r;
  const int fd = Control::connect_unix(sock);
  if (fd < 0) {
    r.err = "cannot connect to " + sock + ": " + std::strerror(errno);
    return r;
  }
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (method == "POST")
    head += "Content-Type: application/toml\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  head += "\r\n";
  for (std::string_view part : {std::string_view(head), body}) {
    while (!part.empty()) {
      const ssize_t n = ::write(fd, part.data(), part.size());
      if (n > 0) {
        part.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) > 0) continue;
        r.err = "timed out writing the request";
      } else {
        r.err = std::string("writing the request: ") + std::strerror(errno);
      }
      ::close(fd);
      return r;
    }
  }
  r.written = Clock::now();
  std::string resp;
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      r.err = "timed out waiting for the answer to " + method + " " + target;
      ::close(fd);
      return r;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > kMaxResponseBytes) break;
  }
  r.answered = Clock::now();
  ::close(fd);
  const size_t eoh = resp.find("\r\n\r\n");
  if (resp.compare(0, 9, "HTTP/1.1 ") != 0 || eoh == std::string::npos || resp.size() < 12) {
    r.err = "not an HTTP answer";
    return r;
  }
  r.status = std::atoi(resp.substr(9, 3).c_str());
  r.body = resp.substr(eoh + 4);
  return r;
}

// ---- the node ----

struct Node {
  Clock::time_point first_byte{}, received{}, parsed{}, kept{}, acked{};
  size_t frame_bytes = 0;
  uint64_t generation = 0;
  std::string error;  // empty: ACKed
};

// What dataplane/control_link.cc does with a snapshot frame, on a blocking socket read after
// poll() (so every wait is bounded): parse_snapshot, keep the document durably (header line, the
// document; write, fsync, rename), then ACK (or NACK with the reason).
void run_node(int fd, const std::string& state_dir, Clock::time_point deadline, Node& out) {
  mx::ipc::FrameReader reader(mx::ipc::kNodeAccepts);
  std::vector<char> buf(kReadChunk);
  bool any = false;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      out.error = "no snapshot frame in time (" + std::to_string(reader.buffered()) + " bytes of it received)";
      return;
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.error = n == 0 ? "control closed the node connection" : std::string("read: ") + std::strerror(errno);
      return;
    }
    if (!any) out.first_byte = Clock::now();
    any = true;
    size_t used = 0;
    while (used < static_cast<size_t>(n)) {
      used += reader.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(buf.data()) + used, static_cast<size_t>(n) - used));
      if (reader.failed()) {
        out.error = "protocol error: " + reader.error();
        return;
      }
      mx::ipc::FrameHeader h;
      std::string_view payload;
      while (reader.next(h, payload)) {
        if (h.type != mx::ipc::FrameType::kSnapshot) continue;  // pings, log ACKs: not part of this
        out.received = Clock::now();
        std::fprintf(stderr, "  node: snapshot frame received, parsing\n");
        out.frame_bytes = mx::ipc::kFrameHeaderBytes + payload.size();
        out.generation = h.seq;
        const std::string path = state_dir + "/snapshot.toml";
        auto snap = mx::ipc::parse_snapshot(payload, path, h.seq);
        out.parsed = Clock::now();
        std::string frame;
        if (snap) {
          std::string kept = std::string(kKeptHeader) + std::to_string(h.seq) + "\n";
          kept.append(payload);
          const std::string tmp = state_dir + "/.snapshot.toml.tmp";
          const int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
          const bool ok = f >= 0 && write_all(f, kept.data(), kept.size()) && ::fsync(f) == 0;
          if (f >= 0) ::close(f);
          if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) out.error = "cannot keep the snapshot: " + std::string(std::strerror(errno));
        } else {
          out.error = "refused: " + snap.error().message;
        }
        out.kept = Clock::now();
        frame = out.error.empty() ? mx::ipc::encode_frame(mx::ipc::FrameType::kAck, h.seq, "")
                                  : mx::ipc::encode_frame(mx::ipc::FrameType::kNack, h.seq,
                                                          out.error.substr(0, mx::ipc::kMaxReasonBytes));
        if (!write_all(fd, frame.data(), frame.size()) && out.error.empty()) out.error = "cannot send the ACK";
        out.acked = Clock::now();
        return;  // the snapshot is released here; its memory is measured in the validate phase
      }
    }
  }
}

// ---- one end-to-end run ----

struct EndToEnd {
  Clock::time_point post{}, written{}, answered{}, recorded{};
  Node node;
  uint64_t generation = 0;
  uint64_t control_hwm = 0, control_rss = 0;
  std::string error;
};

// The node's entry in GET /v1/nodes: its generation and the last one it refused.
bool node_state(const Control& c, Clock::time_point deadline, int64_t& gen, int64_t& nacked, std::string& err) {
  const Reply r = http(c.api_socket(), "GET", "/v1/nodes", {}, deadline);
  if (r.status != 200) {
    err = r.status ? "GET /v1/nodes: HTTP " + std::to_string(r.status) : r.err;
    return false;
  }
  auto v = mx::ipc::parse_json(r.body);
  if (!v) {
    err = "GET /v1/nodes: " + v.error().message;
    return false;
  }
  gen = nacked = -1;
  for (const auto& n : v->items)
    if (n.get_str("name") == kNodeName && n.get_str("state") == "connected") {
      gen = n.get_int("generation");
      nacked = n.get_int("nacked");
    }
  return true;
}

EndToEnd run_end_to_end(const std::string& bin, const std::string& doc, double timeout_s) {
  EndToEnd e;
  const auto wait = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  Control c;
  if (!c.start(bin, e.error)) return e;
  // The node: connect, hello (generation 0: it serves its own file), and be known to control.
  const int fd = Control::connect_unix(c.node_socket());
  if (fd < 0) {
    e.error = "cannot connect to the node socket: " + std::string(std::strerror(errno));
    return e;
  }
  const std::string hello = mx::ipc::encode_frame(mx::ipc::FrameType::kHello, 0, kNodeName);
  if (!write_all(fd, hello.data(), hello.size())) {
    e.error = "cannot send hello";
    ::close(fd);
    return e;
  }
  {
    const auto until = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    int64_t gen = -1, nacked = -1;
    while (gen < 0) {
      if (!node_state(c, until, gen, nacked, e.error) || (gen < 0 && Clock::now() >= until)) {
        if (e.error.empty()) e.error = "control did not register the node's hello";
        ::close(fd);
        return e;
      }
      if (gen < 0) std::this_thread::sleep_for(std::chrono::milliseconds(kAckPollMs));
    }
  }
  std::thread node([&] { run_node(fd, c.dir(), Clock::now() + wait, e.node); });
  // The operator: commit, then wait for control to show the node's answer.
  e.post = Clock::now();
  const Reply r = http(c.api_socket(), "POST", "/v1/snapshot?actor=bench&comment=bench_control_push", doc, e.post + wait);
  e.written = r.written;
  e.answered = r.answered;
  if (r.status != 201) {
    e.error = r.status ? "POST /v1/snapshot: HTTP " + std::to_string(r.status) + ": " + r.body : r.err;
  } else if (auto v = mx::ipc::parse_json(r.body); !v || v->get_int("generation") <= 0) {
    e.error = "POST /v1/snapshot: unreadable answer: " + r.body;
  } else {
    e.generation = static_cast<uint64_t>(v->get_int("generation"));
    std::fprintf(stderr, "  201 for generation %llu after %.0f ms\n", static_cast<unsigned long long>(e.generation),
                 ms(e.post, e.answered));
    const auto until = Clock::now() + wait;
    while (true) {
      int64_t gen = -1, nacked = -1;
      if (!node_state(c, until, gen, nacked, e.error)) break;
      if (gen >= static_cast<int64_t>(e.generation)) {
        e.recorded = Clock::now();
        break;
      }
      if (nacked == static_cast<int64_t>(e.generation)) {
        e.error = "the node refused the generation";
        break;
      }
      if (Clock::now() >= until) {
        e.error = "control did not record the ACK within the timeout";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kAckPollMs));
    }
  }
  // Unblocks the node if it is still waiting (an error above), then collects it.
  if (!e.error.empty()) ::shutdown(fd, SHUT_RDWR);
  node.join();
  ::close(fd);
  if (e.error.empty() && !e.node.error.empty()) e.error = "node: " + e.node.error;
  e.control_hwm = status_bytes(c.pid(), "VmHWM:");
  e.control_rss = status_bytes(c.pid(), "VmRSS:");
  if (!e.error.empty()) e.error += "\n--- control's log (tail) ---\n" + c.log_tail();
  return e;
}

// ---- reporting ----

struct Step {
  Scale scale;
  size_t doc_bytes = 0, rule_tenants = 0;
  double gen_ms = 0;
  Validate v;
  double baseline_ms = -1;
  EndToEnd e;
  bool e2e_skipped = false;
  std::string skip_reason;
};

// The end-to-end intervals (ms). Transfer is first to last byte of the frame at the node.
struct Intervals {
  double upload, commit, transfer, parse, keep, ack, record, total, after_commit;
  double at_answered, at_first, at_received, at_parsed, at_kept, at_acked, at_recorded;
};

Intervals intervals(const EndToEnd& e) {
  const auto& n = e.node;
  return Intervals{ms(e.post, e.written),        ms(e.written, e.answered), ms(n.first_byte, n.received),
                   ms(n.received, n.parsed),     ms(n.parsed, n.kept),      ms(n.kept, n.acked),
                   ms(n.acked, e.recorded),      ms(e.post, e.recorded),    ms(e.answered, e.recorded),
                   ms(e.post, e.answered),       ms(e.post, n.first_byte),  ms(e.post, n.received),
                   ms(e.post, n.parsed),         ms(e.post, n.kept),        ms(e.post, n.acked),
                   ms(e.post, e.recorded)};
}

void print_table(const Step& s) {
  std::printf("== %llu tenants / %llu domains / %llu users: document %.1f MiB, %zu tenants with rules ==\n",
              static_cast<unsigned long long>(s.scale.tenants), static_cast<unsigned long long>(s.scale.domains),
              static_cast<unsigned long long>(s.scale.users), mib(s.doc_bytes), s.rule_tenants);
  std::printf("%-58s %12s %12s\n", "phase", "ms", "at ms");
  if (!s.v.error.empty()) {
    std::printf("validate: FAILED: %s\n\n", s.v.error.c_str());
    return;
  }
  if (s.v.toml_ms >= 0) std::printf("%-58s %12.1f\n", "validate: cfg::parse_toml alone (the TOML tree)", s.v.toml_ms);
  else std::printf("%-58s %12s\n", "validate: cfg::parse_toml alone (the TOML tree)", "skipped");
  std::printf("%-58s %12.1f\n", "validate: ipc::parse_snapshot (TOML + schema + rules)", s.v.parse_ms);
  std::printf("%-58s %12.1f MiB\n", "node memory: RSS growth holding the snapshot", mib(s.v.held));
  std::printf("%-58s %12.1f MiB\n", "node memory: peak RSS growth while parsing", mib(s.v.peak));
  std::printf("%-58s %12.1f\n", "baseline: the frame's bytes through a socket pair", s.baseline_ms);
  if (s.e2e_skipped) {
    std::printf("end to end: skipped: %s\n\n", s.skip_reason.c_str());
    return;
  }
  if (!s.e.error.empty()) {
    std::printf("end to end: FAILED: %s\n\n", s.e.error.c_str());
    return;
  }
  const Intervals i = intervals(s.e);
  std::printf("%-58s %12.1f MiB\n", "frame pushed by control (its document, compiled)", mib(s.e.node.frame_bytes));
  std::printf("%-58s %12.1f %12.1f\n", "upload: POST body written to the API socket", i.upload, i.upload);
  std::printf("%-58s %12.1f %12.1f\n", "commit: body written -> 201 (control validates, stores)", i.commit, i.at_answered);
  std::printf("%-58s %12s %12.1f\n", "node: first byte of the snapshot frame", "", i.at_first);
  std::printf("%-58s %12.1f %12.1f\n", "transfer: first -> last byte of the frame at the node", i.transfer, i.at_received);
  std::printf("%-58s %12.1f %12.1f\n", "node: parse_snapshot (validate, compile; then the swap)", i.parse, i.at_parsed);
  std::printf("%-58s %12.1f %12.1f\n", "node: keep the document durably (write, fsync, rename)", i.keep, i.at_kept);
  std::printf("%-58s %12.1f %12.1f\n", "node: ACK sent", i.ack, i.at_acked);
  std::printf("%-58s %12.1f %12.1f\n", "control: ACK recorded (GET /v1/nodes shows it)", i.record, i.at_recorded);
  std::printf("%-58s %12.1f\n", "TOTAL: POST -> ACK recorded", i.total);
  std::printf("%-58s %12.1f\n", "  of which after the commit's 201", i.after_commit);
  std::printf("%-58s %12.1f %12s\n", "transfer vs baseline (x)", s.baseline_ms > 0 ? i.transfer / s.baseline_ms : 0.0, "");
  std::printf("%-58s %12.1f MiB\n", "control: peak RSS (VmHWM)", mib(s.e.control_hwm));
  std::printf("\n");
}

void print_json(const std::vector<Step>& steps) {
  std::printf("{\"steps\":[");
  for (size_t k = 0; k < steps.size(); ++k) {
    const Step& s = steps[k];
    std::printf("%s{\"tenants\":%llu,\"domains\":%llu,\"users\":%llu,\"document_bytes\":%zu,\"rule_tenants\":%zu,",
                k ? "," : "", static_cast<unsigned long long>(s.scale.tenants),
                static_cast<unsigned long long>(s.scale.domains), static_cast<unsigned long long>(s.scale.users),
                s.doc_bytes, s.rule_tenants);
    const std::string toml = s.v.toml_ms < 0 ? std::string("null") : std::to_string(s.v.toml_ms);
    std::printf("\"validate\":{\"error\":%s,\"parse_toml_ms\":%s,\"parse_snapshot_ms\":%.3f,"
                "\"held_rss_bytes\":%llu,\"peak_rss_bytes\":%llu},\"baseline_socketpair_ms\":%.3f,",
                s.v.error.empty() ? "null" : json_str(s.v.error).c_str(), toml.c_str(), s.v.parse_ms,
                static_cast<unsigned long long>(s.v.held), static_cast<unsigned long long>(s.v.peak), s.baseline_ms);
    if (s.e2e_skipped || !s.e.error.empty()) {
      std::printf("\"end_to_end\":{\"error\":%s}}",
                  json_str(s.e2e_skipped ? "skipped: " + s.skip_reason : s.e.error).c_str());
      continue;
    }
    const Intervals i = intervals(s.e);
    std::printf("\"end_to_end\":{\"error\":null,\"generation\":%llu,\"frame_bytes\":%zu,\"upload_ms\":%.3f,"
                "\"commit_ms\":%.3f,\"transfer_ms\":%.3f,\"node_parse_ms\":%.3f,\"node_keep_ms\":%.3f,"
                "\"ack_send_ms\":%.3f,\"ack_record_ms\":%.3f,\"total_ms\":%.3f,\"after_commit_ms\":%.3f,"
                "\"at_ms\":{\"answered\":%.3f,\"first_byte\":%.3f,\"received\":%.3f,\"parsed\":%.3f,\"kept\":%.3f,"
                "\"acked\":%.3f,\"recorded\":%.3f},\"control_peak_rss_bytes\":%llu}}",
                static_cast<unsigned long long>(s.e.generation), s.e.node.frame_bytes, i.upload, i.commit,
                i.transfer, i.parse, i.keep, i.ack, i.record, i.total, i.after_commit, i.at_answered, i.at_first,
                i.at_received, i.at_parsed, i.at_kept, i.at_acked, i.at_recorded,
                static_cast<unsigned long long>(s.e.control_hwm));
  }
  std::printf("]}\n");
}

constexpr const char* kUsage =
    "usage: bench_control_push [--tenants N] [--domains N] [--users N] [--steps] [--control PATH]\n"
    "                          [--timeout SECONDS] [--no-toml-alone] [--json]\n"
    "\n"
    "Pushes a generated tenant snapshot through a real mxgate-control to a node (this program)\n"
    "and times validate, commit, transfer, the node's parse, the ACK; see docs/control.md.\n"
    "\n"
    "  --tenants N      tenants (1..10000)                                [10000]\n"
    "  --domains N      domains, spread evenly over the tenants           [100000]\n"
    "  --users N        users, spread over the domains (0..1000000)       [1000000]\n"
    "  --steps          also run at 1% and 10% of the scale, first\n"
    "  --control PATH   the mxgate-control binary   [../control/mxgate-control next to this one]\n"
    "  --timeout S      bound of each wait of the end-to-end part          [3600]\n"
    "  --no-toml-alone  do not time cfg::parse_toml on its own (one parse less per step)\n"
    "  --json           the figures as JSON instead of tables\n";

// The build tree's mxgate-control: build/bench/this -> build/control/mxgate-control.
std::string default_control() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "control/mxgate-control";
  return (self.parent_path().parent_path() / "control" / "mxgate-control").string();
}

bool parse_count(const char* s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s, &end, 10);
  return errno == 0 && end && *end == '\0' && *s != '-';
}

}  // namespace

int main(int argc, char** argv) {
  Scale full{kDefaultTenants, kDefaultDomains, kDefaultUsers};
  bool steps = false, json = false, toml_alone = true;
  double timeout_s = kDefaultTimeoutS;
  std::string control = default_control();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--steps") {
      steps = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--no-toml-alone") {
      toml_alone = false;
    } else if (a == "--tenants" && has && parse_count(argv[i + 1], full.tenants)) {
      ++i;
    } else if (a == "--domains" && has && parse_count(argv[i + 1], full.domains)) {
      ++i;
    } else if (a == "--users" && has && parse_count(argv[i + 1], full.users)) {
      ++i;
    } else if (a == "--control" && has) {
      control = argv[++i];
    } else if (a == "--timeout" && has) {
      timeout_s = std::strtod(argv[++i], nullptr);
      if (!(timeout_s > 0 && timeout_s <= 86400)) {
        std::fprintf(stderr, "bench_control_push: --timeout takes seconds (0 < s <= 86400)\n%s", kUsage);
        return 2;
      }
    } else {
      std::fprintf(stderr, "bench_control_push: bad argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (full.tenants < 1 || full.tenants > mx::ipc::kMaxTenants || full.users > mx::ipc::kMaxUsers ||
      full.domains < full.tenants || (full.domains + full.tenants - 1) / full.tenants > mx::ipc::kMaxTenantDomains) {
    std::fprintf(stderr,
                 "bench_control_push: need 1 <= tenants <= %zu, tenants <= domains <= %zu per tenant, users <= %zu\n",
                 mx::ipc::kMaxTenants, mx::ipc::kMaxTenantDomains, mx::ipc::kMaxUsers);
    return 2;
  }
  if (::access(control.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "bench_control_push: %s: not an executable (build it, or pass --control)\n", control.c_str());
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<Scale> scales;
  if (steps)
    for (double f : kStepFractions)
      scales.push_back(Scale{std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(full.tenants) * f)),
                             std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(full.domains) * f)),
                             static_cast<uint64_t>(static_cast<double>(full.users) * f)});
  scales.push_back(full);

  std::vector<Step> results;
  bool failed = false;
  for (const Scale& sc : scales) {
    Step s;
    s.scale = sc;
    s.scale.domains = std::max(s.scale.domains, s.scale.tenants);
    std::fprintf(stderr, "step %llu/%llu/%llu: generating\n", static_cast<unsigned long long>(s.scale.tenants),
                 static_cast<unsigned long long>(s.scale.domains), static_cast<unsigned long long>(s.scale.users));
    auto t = Clock::now();
    const std::string doc = make_document(s.scale, s.rule_tenants);
    s.gen_ms = ms(t, Clock::now());
    s.doc_bytes = doc.size();
    std::fprintf(stderr, "  document %.1f MiB in %.0f ms; validate\n", mib(doc.size()), s.gen_ms);
    s.v = run_validate(doc, toml_alone);
    std::fprintf(stderr, "  parse_toml %s, parse_snapshot %.0f ms; held %.1f MiB, peak %.1f MiB\n",
                 s.v.toml_ms < 0 ? "skipped" : (std::to_string(static_cast<int64_t>(s.v.toml_ms)) + " ms").c_str(),
                 s.v.parse_ms, mib(s.v.held), mib(s.v.peak));
    ::malloc_trim(0);
    if (!s.v.error.empty()) {
      s.e2e_skipped = true;
      s.skip_reason = "the document does not validate";
    } else if (doc.size() > mx::control::kMaxBodyBytes) {
      // Control would answer 413 before reading the body; the API's bound is a finding in itself.
      s.e2e_skipped = true;
      s.skip_reason = "the document (" + std::to_string(doc.size()) + " bytes) is larger than the API's body bound (" +
                      std::to_string(mx::control::kMaxBodyBytes) + ", control/api/http.h)";
    } else {
      std::fprintf(stderr, "  end to end\n");
      s.e = run_end_to_end(control, doc, timeout_s);
    }
    // The baseline moves as many bytes as the frame control pushed (control compiles its own
    // document from what was posted, so the size may differ from the posted one).
    s.baseline_ms = socketpair_ms(s.e.node.frame_bytes ? s.e.node.frame_bytes : mx::ipc::kFrameHeaderBytes + doc.size());
    failed = failed || !s.v.error.empty() || !s.e.error.empty();
    if (!json) {
      print_table(s);
      std::fflush(stdout);
    }
    results.push_back(std::move(s));
  }
  if (json) print_json(results);
  return failed ? 1 : 0;
}
