// control/push/push_server.h — the side of mxgate-control that data planes connect to: a Unix
// socket, and optionally a TCP address with mutual TLS for nodes on other hosts, speaking the IPC
// frames of ipc/frame.h. A node says hello with its name and the
// generation it serves; when that is not the current generation it is sent the current one; it
// answers ack (now serving) or nack (refused, with the reason, still serving the old one), and
// the store records either (control/store/store.h). A commit is pushed to every connected node.
// Each node's latest stats frame (its counters, ipc/node_stats.h) is kept in memory while it is
// connected, for GET /metrics; a stats text that does not parse is dropped and counted (the
// connection stays: snapshots and logs matter more than counters), and the node's earlier text
// with it, so that /metrics never shows a node's counters as current when they are not.
//
// Over TCP (listen_tls) a node is admitted in two steps: the TLS handshake, in which it must
// present a certificate that chains to the node CA (common/tls_channel.h: TLS 1.2+, a client
// certificate required), then its hello, whose name must be one its certificate carries (a DNS
// subjectAltName or the subject's commonName, byte for byte): a certificate speaks for one node,
// so a compromised node cannot pose as another and take its generation or log stream.
//
// SECURITY: nodes are peers of the same operator, but their bytes are still parsed with bounds
// (ipc::FrameReader, accepting only what a node may send, and only hello before hello); the
// first bad frame closes that node's connection with the reason logged. A connection is read
// at most kReadChunk per poll round and not at all while what it was sent is still unwritten,
// so a node that floods or does not read stalls only itself; every connection shares one copy
// of the current snapshot; a connection that does not finish its TLS handshake within
// PushLimits::handshake_ms, or does not say hello within PushLimits::hello_ms (both counted from
// the accept), is closed; handshakes are stepped in the poll loop, never waited for. The socket
// file is created mode 0600. Stats kept: at most ipc::kMaxStatsBytes per
// connection (the frame's bound), so kMaxNodes x 1 MiB in all.
// STANDARDS: none (docs/ipc.md); TLS: see common/tls_channel.h.
#pragma once

#include <poll.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "common/tcp_address.h"
#include "common/tls_channel.h"
#include "control/store/store.h"
#include "ipc/frame.h"
#include "ipc/node_stats.h"

namespace mx::control {

constexpr size_t kMaxNodes = 256;  // connections at once
constexpr size_t kReadChunk = 64 * 1024;      // bytes read from one connection per poll round
constexpr uint64_t kHelloTimeoutMs = 10000;   // a connection must say hello within this

constexpr int kListenBacklog = 64;

// A non-blocking listening Unix socket at `path` (mode 0600; a stale file is replaced).
Expected<int> listen_unix(const std::string& path);
// A non-blocking listening TCP socket at `address` ("HOST:PORT", an IP literal; port 0: any free
// port), and the port it got.
Expected<std::pair<int, uint16_t>> listen_tcp(const std::string& address);
// "1.2.3.4:5678" / "[::1]:5678": a connected TCP peer, for logs.
std::string peer_text(const sockaddr_storage& ss);

// Deadlines, counted from the accept (tests shorten them).
struct PushLimits {
  uint64_t hello_ms = kHelloTimeoutMs;
  uint64_t handshake_ms = tls::kHandshakeTimeoutMs;
};

class PushServer {
 public:
  static Expected<std::unique_ptr<PushServer>> listen(const std::string& socket_path, Store& store,
                                                      PushLimits limits = {});
  // Nodes also over TCP at `address` (HOST:PORT) with TLS: `ctx` is a server context with the
  // node CA (tls::Context::server(cert, key, node_ca)). Returns the port listened on.
  Expected<uint16_t> listen_tls(const std::string& address, std::shared_ptr<const tls::Context> ctx);
  ~PushServer();
  PushServer(const PushServer&) = delete;
  PushServer& operator=(const PushServer&) = delete;

  // The poll loop: add our descriptors, then handle what poll() reported for them.
  void fill(std::vector<pollfd>& fds) const;
  void handle(const std::vector<pollfd>& fds);
  // Deadlines (hello); call every loop round.
  void sweep();
  // A new current generation: pushed to every node that is not serving it.
  void publish(uint64_t generation, const std::string& document);
  size_t connected() const;
  // The latest stats text of every connected node that sent one, by node name; the views are
  // valid until the next handle() or sweep().
  std::vector<ipc::NodeStatsText> node_stats() const;
  // Stats frames refused since start (text outside ipc/node_stats.h's subset).
  uint64_t stats_refused() const { return stats_refused_; }

 private:
  struct Conn {
    int fd = -1;
    std::unique_ptr<tls::Stream> tls;  // over TCP; null on the Unix socket
    std::string peer;         // over TCP: the peer's address, for logs
    std::string name;         // from hello; empty before
    ipc::FrameReader reader{ipc::frame_bit(ipc::FrameType::kHello)};
    // Frames being written, in order; a snapshot is the shared copy of the current one.
    std::deque<std::shared_ptr<const std::string>> out;
    size_t out_off = 0;       // into out.front()
    uint64_t serving = 0;     // the generation the node says it serves
    uint64_t sent = 0;        // the newest generation queued
    uint64_t since_ms = 0;    // accepted at
    std::string stats;        // the latest stats text that parsed (empty: none)
    bool said_bad_stats = false;  // a refused stats frame is logged once per connection
  };
  PushServer(int fd, std::string path, Store& store, PushLimits limits)
      : lfd_(fd), path_(std::move(path)), store_(store), limits_(limits) {}
  void accept_all(int lfd);
  void step_handshake(Conn& c);
  void on_readable(Conn& c);
  void on_frame(Conn& c, const ipc::FrameHeader& h, std::string_view payload);
  void on_stats(Conn& c, std::string_view text);
  void offer(Conn& c);  // queue the current generation when the node does not serve it
  void flush(Conn& c);
  void close_conn(Conn& c, const std::string& why);

  int lfd_ = -1;
  std::string path_;
  Store& store_;
  PushLimits limits_;
  int tls_lfd_ = -1;                             // TCP with TLS; -1: none
  std::shared_ptr<const tls::Context> tls_ctx_;  // for tls_lfd_
  void queue(Conn& c, std::shared_ptr<const std::string> frame);
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t current_ = 0;
  std::shared_ptr<const std::string> frame_;  // the current generation, framed (shared by all)
  uint64_t stats_refused_ = 0;
};

}  // namespace mx::control
