// control/control_main.cc — mxgate-control: the store, the push to data planes (a node socket,
// and optionally a TCP address with mutual TLS) and the JSON API (an API socket, and optionally
// HTTPS), in one single-threaded poll loop.
//
// SECURITY: runs without privileges beyond its files; both sockets are mode 0600. Everything
// from a socket is parsed with bounds (ipc/frame.h, control/api/http.h). Over TCP, nodes are
// admitted only with a certificate from --node-ca that names them, and API requests only with a
// token; the certificate, key and CA are read once, at start (common/tls_channel.h).
// STANDARDS: none directly (see the servers').
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/tls_channel.h"
#include "control/api/api_server.h"
#include "control/build_info.h"
#include "control/push/push_server.h"
#include "control/store/db.h"
#include "control/store/policy_store.h"
#include "control/store/store.h"
#include "ipc/snapshot.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true); }

constexpr const char* kUsage =
    "usage: mxgate-control [--store FILE|URL] [--node-socket PATH] [--api-socket PATH]\n"
    "                      [--node-listen HOST:PORT --node-ca FILE] [--api-listen HOST:PORT]\n"
    "                      [--tls-cert FILE --tls-key FILE] [--log-retention-days N]\n"
    "\n"
    "The control plane: keeps the policy generations, pushes the current one to every mxgate\n"
    "that connects to the node socket, and serves the JSON API (mxgatectl) on the API socket.\n"
    "\n"
    "  --store FILE|URL    the SQLite database (created when absent)   [/var/lib/mxgate/control.db]\n"
    "                      or a PostgreSQL server's: postgresql://[user[:password]@]host[:port]/db\n"
    "                      or postgresql:///db?host=/run/postgresql (a Unix socket)\n"
    "  --node-socket PATH  where data planes connect                   [/run/mxgate/control.sock]\n"
    "  --api-socket PATH   where mxgatectl connects                    [/run/mxgate/api.sock]\n"
    "  --node-listen HOST:PORT  also take nodes over TCP with mutual TLS (HOST an IP literal,\n"
    "                      [v6] in brackets); needs --tls-cert, --tls-key and --node-ca\n"
    "  --node-ca FILE      the CA (PEM) node certificates must chain to; a node's hello must be\n"
    "                      a name its certificate carries (DNS subjectAltName or commonName)\n"
    "  --api-listen HOST:PORT  also serve the API over HTTPS (every request needs a token)\n"
    "  --tls-cert FILE     control's certificate chain (PEM), for both TCP listeners\n"
    "  --tls-key FILE      its private key (PEM)\n"
    "  --log-retention-days N  keep transaction records N days (a tenant's log_retention_days\n"
    "                      overrides it); 0 keeps them for ever                            [90]\n"
    "  --log-purge-every S  how often, in seconds, expired records are removed            [600]\n"
    "  --help, --version\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the reason on stderr); 2 usage.\n";

bool parse_bounded(const std::string& s, int lo, int hi, int& out) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

// Expired transaction records are removed in steps of this many records looked at (one
// transaction each, between two turns of the event loop), so nodes and API clients wait at most
// one step (~0.1 s at 20,000).
constexpr size_t kLogPurgeStep = 20000;

int usage_error(const char* why) {
  std::fprintf(stderr, "mxgate-control: %s\n%s", why, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_path = "/var/lib/mxgate/control.db", node_sock = "/run/mxgate/control.sock",
              api_sock = "/run/mxgate/api.sock";
  std::string node_listen, api_listen, tls_cert, tls_key, node_ca;
  std::string retention_arg = "90", purge_every_arg = "600";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mxgate-control: %s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      out = argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("%s\n", mx::control::build_info().c_str());
      return 0;
    } else if (a == "--store") {
      value(store_path);
    } else if (a == "--node-socket") {
      value(node_sock);
    } else if (a == "--api-socket") {
      value(api_sock);
    } else if (a == "--node-listen") {
      value(node_listen);
    } else if (a == "--api-listen") {
      value(api_listen);
    } else if (a == "--tls-cert") {
      value(tls_cert);
    } else if (a == "--tls-key") {
      value(tls_key);
    } else if (a == "--node-ca") {
      value(node_ca);
    } else if (a == "--log-retention-days") {
      value(retention_arg);
    } else if (a == "--log-purge-every") {
      value(purge_every_arg);
    } else {
      std::fprintf(stderr, "mxgate-control: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  int retention_days = 0, purge_every_s = 0;
  if (!parse_bounded(retention_arg, 0, static_cast<int>(mx::ipc::kMaxLogRetentionDays), retention_days))
    return usage_error("--log-retention-days takes 0..3650");
  if (!parse_bounded(purge_every_arg, 1, 86400, purge_every_s)) return usage_error("--log-purge-every takes 1..86400 seconds");
  const bool tcp = !node_listen.empty() || !api_listen.empty();
  if (tcp && (tls_cert.empty() || tls_key.empty())) return usage_error("--node-listen and --api-listen need --tls-cert and --tls-key");
  if (!tcp && (!tls_cert.empty() || !tls_key.empty())) return usage_error("--tls-cert and --tls-key go with --node-listen or --api-listen");
  if (node_listen.empty() != node_ca.empty()) return usage_error("--node-listen and --node-ca go together");
  for (const std::string* addr : {&node_listen, &api_listen})
    if (!addr->empty() && !mx::TcpAddress::parse(*addr, true))
      return usage_error(("'" + *addr + "' is not HOST:PORT with HOST an IPv4 address or a [bracketed] IPv6 one").c_str());
  // Contexts first: a certificate that cannot be read stops the start before anything listens.
  std::shared_ptr<mx::tls::Context> node_tls, api_tls;
  if (!node_listen.empty()) {
    auto ctx = mx::tls::Context::server(tls_cert, tls_key, node_ca);
    if (!ctx) {
      std::fprintf(stderr, "mxgate-control: node listener: %s\n", ctx.error().message.c_str());
      return 1;
    }
    node_tls = std::move(*ctx);
  }
  if (!api_listen.empty()) {
    auto ctx = mx::tls::Context::server(tls_cert, tls_key);
    if (!ctx) {
      std::fprintf(stderr, "mxgate-control: API listener: %s\n", ctx.error().message.c_str());
      return 1;
    }
    api_tls = std::move(*ctx);
  }
  struct sigaction sa{};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto store = mx::control::Store::open(store_path);
  if (!store) {
    std::fprintf(stderr, "mxgate-control: %s\n", store.error().message.c_str());
    return 1;
  }
  auto push = mx::control::PushServer::listen(node_sock, **store);
  if (!push) {
    std::fprintf(stderr, "mxgate-control: node socket %s\n", push.error().message.c_str());
    return 1;
  }
  auto api = mx::control::ApiServer::listen(api_sock, **store, **push);
  if (!api) {
    std::fprintf(stderr, "mxgate-control: API socket %s\n", api.error().message.c_str());
    return 1;
  }
  std::string also;  // the TCP listeners, with the port each got (":0" in the address: any free one)
  if (node_tls) {
    auto port = (*push)->listen_tls(node_listen, node_tls);
    if (!port) {
      std::fprintf(stderr, "mxgate-control: node listener %s\n", port.error().message.c_str());
      return 1;
    }
    also += ", nodes (mutual TLS) on " + node_listen.substr(0, node_listen.rfind(':')) + ":" + std::to_string(*port);
  }
  if (api_tls) {
    auto port = (*api)->listen_tls(api_listen, api_tls);
    if (!port) {
      std::fprintf(stderr, "mxgate-control: API listener %s\n", port.error().message.c_str());
      return 1;
    }
    also += ", API (HTTPS) on " + api_listen.substr(0, api_listen.rfind(':')) + ":" + std::to_string(*port);
  }
  const auto cur = (*store)->list(1);
  std::fprintf(stderr, "mxgate-control: ready: store %s (schema %d, generation %llu), nodes on %s, API on %s%s\n",
               mx::control::redacted_store(store_path).c_str(), (*store)->schema_version(),
               static_cast<unsigned long long>(cur.empty() ? 0 : cur[0].gen), node_sock.c_str(), api_sock.c_str(),
               also.c_str());
  std::fflush(stderr);
  mx::control::PolicyStore policy(**store);
  mx::control::LogPurgeCursor purge;
  uint64_t purged = 0;
  auto next_purge = std::chrono::steady_clock::now() + std::chrono::seconds(std::min(purge_every_s, 10));
  std::vector<pollfd> fds;
  while (!g_stop.load()) {
    if (std::chrono::steady_clock::now() >= next_purge) {
      const auto keep = policy.log_retention(retention_days);
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
      auto n = (*store)->purge_log(keep, now_ms, kLogPurgeStep, purge);
      if (!n) std::fprintf(stderr, "mxgate-control: %s\n", n.error().message.c_str());
      else purged += *n;
      if (!n || !purge.more) {  // the round is over: the next starts from the oldest again
        if (purged) std::fprintf(stderr, "mxgate-control: log retention: %llu expired record(s) removed\n",
                                 static_cast<unsigned long long>(purged));
        purge = {};
        purged = 0;
        next_purge = std::chrono::steady_clock::now() + std::chrono::seconds(purge_every_s);
      }
    }
    fds.clear();
    (*push)->fill(fds);
    const size_t split = fds.size();
    (*api)->fill(fds);
    const int n = ::poll(fds.data(), fds.size(), 200);
    (*push)->sweep();
    (*api)->sweep();
    if (n <= 0) continue;
    (*push)->handle(std::vector<pollfd>(fds.begin(), fds.begin() + static_cast<ptrdiff_t>(split)));
    (*api)->handle(std::vector<pollfd>(fds.begin() + static_cast<ptrdiff_t>(split), fds.end()));
  }
  std::fprintf(stderr, "mxgate-control: stopping\n");
  return 0;
}
