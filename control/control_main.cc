// control/control_main.cc — mxgate-control: the store, the push to data planes (a node socket)
// and the JSON API (an API socket), in one single-threaded poll loop.
//
// SECURITY: runs without privileges beyond its files; both sockets are mode 0600. Everything
// from a socket is parsed with bounds (ipc/frame.h, control/api/http.h).
// STANDARDS: none directly (see the servers').
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "control/api/api_server.h"
#include "control/build_info.h"
#include "control/push/push_server.h"
#include "control/store/store.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true); }

constexpr const char* kUsage =
    "usage: mxgate-control [--store FILE] [--node-socket PATH] [--api-socket PATH]\n"
    "\n"
    "The control plane: keeps the policy generations, pushes the current one to every mxgate\n"
    "that connects to the node socket, and serves the JSON API (mxgatectl) on the API socket.\n"
    "\n"
    "  --store FILE        the SQLite database (created when absent)   [/var/lib/mxgate/control.db]\n"
    "  --node-socket PATH  where data planes connect                   [/run/mxgate/control.sock]\n"
    "  --api-socket PATH   where mxgatectl connects                    [/run/mxgate/api.sock]\n"
    "  --help, --version\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the reason on stderr); 2 usage.\n";

}  // namespace

int main(int argc, char** argv) {
  std::string store_path = "/var/lib/mxgate/control.db", node_sock = "/run/mxgate/control.sock",
              api_sock = "/run/mxgate/api.sock";
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
    } else {
      std::fprintf(stderr, "mxgate-control: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
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
  const auto cur = (*store)->list(1);
  std::fprintf(stderr, "mxgate-control: ready: store %s (schema %d, generation %llu), nodes on %s, API on %s\n",
               store_path.c_str(), (*store)->schema_version(),
               static_cast<unsigned long long>(cur.empty() ? 0 : cur[0].gen), node_sock.c_str(), api_sock.c_str());
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
