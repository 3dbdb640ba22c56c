// control/push/push_server.h — the side of mxgate-control that data planes connect to: a Unix
// socket speaking the IPC frames of ipc/frame.h. A node says hello with its name and the
// generation it serves; when that is not the current generation it is sent the current one; it
// answers ack (now serving) or nack (refused, with the reason, still serving the old one), and
// the store records either (control/store/store.h). A commit is pushed to every connected node.
// Each node's latest stats frame (its counters, ipc/node_stats.h) is kept in memory while it is
// connected, for GET /metrics; a stats text that does not parse is dropped and counted (the
// connection stays: snapshots and logs matter more than counters), and the node's earlier text
// with it, so that /metrics never shows a node's counters as current when they are not.
//
// SECURITY: nodes are peers of the same operator, but their bytes are still parsed with bounds
// (ipc::FrameReader, accepting only what a node may send, and only hello before hello); the
// first bad frame closes that node's connection with the reason logged. A connection is read
// at most kReadChunk per poll round and not at all while what it was sent is still unwritten,
// so a node that floods or does not read stalls only itself; every connection shares one copy
// of the current snapshot; a connection that does not say hello within kHelloTimeoutMs is
// closed. The socket file is created mode 0600. Stats kept: at most ipc::kMaxStatsBytes per
// connection (the frame's bound), so kMaxNodes x 1 MiB in all.
// STANDARDS: none (docs/ipc.md).
#pragma once

#include <poll.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "control/store/store.h"
#include "ipc/frame.h"
#include "ipc/node_stats.h"

namespace mx::control {

constexpr size_t kMaxNodes = 256;  // connections at once
constexpr size_t kReadChunk = 64 * 1024;      // bytes read from one connection per poll round
constexpr uint64_t kHelloTimeoutMs = 10000;   // a connection must say hello within this

// A non-blocking listening Unix socket at `path` (mode 0600; a stale file is replaced).
Expected<int> listen_unix(const std::string& path);

class PushServer {
 public:
  static Expected<std::unique_ptr<PushServer>> listen(const std::string& socket_path, Store& store);
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
  PushServer(int fd, std::string path, Store& store) : lfd_(fd), path_(std::move(path)), store_(store) {}
  void accept_all();
  void on_readable(Conn& c);
  void on_frame(Conn& c, const ipc::FrameHeader& h, std::string_view payload);
  void on_stats(Conn& c, std::string_view text);
  void offer(Conn& c);  // queue the current generation when the node does not serve it
  void flush(Conn& c);
  void close_conn(Conn& c, const std::string& why);

  int lfd_ = -1;
  std::string path_;
  Store& store_;
  void queue(Conn& c, std::shared_ptr<const std::string> frame);
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t current_ = 0;
  std::shared_ptr<const std::string> frame_;  // the current generation, framed (shared by all)
  uint64_t stats_refused_ = 0;
};

}  // namespace mx::control
