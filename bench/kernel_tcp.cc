// bench/kernel_tcp.cc — the Linux kernel's TCP over loopback, as the per-core baseline for our
// user-space stack. Our stack's benchmark runs the client and the server stack in one thread on
// one core, joined by an in-memory link; so this harness also runs both ends in one thread: one
// epoll loop, pinned to one CPU, holding the listening sockets, the accepted (server) sockets
// and the client sockets, all on 127.0.0.1.
//
// What it measures (one JSON line on stdout, one human line on stderr):
//   --mode short  connections/s. Each: non-blocking connect, client sends --req bytes, server
//                 reads them all and sends --resp bytes, client reads them all and closes (normal
//                 close, FIN; never SO_LINGER{1,0}/RST), server closes on EOF. --conns are kept in
//                 flight until --total completed (client has the whole response); the clock runs
//                 from the first connect until the last server socket is closed.
//   --mode bulk   payload Gbit/s over one connection: client writes --bytes in --chunk writes,
//                 server reads with --chunk reads and counts, from the first write (connection
//                 already set up) until the server has counted every byte.
//   Both report the process's CPU time over the same window (getrusage, user and sys) and
//   "per_cpu_second" = completed / (user + sys), completed being connections or bytes.
//   --max-seconds bounds the whole run (setup included); a run that hits it stops and reports
//   what it completed, with "stopped_by":"max_seconds".
//
// Run:  build/bench/bench_kernel_tcp --mode short --total 20000   (--help lists the flags)
//       build/bench/bench_kernel_tcp --mode bulk --bytes 1GiB --cpu 1
//
// Ephemeral ports: the client closes first, so each completed connection leaves a client-side
// TIME-WAIT socket holding its local port for 60 s; no sysctl is touched. Clients bind to
// 127.0.0.1 port 0 with IP_BIND_ADDRESS_NO_PORT, so connect() picks the port and needs only a
// unique 4-tuple: each listener port adds a fresh ip_local_port_range. --listeners ports on
// 127.0.0.1 (default: enough that --total fits in 3/4 of the range per port, at most 256) take
// the connections round-robin. Only 127.0.0.1 is used, as source and as destination.
// The TIME-WAIT count at start ("time_wait_at_start") changes connect() and close() costs: for
// comparable short runs, wait 60 s between them.
//
// Caveats: loopback has a 65536-byte MTU and GSO, so bulk segments are far larger than on a
// 1500-byte link. Loopback receive work normally runs as softirq in this process's context and
// is counted in cpu_sys_s; softirq work deferred to ksoftirqd is not counted.
//
// SECURITY: no untrusted input (command line only); unprivileged; binds and connects to
// 127.0.0.1 only. Raises RLIMIT_NOFILE (soft, and hard only if permitted) to what it needs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "common/strong_id.h"

namespace {

constexpr const char* kProg = "bench_kernel_tcp";
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = kKiB * 1024;
constexpr uint64_t kGiB = kMiB * 1024;
constexpr size_t kRxBuf = 64 * kKiB;          // short mode's read buffer
constexpr uint64_t kMaxListeners = 256;
constexpr int kMaxWaitMs = 100;               // epoll_wait slice, so the deadline is checked
constexpr size_t kEventBurst = 256;

// ---- errors: a clear message and exit 1, never a hang -------------------------------------

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  std::fprintf(stderr, "%s: ", kProg);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::exit(1);
}

[[noreturn]] void die_errno(const char* what) { fail("%s: %s", what, std::strerror(errno)); }

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// ---- options ------------------------------------------------------------------------------

enum class Mode { kShort, kBulk };

struct Options {
  Mode mode = Mode::kShort;
  uint64_t conns = 64;
  uint64_t total = 200'000;
  uint64_t req = 64;
  uint64_t resp = 64;
  uint64_t listeners = 0;  // 0: derived from --total and ip_local_port_range
  uint64_t bytes = 4 * kGiB;
  uint64_t chunk = 64 * kKiB;
  uint64_t cpu = 0;
  double max_seconds = 30;
};

const char* mode_name(Mode m) { return m == Mode::kShort ? "short" : "bulk"; }

// One row per numeric flag: the mode it belongs to ("" for any), its limits, its field.
struct FlagSpec {
  std::string_view name;
  std::string_view mode;
  bool size_suffix;  // accepts K/KiB/M/MiB/G/GiB
  uint64_t min, max;
  uint64_t Options::*field;
};

constexpr std::array<FlagSpec, 8> kFlags{{
    {"--conns", "short", false, 1, 100'000, &Options::conns},
    {"--total", "short", false, 1, 1'000'000'000, &Options::total},
    {"--req", "short", true, 1, 16 * kMiB, &Options::req},
    {"--resp", "short", true, 1, 16 * kMiB, &Options::resp},
    {"--listeners", "short", false, 1, kMaxListeners, &Options::listeners},
    {"--bytes", "bulk", true, 1, 1024 * kGiB, &Options::bytes},
    {"--chunk", "bulk", true, 1, 64 * kMiB, &Options::chunk},
    {"--cpu", "", false, 0, CPU_SETSIZE - 1, &Options::cpu},
}};

const FlagSpec* find_spec(std::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void usage(FILE* out) {
  std::fprintf(out,
      "usage: %s [--mode short|bulk] [flags]\n"
      "  Linux kernel TCP over 127.0.0.1; client and server in one epoll thread on one CPU.\n"
      "  any mode: --cpu N (0)  --max-seconds S (30, hard limit for the whole run)\n"
      "  short:    --conns C (64 in flight)  --total N (200000)  --req B (64)  --resp B (64)\n"
      "            --listeners K (auto, 1..256 listener ports)\n"
      "  bulk:     --bytes N (4GiB)  --chunk B (64KiB)\n"
      "  B and N accept a K/KiB, M/MiB or G/GiB suffix (powers of 1024).\n"
      "  Output: one JSON line on stdout, a summary on stderr.\n",
      kProg);
}

// Digits only, then an optional binary suffix; no sign, no spaces, no overflow.
bool parse_u64(std::string_view s, bool size_suffix, uint64_t& out) {
  size_t i = 0;
  uint64_t v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (i == 0) return false;
  const std::string_view suffix = s.substr(i);
  uint64_t mult = 1;
  if (suffix.empty()) mult = 1;
  else if (!size_suffix) return false;
  else if (suffix == "K" || suffix == "KiB") mult = kKiB;
  else if (suffix == "M" || suffix == "MiB") mult = kMiB;
  else if (suffix == "G" || suffix == "GiB") mult = kGiB;
  else return false;
  if (v > UINT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

bool parse_seconds(const char* s, double& out) {
  if (*s < '0' || *s > '9') return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v <= 0 || v > 86400) return false;
  out = v;
  return true;
}

// Applies one flag; returns an error message, empty on success.
std::string apply_flag(std::string_view name, const char* value, Options& o) {
  if (name == "--mode") {
    if (std::string_view(value) == "short") o.mode = Mode::kShort;
    else if (std::string_view(value) == "bulk") o.mode = Mode::kBulk;
    else return "--mode must be short or bulk";
    return {};
  }
  if (name == "--max-seconds") {
    if (!parse_seconds(value, o.max_seconds)) return "--max-seconds needs a number in (0, 86400]";
    return {};
  }
  const FlagSpec* f = find_spec(name);
  if (f == nullptr) return "unknown flag " + std::string(name);
  uint64_t v = 0;
  if (!parse_u64(value, f->size_suffix, v) || v < f->min || v > f->max) {
    return std::string(name) + " needs an integer in [" + std::to_string(f->min) + ", " +
           std::to_string(f->max) + "]" + (f->size_suffix ? " (K/M/G suffix allowed)" : "");
  }
  o.*f->field = v;
  return {};
}

// Returns an error message, empty on success. Flags are `--name value`, each at most once.
std::string parse_args(int argc, char** argv, Options& o) {
  std::vector<std::string_view> seen;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view name = argv[i];
    if (i + 1 >= argc) return "missing value for " + std::string(name);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return std::string(name) + " given twice";
    }
    seen.push_back(name);
    std::string err = apply_flag(name, argv[i + 1], o);
    if (!err.empty()) return err;
  }
  for (std::string_view name : seen) {
    const FlagSpec* f = find_spec(name);
    if (f != nullptr && !f->mode.empty() && f->mode != mode_name(o.mode)) {
      return std::string(name) + " needs --mode " + std::string(f->mode);
    }
  }
  return {};
}

// ---- process setup -------------------------------------------------------------------------

void pin_to_cpu(mx::LcoreId cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu.value, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    fail("cannot pin to --cpu %u: %s", cpu.value, std::strerror(errno));
  }
}

// Raises RLIMIT_NOFILE to at least `needed`; returns the soft limit now in force.
size_t raise_nofile(uint64_t needed) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die_errno("getrlimit(RLIMIT_NOFILE)");
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed) {
    rlimit want = rl;
    want.rlim_cur = needed;
    if (want.rlim_max != RLIM_INFINITY && want.rlim_max < needed) want.rlim_max = needed;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
      fail("needs %llu file descriptors; RLIMIT_NOFILE is %llu (hard %llu), cannot raise it: %s",
           ull(needed), ull(rl.rlim_cur), ull(rl.rlim_max), std::strerror(errno));
    }
    rl = want;
  }
  return static_cast<size_t>(rl.rlim_cur == RLIM_INFINITY ? needed : rl.rlim_cur);
}

uint64_t ephemeral_port_count() {
  unsigned lo = 32768;
  unsigned hi = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%u %u", &lo, &hi) != 2) hi = lo;
    std::fclose(f);
  }
  return hi >= lo ? hi - lo + 1 : 1;
}

// ---- time ----------------------------------------------------------------------------------

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * mx::kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// The epoll_wait timeout until `deadline_ns`, at most kMaxWaitMs; -1 once it has passed.
int wait_ms(uint64_t deadline_ns) {
  const uint64_t now = now_ns();
  if (now >= deadline_ns) return -1;
  const uint64_t ms = (deadline_ns - now + mx::kNsPerMs - 1) / mx::kNsPerMs;
  return static_cast<int>(std::min<uint64_t>(ms, kMaxWaitMs));
}

struct CpuTime { double user = 0, sys = 0; };

CpuTime cpu_now() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) die_errno("getrusage");
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {sec(ru.ru_utime), sec(ru.ru_stime)};
}

// What a run completed over its measurement window.
struct Result {
  uint64_t completed = 0;  // connections (short) or payload bytes (bulk)
  double seconds = 0;
  CpuTime cpu;
  bool hit_deadline = false;
};

class Window {
 public:
  Window() : t0_(now_ns()), c0_(cpu_now()) {}
  void close(Result& r) const {
    const CpuTime c1 = cpu_now();
    r.seconds = static_cast<double>(now_ns() - t0_) / 1e9;
    r.cpu = {c1.user - c0_.user, c1.sys - c0_.sys};
  }

 private:
  uint64_t t0_;
  CpuTime c0_;
};

// ---- sockets (127.0.0.1 only) --------------------------------------------------------------

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void set_int_opt(int fd, int level, int opt, const char* what) {
  const int one = 1;
  if (setsockopt(fd, level, opt, &one, sizeof one) != 0) die_errno(what);
}

struct Listener { int fd; uint16_t port; };

// A non-blocking listener on 127.0.0.1 with a port the kernel picks.
Listener open_listener() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket (listener)");
  set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, "setsockopt(SO_REUSEADDR)");
  sockaddr_in a = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die_errno("bind listener");
  if (listen(fd, SOMAXCONN) != 0) die_errno("listen");
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) die_errno("getsockname");
  return {fd, ntohs(a.sin_port)};
}

// Starts a non-blocking connect from 127.0.0.1 to 127.0.0.1:port; `connected` tells whether it
// completed at once. The local port is chosen by connect() (IP_BIND_ADDRESS_NO_PORT).
int open_client(uint16_t port, bool& connected) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket (client)");
  set_int_opt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, "setsockopt(IP_BIND_ADDRESS_NO_PORT)");
  sockaddr_in src = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) die_errno("bind client");
  const sockaddr_in dst = loopback(port);
  connected = connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) == 0;
  if (connected || errno == EINPROGRESS) return fd;
  if (errno == EADDRNOTAVAIL) {
    fail("connect to 127.0.0.1:%u: no free local port (ephemeral ports held in TIME-WAIT; "
         "try more --listeners, a smaller --total, or wait 60 s)", port);
  }
  fail("connect to 127.0.0.1:%u: %s", port, std::strerror(errno));
}

// The pending error of a socket (a failed non-blocking connect), 0 if none.
int so_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) die_errno("getsockopt(SO_ERROR)");
  return err;
}

// Returns bytes read, 0 at EOF, -1 if it would block. Any error is fatal.
ssize_t read_some(int fd, uint8_t* buf, size_t len, const char* who) {
  for (;;) {
    const ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    if (errno != EINTR) die_errno(who);
  }
}

// Returns bytes written, -1 if it would block. Any error is fatal.
ssize_t write_some(int fd, const uint8_t* buf, size_t len, const char* who) {
  for (;;) {
    const ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    if (errno != EINTR) die_errno(who);
  }
}

class Poller {
 public:
  Poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0) die_errno("epoll_create1");
  }
  ~Poller() { ::close(fd_); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void add(int fd, uint32_t events, uint64_t key) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = key;
    if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl(ADD)");
  }
  int wait(epoll_event* evs, size_t max, int timeout_ms) {
    const int n = epoll_wait(fd_, evs, static_cast<int>(max), timeout_ms);
    if (n < 0 && errno != EINTR) die_errno("epoll_wait");
    return std::max(n, 0);
  }

 private:
  int fd_;
};

constexpr uint32_t kConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// ---- short mode: connect, request, response, close ------------------------------------------

enum class Step : uint8_t {
  kFree, kListen,
  kConnecting, kSendReq, kRecvResp,  // client
  kRecvReq, kSendResp, kAwaitEof,    // server
};

struct Conn {
  Step step = Step::kFree;
  uint32_t gen = 0;   // bumped when the fd is reused, so stale events in a batch are dropped
  uint64_t done = 0;  // bytes moved in the current step
  uint16_t port = 0;  // listener port, for messages
};

bool is_client(Step s) { return s >= Step::kConnecting && s <= Step::kRecvResp; }

// Whether an edge-triggered event can unblock the step the connection waits in.
bool can_progress(Step s, uint32_t events) {
  const uint32_t always = EPOLLERR | EPOLLHUP;
  if (s == Step::kConnecting || s == Step::kSendReq || s == Step::kSendResp) {
    return (events & (EPOLLOUT | always)) != 0;
  }
  return (events & (EPOLLIN | EPOLLRDHUP | always)) != 0;
}

class ShortBench {
 public:
  ShortBench(const Options& o, const std::vector<Listener>& ls, size_t max_fds)
      : o_(o), conns_(max_fds), req_(o.req, 'q'), resp_(o.resp, 'r'), rx_(kRxBuf) {
    for (const Listener& l : ls) {
      track(l.fd, Step::kListen, l.port, EPOLLIN);  // level-triggered: accept_all drains it
      ports_.push_back(l.port);
    }
  }
  Result run(uint64_t deadline_ns);

 private:
  Conn& track(int fd, Step step, uint16_t port, uint32_t events);
  void launch();
  void dispatch(const epoll_event& ev);
  void accept_all(int lfd);
  void client_progress(int fd, Conn& c, uint32_t events);
  void client_done(int fd);
  void server_progress(int fd, Conn& c);
  void release(int fd) {
    conns_[static_cast<size_t>(fd)].step = Step::kFree;
    ::close(fd);
  }

  const Options& o_;
  Poller poller_;
  std::vector<Conn> conns_;  // indexed by fd
  std::vector<uint16_t> ports_;
  std::vector<uint8_t> req_, resp_, rx_;
  uint64_t launched_ = 0, completed_ = 0, live_clients_ = 0, live_servers_ = 0;
};

Conn& ShortBench::track(int fd, Step step, uint16_t port, uint32_t events) {
  if (static_cast<size_t>(fd) >= conns_.size()) fail("fd %d beyond RLIMIT_NOFILE", fd);
  Conn& c = conns_[static_cast<size_t>(fd)];
  c.step = step;
  c.done = 0;
  c.port = port;
  ++c.gen;
  poller_.add(fd, events, (static_cast<uint64_t>(c.gen) << 32) | static_cast<uint32_t>(fd));
  return c;
}

void ShortBench::launch() {
  const uint16_t port = ports_[launched_ % ports_.size()];
  bool connected = false;
  const int fd = open_client(port, connected);
  Conn& c = track(fd, connected ? Step::kSendReq : Step::kConnecting, port, kConnEvents);
  ++launched_;
  ++live_clients_;
  if (connected) client_progress(fd, c, EPOLLOUT);
}

void ShortBench::dispatch(const epoll_event& ev) {
  const int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
  Conn& c = conns_[static_cast<size_t>(fd)];
  if (c.gen != static_cast<uint32_t>(ev.data.u64 >> 32) || c.step == Step::kFree) return;
  if (c.step == Step::kListen) {
    accept_all(fd);
  } else if (can_progress(c.step, ev.events)) {
    if (is_client(c.step)) client_progress(fd, c, ev.events);
    else server_progress(fd, c);
  }
}

void ShortBench::accept_all(int lfd) {
  const uint16_t port = conns_[static_cast<size_t>(lfd)].port;
  for (;;) {
    const int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      fail("accept on 127.0.0.1:%u: %s", port, std::strerror(errno));
    }
    Conn& c = track(fd, Step::kRecvReq, port, kConnEvents);
    ++live_servers_;
    server_progress(fd, c);  // the request is usually already there
  }
}

// Sends the rest of `buf`; true once all of it is out, false if the socket would block.
bool send_rest(int fd, const std::vector<uint8_t>& buf, Conn& c, const char* who) {
  while (c.done < buf.size()) {
    const ssize_t n = write_some(fd, buf.data() + c.done, buf.size() - c.done, who);
    if (n < 0) return false;
    c.done += static_cast<uint64_t>(n);
  }
  return true;
}

// Reads until c.done reaches `need`; true once it has, false if the socket would block. EOF
// before that is fatal.
bool recv_rest(int fd, uint64_t need, Conn& c, std::vector<uint8_t>& buf, const char* who) {
  while (c.done < need) {
    const size_t want = std::min<uint64_t>(buf.size(), need - c.done);
    const ssize_t n = read_some(fd, buf.data(), want, who);
    if (n < 0) return false;
    if (n == 0) fail("%s: EOF after %llu of %llu bytes", who, ull(c.done), ull(need));
    c.done += static_cast<uint64_t>(n);
  }
  return true;
}

// Both ends run in this thread, so once a side has sent its last byte the peer's answer cannot
// have arrived yet: the side returns without a read that could only say EAGAIN, and the answer
// raises a fresh edge when it comes.
void ShortBench::client_progress(int fd, Conn& c, uint32_t events) {
  if (c.step == Step::kConnecting) {
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
      const int err = so_error(fd);
      fail("connect to 127.0.0.1:%u: %s", c.port, std::strerror(err != 0 ? err : ECONNABORTED));
    }
    c.step = Step::kSendReq;
  }
  if (c.step == Step::kSendReq) {
    if (send_rest(fd, req_, c, "client send")) {
      c.step = Step::kRecvResp;
      c.done = 0;
    }
    return;
  }
  if (recv_rest(fd, resp_.size(), c, rx_, "client recv (response)")) client_done(fd);
}

void ShortBench::client_done(int fd) {
  release(fd);  // normal close: FIN, then TIME-WAIT on this side
  ++completed_;
  --live_clients_;
  if (launched_ < o_.total) launch();
}

void ShortBench::server_progress(int fd, Conn& c) {
  if (c.step == Step::kRecvReq) {
    if (!recv_rest(fd, req_.size(), c, rx_, "server recv (request)")) return;
    c.step = Step::kSendResp;
    c.done = 0;
  }
  if (c.step == Step::kSendResp) {
    if (send_rest(fd, resp_, c, "server send")) c.step = Step::kAwaitEof;
    return;  // the client's FIN comes after it has read the response
  }
  const ssize_t n = read_some(fd, rx_.data(), rx_.size(), "server recv");
  if (n > 0) fail("client sent more than --req %zu bytes", req_.size());
  if (n == 0) {
    release(fd);
    --live_servers_;
  }
}

Result ShortBench::run(uint64_t deadline_ns) {
  Result r;
  const Window w;
  const uint64_t first = std::min(o_.conns, o_.total);
  while (launched_ < first) launch();
  std::array<epoll_event, kEventBurst> evs{};
  while (live_clients_ + live_servers_ > 0) {
    const int timeout = wait_ms(deadline_ns);
    if (timeout < 0) {
      r.hit_deadline = true;
      break;
    }
    const int n = poller_.wait(evs.data(), evs.size(), timeout);
    for (int i = 0; i < n; ++i) dispatch(evs[static_cast<size_t>(i)]);
  }
  w.close(r);
  r.completed = completed_;
  return r;
}

// ---- bulk mode: one connection, client writes, server counts --------------------------------

class BulkBench {
 public:
  explicit BulkBench(const Options& o) : o_(o), tx_(o.chunk, 'b'), rx_(o.chunk) {}
  ~BulkBench() {
    if (cfd_ >= 0) ::close(cfd_);
    if (sfd_ >= 0) ::close(sfd_);
  }
  BulkBench(const BulkBench&) = delete;
  BulkBench& operator=(const BulkBench&) = delete;
  Result run(uint64_t deadline_ns);

 private:
  void connect_pair(uint64_t deadline_ns);
  void client_write();
  void server_read();

  const Options& o_;
  Poller poller_;
  std::vector<uint8_t> tx_, rx_;
  int cfd_ = -1, sfd_ = -1;
  uint64_t sent_ = 0, received_ = 0;
};

// Waits (not timed) for one `events` on fd, bounded by the deadline.
void await_fd(int fd, short events, uint64_t deadline_ns, const char* what) {
  for (;;) {
    const int timeout = wait_ms(deadline_ns);
    if (timeout < 0) fail("%s: --max-seconds passed during setup", what);
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, timeout);
    if (n < 0 && errno != EINTR) die_errno("poll");
    if (n > 0) return;
  }
}

void BulkBench::connect_pair(uint64_t deadline_ns) {
  const Listener l = open_listener();
  bool connected = false;
  cfd_ = open_client(l.port, connected);
  for (;;) {
    sfd_ = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (sfd_ >= 0) break;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) die_errno("accept");
    await_fd(l.fd, POLLIN, deadline_ns, "accept");
  }
  ::close(l.fd);
  if (!connected) await_fd(cfd_, POLLOUT, deadline_ns, "connect");
  if (const int err = so_error(cfd_); err != 0) {
    fail("connect to 127.0.0.1:%u: %s", l.port, std::strerror(err));
  }
  poller_.add(cfd_, EPOLLOUT | EPOLLET, 0);
  poller_.add(sfd_, EPOLLIN | EPOLLRDHUP | EPOLLET, 1);
}

void BulkBench::client_write() {
  while (sent_ < o_.bytes) {
    const size_t len = std::min<uint64_t>(tx_.size(), o_.bytes - sent_);
    const ssize_t n = write_some(cfd_, tx_.data(), len, "client send");
    if (n < 0) return;
    sent_ += static_cast<uint64_t>(n);
  }
}

void BulkBench::server_read() {
  while (received_ < o_.bytes) {
    const ssize_t n = read_some(sfd_, rx_.data(), rx_.size(), "server recv");
    if (n < 0) return;
    if (n == 0) fail("client closed after %llu of %llu bytes", ull(received_), ull(o_.bytes));
    received_ += static_cast<uint64_t>(n);
  }
}

Result BulkBench::run(uint64_t deadline_ns) {
  connect_pair(deadline_ns);
  Result r;
  const Window w;
  client_write();
  server_read();
  std::array<epoll_event, 4> evs{};
  while (received_ < o_.bytes) {
    const int timeout = wait_ms(deadline_ns);
    if (timeout < 0) {
      r.hit_deadline = true;
      break;
    }
    const int n = poller_.wait(evs.data(), evs.size(), timeout);
    for (int i = 0; i < n; ++i) {
      if (evs[static_cast<size_t>(i)].data.u64 == 0) client_write();
      else server_read();
    }
  }
  w.close(r);
  r.completed = received_;
  return r;
}

// ---- reports -------------------------------------------------------------------------------

double per_cpu_second(const Result& r) {
  const double cpu = r.cpu.user + r.cpu.sys;
  return cpu > 0 ? static_cast<double>(r.completed) / cpu : 0;
}

const char* stopped_by(const Result& r) { return r.hit_deadline ? "max_seconds" : "done"; }

// TIME-WAIT sockets in this network namespace ("tw" in /proc/net/sockstat), -1 if unknown. Each
// short run leaves up to --total of them for 60 s (at most net.ipv4.tcp_max_tw_buckets), and the
// next run's connect() and close() costs depend on how many there are.
long long time_wait_count() {
  FILE* f = std::fopen("/proc/net/sockstat", "r");
  if (f == nullptr) return -1;
  long long tw = -1;
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const char* p = std::strstr(line, " tw ");
    if (std::strncmp(line, "TCP:", 4) == 0 && p != nullptr) tw = std::strtoll(p + 4, nullptr, 10);
  }
  std::fclose(f);
  return tw;
}

int run_short(const Options& o, uint64_t deadline_ns) {
  const uint64_t per_port = std::max<uint64_t>(ephemeral_port_count() * 3 / 4, 1);
  const uint64_t listeners = o.listeners != 0
      ? o.listeners : std::clamp<uint64_t>((o.total + per_port - 1) / per_port, 1, kMaxListeners);
  const size_t max_fds = raise_nofile(2 * std::min(o.conns, o.total) + listeners + 64);
  std::vector<Listener> ls;
  for (uint64_t i = 0; i < listeners; ++i) ls.push_back(open_listener());
  const long long tw = time_wait_count();
  ShortBench b(o, ls, max_fds);
  const Result r = b.run(deadline_ns);
  const double rate = r.seconds > 0 ? static_cast<double>(r.completed) / r.seconds : 0;
  std::printf("{\"impl\":\"kernel\",\"mode\":\"short\",\"cpu\":%llu,\"conns\":%llu,\"total\":%llu,"
              "\"req\":%llu,\"resp\":%llu,\"listeners\":%llu,\"time_wait_at_start\":%lld,"
              "\"completed\":%llu,\"seconds\":%.6f,\"conns_per_s\":%.1f,\"cpu_user_s\":%.6f,"
              "\"cpu_sys_s\":%.6f,\"per_cpu_second\":%.1f,\"stopped_by\":\"%s\"}\n",
              ull(o.cpu), ull(o.conns), ull(o.total), ull(o.req), ull(o.resp), ull(listeners), tw,
              ull(r.completed), r.seconds, rate, r.cpu.user, r.cpu.sys, per_cpu_second(r),
              stopped_by(r));
  std::fprintf(stderr, "kernel short: %.0f conns/s, %llu completed in %.3f s (cpu user %.3f s, "
               "sys %.3f s; %.0f per cpu-second), cpu %llu, %llu in flight, %llu listener ports, "
               "%lld TIME-WAIT at start, stopped by %s\n",
               rate, ull(r.completed), r.seconds, r.cpu.user, r.cpu.sys, per_cpu_second(r),
               ull(o.cpu), ull(o.conns), ull(listeners), tw, stopped_by(r));
  return 0;
}

int run_bulk(const Options& o, uint64_t deadline_ns) {
  raise_nofile(64);
  BulkBench b(o);
  const Result r = b.run(deadline_ns);
  const double bits = static_cast<double>(r.completed) * 8;
  const double cpu = r.cpu.user + r.cpu.sys;
  const double gbps = r.seconds > 0 ? bits / r.seconds / 1e9 : 0;
  const double gbit_per_cpu_s = cpu > 0 ? bits / cpu / 1e9 : 0;
  std::printf("{\"impl\":\"kernel\",\"mode\":\"bulk\",\"cpu\":%llu,\"bytes\":%llu,\"chunk\":%llu,"
              "\"completed\":%llu,\"seconds\":%.6f,\"gbit_per_s\":%.3f,\"cpu_user_s\":%.6f,"
              "\"cpu_sys_s\":%.6f,\"per_cpu_second\":%.1f,\"gbit_per_cpu_second\":%.3f,"
              "\"stopped_by\":\"%s\"}\n",
              ull(o.cpu), ull(o.bytes), ull(o.chunk), ull(r.completed), r.seconds, gbps, r.cpu.user,
              r.cpu.sys, per_cpu_second(r), gbit_per_cpu_s, stopped_by(r));
  std::fprintf(stderr, "kernel bulk: %.2f Gbit/s payload, %llu bytes in %.3f s (cpu user %.3f s, "
               "sys %.3f s; %.2f Gbit per cpu-second), cpu %llu, chunk %llu, stopped by %s\n",
               gbps, ull(r.completed), r.seconds, r.cpu.user, r.cpu.sys, gbit_per_cpu_s, ull(o.cpu),
               ull(o.chunk), stopped_by(r));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
  }
  Options o;
  const std::string err = parse_args(argc, argv, o);
  if (!err.empty()) {
    std::fprintf(stderr, "%s: %s\n", kProg, err.c_str());
    usage(stderr);
    return 2;
  }
  const uint64_t deadline_ns = now_ns() + static_cast<uint64_t>(o.max_seconds * 1e9);
  std::signal(SIGPIPE, SIG_IGN);
  pin_to_cpu(mx::LcoreId{static_cast<uint32_t>(o.cpu)});
  return o.mode == Mode::kShort ? run_short(o, deadline_ns) : run_bulk(o, deadline_ns);
}
