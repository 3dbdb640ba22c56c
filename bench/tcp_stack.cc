// bench/tcp_stack.cc — our TCP stack per core: a client stack and a server stack in one thread,
// joined by an in-memory Ethernet link (tests/unit/tcpstack/sim.h with no impairment and no
// delay), doing the same work as bench/kernel_tcp.cc does with the kernel over loopback.
//
//   --mode short   connections/s: connect, client sends --req bytes, server replies --resp bytes
//                  once it has them all, client reads them all and closes (FIN), server closes on
//                  the peer's FIN. --conns in flight until --total completed.
//   --mode bulk    payload Gbit/s over one connection (--bytes), the server consuming as it goes.
//   --mode idle    memory per idle established connection: --total connections are opened and
//                  left idle; reports the bytes of connection state each costs (TCB + its share of
//                  the table; nothing else is allocated per connection), and the process RSS
//                  growth while they were opened, per connection and per side.
//   --offload      the link behaves like a NIC with checksum offload (frames carry the
//                  pseudo-header sum; the receiver is told the port verified them), as the
//                  kernel's loopback skips checksums. Without it both stacks checksum in software.
// Output: one JSON line on stdout (same fields as bench_kernel_tcp, "impl":"mxgate"), one human
// line on stderr. CPU time from getrusage over the measured window; per_cpu_second = completed /
// (user + sys). --max-seconds bounds the run.
//
// Run: build/bench/bench_tcp --mode short --total 200000
//      build/bench/bench_tcp --mode bulk --bytes 4GiB --offload
//      bench/tcp_vs_kernel.sh   (both harnesses, same parameters, ratios)
#include <sched.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/tcpstack/sim.h"

namespace {

using namespace mx;
using namespace mx::test;
using net::TcpConn;
using net::TcpLayer;

struct Args {
  std::string mode = "short";
  uint64_t conns = 64, total = 200000, req = 64, resp = 64;
  uint64_t bytes = 4ull << 30;
  double max_seconds = 30;
  int cpu = -1;
  bool offload = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_tcp: %s\nusage: bench_tcp [--mode short|bulk|idle] [--conns N] [--total N] [--req B] "
               "[--resp B] [--bytes N[KiB|MiB|GiB]] [--offload] [--cpu N] [--max-seconds S]\n",
               why);
  std::exit(2);
}

uint64_t parse_size(const char* s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *s == '-') usage("bad number");
  std::string suf(end);
  if (suf.empty()) return v;
  if (suf == "K" || suf == "KiB") return v << 10;
  if (suf == "M" || suf == "MiB") return v << 20;
  if (suf == "G" || suf == "GiB") return v << 30;
  usage("bad size suffix");
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    if (k == "--mode") a.mode = val();
    else if (k == "--conns") a.conns = parse_size(val());
    else if (k == "--total") a.total = parse_size(val());
    else if (k == "--req") a.req = parse_size(val());
    else if (k == "--resp") a.resp = parse_size(val());
    else if (k == "--bytes") a.bytes = parse_size(val());
    else if (k == "--cpu") a.cpu = static_cast<int>(parse_size(val()));
    else if (k == "--max-seconds") a.max_seconds = std::atof(val());
    else if (k == "--offload") a.offload = true;
    else usage(("unknown flag " + k).c_str());
  }
  if (a.mode != "short" && a.mode != "bulk" && a.mode != "idle") usage("--mode is short, bulk or idle");
  if (a.conns == 0 || a.conns > 20000 || a.total == 0 || a.req == 0 || a.resp == 0 || a.req > 65536 ||
      a.resp > 65536 || a.max_seconds <= 0)
    usage("value out of range");
  return a;
}

double cpu_seconds(double* user, double* sys) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  *user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
  *sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
  return *user + *sys;
}

long rss_kib() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return rss * 4;
}

struct Clock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double u0 = 0, s0 = 0;
  Clock() { cpu_seconds(&u0, &s0); }
  double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

// ---- short connections ----
struct ShortServer final : net::TcpListenHandler, net::TcpHandler {
  TcpLayer* tcp = nullptr;
  uint64_t req = 0;
  std::vector<uint8_t> resp;
  void on_acceptable(net::TcpListener& l) override {
    while (tcp->accept(l, this)) {
    }
  }
  void on_data(TcpConn& c) override {
    if (tcp->readable(c) < req) return;
    tcp->consume(c, static_cast<uint32_t>(req));
    tcp->send(c, {resp.data(), resp.size()});
  }
  void on_peer_closed(TcpConn& c) override { tcp->close(c); }
  void on_closed(TcpConn&, net::TcpError) override {}
};

struct ShortClient final : net::TcpHandler {
  TcpLayer* tcp = nullptr;
  uint64_t resp = 0, started = 0, done = 0, failed = 0, total = 0;
  std::vector<uint8_t> req;
  void start() {
    if (started >= total) return;
    ++started;
    if (!tcp->connect(Sim::kIpB, 80, this, nullptr, nullptr)) ++failed;
  }
  void on_connected(TcpConn& c) override { tcp->send(c, {req.data(), req.size()}); }
  void on_data(TcpConn& c) override {
    if (tcp->readable(c) < resp) return;
    tcp->consume(c, static_cast<uint32_t>(resp));
    tcp->close(c);
    ++done;
    start();
  }
  void on_closed(TcpConn&, net::TcpError) override {
    ++failed;
    start();
  }
};

net::TcpConfig bench_config(uint32_t conns) {
  net::TcpConfig c;
  c.max_conns = conns;
  c.rx_segs = 65536;
  c.blocks = 16384;
  c.rcv_buf = c.snd_buf = c.ooo_budget = 1 << 20;
  c.syn_backlog = 4096;
  c.accept_backlog = 4096;
  return c;
}

void set_offload(Sim& sim, bool on) { sim.set_offload(on); }

int run_short(const Args& a) {
  Sim sim(1, LinkModel{}, LinkModel{}, bench_config(65536));
  sim.prime_arp();
  set_offload(sim, a.offload);
  ShortServer srv;
  srv.tcp = &sim.b().tcp();
  srv.req = a.req;
  srv.resp.assign(a.resp, 'r');
  if (!sim.b().tcp().listen(Sim::kIpB, 80, &srv)) return 1;
  ShortClient cli;
  cli.tcp = &sim.a().tcp();
  cli.resp = a.resp;
  cli.total = a.total;
  cli.req.assign(a.req, 'q');
  Clock clk;
  for (uint64_t i = 0; i < a.conns; ++i) cli.start();
  bool timed_out = false;
  sim.run_until([&] {
    if ((cli.done & 1023) == 0 && clk.wall() > a.max_seconds) timed_out = true;
    return cli.done + cli.failed >= a.total || timed_out;
  }, UINT64_MAX / 4);
  const double secs = clk.wall();
  double u, s;
  cpu_seconds(&u, &s);
  u -= clk.u0;
  s -= clk.s0;
  std::printf("{\"impl\":\"mxgate\",\"mode\":\"short\",\"offload\":%s,\"conns\":%llu,\"total\":%llu,\"req\":%llu,"
              "\"resp\":%llu,\"completed\":%llu,\"failed\":%llu,\"seconds\":%.3f,\"conns_per_s\":%.0f,"
              "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"per_cpu_second\":%.0f%s}\n",
              a.offload ? "true" : "false", (unsigned long long)a.conns, (unsigned long long)a.total,
              (unsigned long long)a.req, (unsigned long long)a.resp, (unsigned long long)cli.done,
              (unsigned long long)cli.failed, secs, static_cast<double>(cli.done) / secs, u, s,
              static_cast<double>(cli.done) / (u + s), timed_out ? ",\"stopped_by\":\"max_seconds\"" : "");
  std::fprintf(stderr, "mxgate short: %.0f conns/s, %llu completed (%llu failed) in %.3f s, cpu %.3f s\n",
               static_cast<double>(cli.done) / secs, (unsigned long long)cli.done, (unsigned long long)cli.failed,
               secs, u + s);
  return cli.failed ? 1 : 0;
}

// ---- bulk ----
struct BulkSink final : net::TcpListenHandler, net::TcpHandler {
  TcpLayer* tcp = nullptr;
  uint64_t got = 0;
  void on_acceptable(net::TcpListener& l) override {
    while (tcp->accept(l, this)) {
    }
  }
  void on_data(TcpConn& c) override {
    const uint32_t n = tcp->readable(c);
    got += n;
    tcp->consume(c, n);
  }
  void on_closed(TcpConn&, net::TcpError) override {}
};

struct BulkSource final : net::TcpHandler {
  TcpLayer* tcp = nullptr;
  uint64_t left = 0;
  std::vector<uint8_t> chunk = std::vector<uint8_t>(64 * 1024, 'b');
  void pump(TcpConn& c) {
    while (left) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(left, chunk.size()));
      const uint32_t k = tcp->send(c, {chunk.data(), n});
      left -= k;
      if (k < n) return;
    }
  }
  void on_connected(TcpConn& c) override { pump(c); }
  void on_writable(TcpConn& c) override { pump(c); }
  void on_closed(TcpConn&, net::TcpError) override {}
};

int run_bulk(const Args& a) {
  Sim sim(1, LinkModel{}, LinkModel{}, bench_config(64));
  sim.prime_arp();
  set_offload(sim, a.offload);
  BulkSink sink;
  sink.tcp = &sim.b().tcp();
  if (!sim.b().tcp().listen(Sim::kIpB, 80, &sink)) return 1;
  BulkSource src;
  src.tcp = &sim.a().tcp();
  src.left = a.bytes;
  TcpConn* c = sim.a().tcp().connect(Sim::kIpB, 80, &src, nullptr, nullptr);
  if (!c) return 1;
  Clock clk;
  bool timed_out = false;
  uint64_t checks = 0;
  sim.run_until([&] {
    if ((++checks & 255) == 0 && clk.wall() > a.max_seconds) timed_out = true;
    return sink.got >= a.bytes || timed_out;
  }, UINT64_MAX / 4);
  const double secs = clk.wall();
  double u, s;
  cpu_seconds(&u, &s);
  u -= clk.u0;
  s -= clk.s0;
  const double gbps = static_cast<double>(sink.got) * 8 / secs / 1e9;
  std::printf("{\"impl\":\"mxgate\",\"mode\":\"bulk\",\"offload\":%s,\"bytes\":%llu,\"completed\":%llu,"
              "\"seconds\":%.3f,\"gbit_per_s\":%.2f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"per_cpu_second\":%.0f,"
              "\"gbit_per_cpu_second\":%.2f%s}\n",
              a.offload ? "true" : "false", (unsigned long long)a.bytes, (unsigned long long)sink.got, secs, gbps, u,
              s, static_cast<double>(sink.got) / (u + s), static_cast<double>(sink.got) * 8 / (u + s) / 1e9,
              timed_out ? ",\"stopped_by\":\"max_seconds\"" : "");
  std::fprintf(stderr, "mxgate bulk: %.2f Gbit/s payload, %llu bytes in %.3f s (cpu %.3f s)\n", gbps,
               (unsigned long long)sink.got, secs, u + s);
  return 0;
}

// ---- idle memory ----
int run_idle(const Args& a) {
  const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(a.total, 25000));
  const long rss0 = rss_kib();
  Sim sim(1, LinkModel{}, LinkModel{}, bench_config(n + 16));
  sim.prime_arp();
  const long rss1 = rss_kib();
  ShortServer srv;  // accepts and never hears a request: idle
  srv.tcp = &sim.b().tcp();
  srv.req = 1u << 30;
  if (!sim.b().tcp().listen(Sim::kIpB, 80, &srv)) return 1;
  struct Idle final : net::TcpHandler {
    void on_closed(TcpConn&, net::TcpError) override {}
  } idle;
  for (uint32_t i = 0; i < n; ++i) {
    if (!sim.a().tcp().connect(Sim::kIpB, 80, &idle, nullptr, nullptr)) return 1;
    if (i % 256 == 255) sim.run_until([] { return false; }, 1);
  }
  sim.run_until([&] { return sim.b().tcp().conn_count() >= n; }, 10 * kNsPerSec);
  const long rss2 = rss_kib();
  const size_t tcb = sizeof(TcpConn);
  const size_t table_share = 2 * sizeof(TcpConn*);  // the table has 2 slots per connection
  std::printf("{\"impl\":\"mxgate\",\"mode\":\"idle\",\"connections\":%u,\"tcb_bytes\":%zu,\"table_bytes\":%zu,"
              "\"bytes_per_idle_conn\":%zu,\"rss_prealloc_kib\":%ld,\"rss_growth_kib\":%ld,"
              "\"rss_growth_per_conn_per_side\":%.0f}\n",
              n, tcb, table_share, tcb + table_share, rss1 - rss0, rss2 - rss1,
              static_cast<double>(rss2 - rss1) * 1024 / (2.0 * n));
  std::fprintf(stderr, "mxgate idle: %zu bytes of state per idle connection (TCB %zu + table %zu); %u open\n",
               tcb + table_share, tcb, table_share, sim.b().tcp().conn_count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a.cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
      std::perror("bench_tcp: sched_setaffinity");
      return 1;
    }
  }
  if (a.mode == "short") return run_short(a);
  if (a.mode == "bulk") return run_bulk(a);
  return run_idle(a);
}
