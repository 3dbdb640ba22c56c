// dataplane/main.cc — mxgate, the data plane process.
//
// SECURITY: runs as root (DPDK needs it for ports and hugepages); takes untrusted input only
// through the ports, handled by tcpstack/ on the net lcores. The config file is trusted
// operator input but still fully validated before EAL or any port is touched.
//
// Usage: mxgate --config FILE | --check-config FILE | --version | --help
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_version.h>

#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "dataplane/config.h"
#include "dataplane/control_link.h"
#include "dataplane/eal_args.h"
#include "dataplane/gateway.h"
#include "dataplane/io_worker.h"
#include "dataplane/ipc_use.h"
#include "dataplane/scan_worker.h"
#include "dataplane/net_lcore.h"
#include "dataplane/port.h"
#include "dataplane/stats.h"
#include "scan/engine_info.h"
#include "smtp/tls_info.h"

#ifdef MX_USE_MIMALLOC
#include <mimalloc-new-delete.h>
#endif

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

extern "C" void on_signal(int) { g_stop.store(true); }
extern "C" void on_hup(int) { g_reload.store(true); }

void usage(FILE* f) {
  std::fputs(
      "usage: mxgate --config FILE        run the data plane\n"
      "       mxgate --check-config FILE  validate FILE and exit (0: valid)\n"
      "       mxgate --version            print versions and exit\n",
      f);
}

int print_version() {
  std::printf("mxgate %s\n  %s\n  Hyperscan %s\n  libclamav %s\n  %s\n", MX_VERSION, rte_version(),
              mx::scan::hyperscan_version().c_str(), mx::scan::clamav_version().c_str(),
              mx::smtp::tls_library_version().c_str());
  return 0;
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
}

// Everything EAL-owned, released in reverse order on every exit path after rte_eal_init.
struct Runtime {
  rte_mempool* pool = nullptr;
  std::vector<mx::dp::Port> ports;
  std::unique_ptr<mx::scan::AvEngine> av;
  std::unique_ptr<mx::dp::ScanWorker> scan;
  std::unique_ptr<mx::dp::IoWorker> io;
  mx::dp::GatewayShared gw;
  uint64_t control_generation = 0;  // the mxgate-control generation served (0: the tenants file)
  std::vector<std::unique_ptr<mx::dp::NetLcore>> lcores;
  ~Runtime() {
    // The workers answer what they hold into the gateways' rings, so they stop first.
    if (scan) scan->stop();
    if (io) io->stop();
    lcores.clear();
    scan.reset();
    io.reset();
    mx::dp::close_ports(ports);
    if (pool) rte_mempool_free(pool);
    rte_eal_cleanup();
  }
};

// The gateway's process-wide parts: tenant snapshot, TLS, libclamav, the scan and I/O threads.
mx::Expected<bool> start_gateway(const mx::cfg::Config& c, Runtime& rt) {
  const mx::cfg::GatewaySection& g = c.gateway;
  // With a [control] section, the last snapshot control pushed (kept in state_dir) comes first.
  if (c.control.enabled) {
    auto pushed = mx::dp::load_pushed_snapshot(c.control.state_dir);
    if (!pushed) return mx::Error{"[control] state: " + pushed.error().message};
    if (pushed->snapshot) {
      rt.control_generation = pushed->generation;
      rt.gw.publish(std::move(pushed->snapshot));
      std::fprintf(stderr, "mxgate: serving generation %" PRIu64 " kept from mxgate-control\n", rt.control_generation);
    }
  }
  if (!rt.control_generation) {
    auto snap = mx::dp::load_snapshot(g.tenants, 1);
    if (!snap) return mx::Error{"tenants: " + snap.error().message};
    rt.gw.publish(std::move(*snap));
  }
  rt.gw.cfg = &g;
  // The memory budget for messages in flight (docs/config.md): a quarter of the machine unless set.
  const uint64_t phys = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
  rt.gw.msg_mem.limit = g.message_memory_mb ? uint64_t{g.message_memory_mb} << 20 : phys / 4;
  rt.gw.lcore_msg_limit = g.lcore_message_memory_mb ? uint64_t{g.lcore_message_memory_mb} << 20 : rt.gw.msg_mem.limit;
  if (!g.tls_cert.empty()) {
    auto tls = mx::smtp::TlsServerContext::load(g.tls_cert, g.tls_key);
    if (!tls) return mx::Error{"STARTTLS: " + tls.error().message};
    rt.gw.tls = std::move(*tls);
  }
  auto client = mx::smtp::TlsClientContext::create();
  if (!client) return mx::Error{"relay TLS: " + client.error().message};
  rt.gw.tls_client = std::move(*client);
  mx::scan::AvConfig avc;
  avc.database_dir = g.av_database;
  auto av = mx::scan::AvEngine::load(avc);
  if (!av) return mx::Error{"antivirus: " + av.error().message};
  rt.av = std::move(*av);
  auto scan = mx::dp::ScanWorker::create(*rt.av, g.av_threads, g.scan_cpu);
  if (!scan) return scan.error();
  rt.scan = std::move(*scan);
  mx::dp::SpoolConfig sc;
  sc.dir = g.spool_dir;
  sc.hostname = g.hostname;
  sc.retry_min_s = g.spool_retry_min_s;
  sc.retry_max_s = g.spool_retry_max_s;
  sc.lifetime_s = g.spool_lifetime_s;
  sc.bounce_ip = g.bounce_ip;
  sc.bounce_port = g.bounce_port;
  rt.gw.spool = mx::dp::GatewaySpool{g.spool_retry_min_s, g.spool_retry_max_s, g.spool_lifetime_s};
  auto io = mx::dp::IoWorker::create(g.log_file, g.quarantine_dir, sc, &rt.gw, g.io_ring_size);
  if (!io) return io.error();
  rt.io = std::move(*io);
  rt.gw.scan = rt.scan.get();
  rt.gw.io = rt.io.get();
  rt.gw.id_base = static_cast<uint64_t>(std::time(nullptr)) << 24;
  for (auto& l : rt.lcores)
    if (auto ok = l->start_gateway(rt.gw); !ok) return ok.error();
  rt.io->start();  // after every lcore registered its spool ring
  std::fprintf(stderr,
               "mxgate: gateway: SMTP on port %u, %zu tenant(s), STARTTLS %s, %u AV signature(s), %zu spooled message(s), "
               "message memory %" PRIu64 " MiB (per lcore %" PRIu64 " MiB)\n",
               g.smtp_port, rt.gw.current()->tenants().size(), rt.gw.tls ? "on" : "off", rt.av->signature_count(),
               rt.io->spool_size(), rt.gw.msg_mem.limit >> 20, rt.gw.lcore_msg_limit >> 20);
  return true;
}

int run(const mx::cfg::Config& c, const char* argv0) {
  std::vector<std::string> args = mx::dp::build_eal_args(c, argv0);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::fprintf(stderr, "mxgate: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  Runtime rt;
  for (uint32_t l : c.dataplane.net_lcores) {
    if (!rte_lcore_is_enabled(l)) {
      std::fprintf(stderr, "mxgate: net lcore %u is not enabled by EAL\n", l);
      return 1;
    }
  }
  rt.pool = rte_pktmbuf_pool_create("mx_mbufs", c.dataplane.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
  if (!rt.pool) {
    std::fprintf(stderr, "mxgate: cannot create mbuf pool of %u: %s\n", c.dataplane.mbufs, rte_strerror(rte_errno));
    return 1;
  }
  auto queues = static_cast<uint16_t>(c.dataplane.net_lcores.size());
  auto ports = mx::dp::start_ports(c, rt.pool, queues);
  if (!ports) {
    std::fprintf(stderr, "mxgate: %s\n", ports.error().message.c_str());
    return 1;
  }
  rt.ports = std::move(*ports);
  uint16_t q = 0;
  for (uint32_t l : c.dataplane.net_lcores)
    rt.lcores.push_back(std::make_unique<mx::dp::NetLcore>(l, q++, c, rt.ports, rt.pool));
  for (size_t i = 0; i < rt.lcores.size(); ++i) {
    if (auto ok = rt.lcores[i]->start_services(i == 0); !ok) {
      std::fprintf(stderr, "mxgate: %s\n", ok.error().message.c_str());
      return 1;
    }
  }
  if (c.gateway.enabled) {
    if (auto ok = start_gateway(c, rt); !ok) {
      std::fprintf(stderr, "mxgate: %s\n", ok.error().message.c_str());
      return 1;
    }
  }
  std::vector<mx::dp::NetLcoreLaunch> launch;
  for (auto& l : rt.lcores) launch.push_back({l.get(), &g_stop});
  for (auto& l : launch) rte_eal_remote_launch(mx::dp::net_lcore_entry, &l, l.lcore->lcore());
  for (const mx::dp::Port& p : rt.ports)
    std::fprintf(stderr, "mxgate: port %s (%s) up: mac %s ipv4 %s/%u, %u queue(s)\n", p.cfg->name.c_str(),
                 p.driver.c_str(), p.mac.to_string().c_str(), p.cfg->ipv4.addr.to_string().c_str(), p.cfg->ipv4.len,
                 queues);
  std::fprintf(stderr, "mxgate: ready\n");
  std::fflush(stderr);

  uint64_t generation = 1;
  std::unique_ptr<mx::dp::ControlLink> link;
  if (c.control.enabled) {
    link = std::make_unique<mx::dp::ControlLink>(c.control, rt.gw, rt.control_generation, c.gateway.log_file);
    link->set_stats_sources(mx::dp::StatsSources{&rt.lcores, rt.scan.get(), rt.io.get()});
  }
  while (!g_stop.load()) {
    timespec ts{0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
    if (link) {
      timespec mono{};
      clock_gettime(CLOCK_MONOTONIC, &mono);
      link->poll(static_cast<uint64_t>(mono.tv_sec) * 1000 + static_cast<uint64_t>(mono.tv_nsec) / 1000000);
    }
    if (link && g_reload.exchange(false)) {
      std::fprintf(stderr, "mxgate: SIGHUP ignored for tenants: the policy comes from mxgate-control (generation %" PRIu64 ")\n",
                   link->serving());
      std::fflush(stderr);
    } else if (c.gateway.enabled && g_reload.exchange(false)) {
      // SIGHUP: a new tenant snapshot; a bad file leaves the running one in place.
      auto snap = mx::dp::load_snapshot(c.gateway.tenants, ++generation);
      if (!snap) {
        std::fprintf(stderr, "mxgate: reload refused, keeping generation %" PRIu64 ": %s\n",
                     rt.gw.current()->generation(), snap.error().message.c_str());
      } else {
        std::fprintf(stderr, "mxgate: tenant snapshot generation %" PRIu64 " loaded (%zu tenant(s), %zu user(s))\n",
                     (*snap)->generation(), (*snap)->tenants().size(), (*snap)->users().size());
        rt.gw.publish(std::move(*snap));
      }
      std::fflush(stderr);
    }
  }
  std::fprintf(stderr, "mxgate: stopping\n");
  rte_eal_mp_wait_lcore();
  if (rt.scan) rt.scan->stop();
  if (rt.io) rt.io->stop();
  mx::dp::print_counters(stderr, rt.lcores, rt.ports);
  if (rt.scan) {
    const mx::dp::ScanWorkerStats& s = rt.scan->stats();
    std::fprintf(stderr,
                 "mxgate: scan jobs=%" PRIu64 " aborted=%" PRIu64 " bytes=%" PRIu64 " av_objects=%" PRIu64
                 " av_resubmits=%" PRIu64 " scanner_errors=%" PRIu64 "\n",
                 s.jobs.load(), s.aborted.load(), s.bytes.load(), s.av_objects.load(), s.av_resubmits.load(),
                 s.scanner_errors.load());
  }
  if (rt.io) {
    const mx::dp::IoStats& s = rt.io->stats();
    std::fprintf(stderr,
                 "mxgate: io commits=%" PRIu64 " log_lines=%" PRIu64 " quarantined=%" PRIu64 " spooled=%" PRIu64
                 " errors=%" PRIu64 " spool_attempts=%" PRIu64 " spool_delivered=%" PRIu64 " spool_retries=%" PRIu64
                 " dsn_sent=%" PRIu64 " dsn_suppressed=%" PRIu64 " spool_bad=%" PRIu64 " spool_left=%zu\n",
                 s.commits.load(), s.log_lines.load(), s.quarantined.load(), s.spooled.load(), s.errors.load(),
                 s.spool_attempts.load(), s.spool_delivered.load(), s.spool_retries.load(), s.dsn_sent.load(),
                 s.dsn_suppressed.load(), s.spool_bad.load(), rt.io->spool_size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    usage(stdout);
    return 0;
  }
  if (argc == 2 && !std::strcmp(argv[1], "--version")) return print_version();
  if (argc != 3 || (std::strcmp(argv[1], "--config") != 0 && std::strcmp(argv[1], "--check-config") != 0)) {
    usage(stderr);
    return 2;
  }
  auto cfg = mx::cfg::load_config(argv[2]);
  if (!cfg) {
    std::fprintf(stderr, "mxgate: %s\n", cfg.error().message.c_str());
    return 1;
  }
  if (!std::strcmp(argv[1], "--check-config")) {
    std::printf("mxgate: %s: OK (%zu port(s), %zu net lcore(s))\n", argv[2], cfg->ports.size(),
                cfg->dataplane.net_lcores.size());
    return 0;
  }
  install_signals();
  return run(*cfg, argv[0]);
}
