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

#include <atomic>
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
#include "control/store/store.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true); }

constexpr const char* kUsage =
    "usage: mxgate-control [--store FILE|URL] [--node-socket PATH] [--api-socket PATH]\n"
    "                      [--node-listen HOST:PORT --node-ca FILE] [--api-listen HOST:PORT]\n"
    "                      [--tls-cert FILE --tls-key FILE]\n"
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
    "  --help, --version\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the reason on stderr); 2 usage.\n";

int usage_error(const char* why) {
  std::fprintf(stderr, "mxgate-control: %s\n%s", why, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_path = "/var/lib/mxgate/control.db", node_sock = "/run/mxgate/control.sock",
              api_sock = "/run/mxgate/api.sock";
  std::string node_listen, api_listen, tls_cert, tls_key, node_ca;
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
    } else {
      std::fprintf(stderr, "mxgate-control: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
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
  std::vector<pollfd> fds;
  while (!g_stop.load()) {
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
