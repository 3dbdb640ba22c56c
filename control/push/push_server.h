// control/push/push_server.h — the side of mxgate-control that data planes connect to: a Unix
// socket speaking the IPC frames of ipc/frame.h. A node says hello with its name and the
// generation it serves; when that is not the current generation it is sent the current one; it
// answers ack (now serving) or nack (refused, with the reason, still serving the old one), and
// the store records either (control/store/store.h). A commit is pushed to every connected node.
//
// SECURITY: nodes are peers of the same operator, but their bytes are still parsed with bounds
// (ipc::FrameReader); the first bad frame closes that node's connection with the reason logged;
// a node that does not read is not given more than one snapshot at a time (a newer generation
// replaces one not yet started). The socket file is created mode 0600.
// STANDARDS: none (docs/ipc.md).
#pragma once

#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "control/store/store.h"
#include "ipc/frame.h"

namespace mx::control {

constexpr size_t kMaxNodes = 256;  // connections at once

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
  // A new current generation: pushed to every node that is not serving it.
  void publish(uint64_t generation, const std::string& document);
  size_t connected() const;

 private:
  struct Conn {
    int fd = -1;
    std::string name;         // from hello; empty before
    ipc::FrameReader reader;
    std::string out;          // frames being written
    size_t out_off = 0;
    uint64_t serving = 0;     // the generation the node says it serves
    uint64_t sent = 0;        // the newest generation put in `out`
  };
  PushServer(int fd, std::string path, Store& store) : lfd_(fd), path_(std::move(path)), store_(store) {}
  void accept_all();
  void on_readable(Conn& c);
  void on_frame(Conn& c, const ipc::FrameHeader& h, std::string_view payload);
  void offer(Conn& c);  // queue the current generation when the node does not serve it
  void flush(Conn& c);
  void close_conn(Conn& c, const std::string& why);

  int lfd_ = -1;
  std::string path_;
  Store& store_;
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t current_ = 0;
  std::string frame_;  // the current generation, framed
};

}  // namespace mx::control
