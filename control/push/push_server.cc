// control/push/push_server.cc — snapshots to data planes, their ACKs and NACKs
// (control/push/push_server.h).
#include "control/push/push_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace mx::control {
namespace {

uint64_t mono_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

Expected<int> listen_unix(const std::string& path) {
  sockaddr_un a{};
  if (path.size() >= sizeof a.sun_path) return Error{path + ": socket path too long"};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  ::unlink(path.c_str());  // a socket left by a previous run
  const mode_t old = ::umask(0177);
  const int b = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (b != 0 || ::listen(fd, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Error{path + ": " + why};
  }
  return fd;
}

Expected<std::unique_ptr<PushServer>> PushServer::listen(const std::string& socket_path, Store& store) {
  auto fd = listen_unix(socket_path);
  if (!fd) return fd.error();
  std::unique_ptr<PushServer> s(new PushServer(*fd, socket_path, store));
  store.all_nodes_gone();  // whatever was connected to a previous run is not connected to this one
  if (auto cur = store.current()) s->publish(cur->gen, cur->document);
  return s;
}

PushServer::~PushServer() {
  for (auto& c : conns_) ::close(c->fd);
  ::close(lfd_);
  ::unlink(path_.c_str());
}

size_t PushServer::connected() const {
  return static_cast<size_t>(
      std::count_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd >= 0 && !c->name.empty(); }));
}

std::vector<ipc::NodeStatsText> PushServer::node_stats() const {
  std::vector<ipc::NodeStatsText> out;
  for (const auto& c : conns_)
    if (c->fd >= 0 && !c->name.empty() && !c->stats.empty()) out.push_back(ipc::NodeStatsText{c->name, c->stats});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.node < b.node; });
  return out;
}

void PushServer::fill(std::vector<pollfd>& fds) const {
  fds.push_back(pollfd{lfd_, POLLIN, 0});
  // Not read while what it was sent is unwritten: a node that does not read cannot make
  // control queue answers for it.
  for (const auto& c : conns_)
    if (c->fd >= 0) fds.push_back(pollfd{c->fd, static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
}

void PushServer::sweep() {
  const uint64_t now = mono_ms();
  for (auto& c : conns_)
    if (c->fd >= 0 && c->name.empty() && now - c->since_ms > kHelloTimeoutMs) close_conn(*c, "no hello in time");
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
}

void PushServer::handle(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (!p.revents) continue;
    if (p.fd == lfd_) {
      accept_all();
      continue;
    }
    auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& c) { return c->fd == p.fd; });
    if (it == conns_.end()) continue;
    Conn& c = **it;
    if (p.revents & POLLOUT) flush(c);
    if (c.fd >= 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) on_readable(c);
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
}

void PushServer::accept_all() {
  while (true) {
    const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= kMaxNodes) {
      ::close(fd);
      std::fprintf(stderr, "mxgate-control: node connection refused: %zu nodes connected\n", conns_.size());
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->since_ms = mono_ms();
    conns_.push_back(std::move(c));
  }
}

void PushServer::on_readable(Conn& c) {
  char buf[kReadChunk];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);  // one chunk per round: a flood stalls only itself
  if (n == 0) return close_conn(c, "closed by the node");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return close_conn(c, std::strerror(errno));
  }
  size_t used = 0;
  while (c.fd >= 0 && used < static_cast<size_t>(n)) {
    used += c.reader.feed(ByteSpan(reinterpret_cast<const uint8_t*>(buf) + used, static_cast<size_t>(n) - used));
    if (c.reader.failed()) return close_conn(c, "protocol error: " + c.reader.error());
    ipc::FrameHeader h;
    std::string_view payload;
    while (c.fd >= 0 && c.reader.next(h, payload)) on_frame(c, h, payload);
  }
}

void PushServer::on_frame(Conn& c, const ipc::FrameHeader& h, std::string_view payload) {
  using T = ipc::FrameType;
  if (c.name.empty() && h.type != T::kHello) return close_conn(c, "protocol error: a frame before hello");
  switch (h.type) {
    case T::kHello:
      if (!c.name.empty()) return close_conn(c, "protocol error: a second hello");
      if (payload.empty() || payload.size() > kMaxNodeName ||
          payload.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
              std::string_view::npos)
        return close_conn(c, "protocol error: a node name of 1..64 letters, digits, '.', '-', '_' is expected");
      for (const auto& o : conns_)
        if (o.get() != &c && o->fd >= 0 && o->name == payload)
          return close_conn(c, "a node named '" + std::string(payload) + "' is already connected");
      c.name = payload;
      c.serving = h.seq;
      c.reader.accept(ipc::kControlAccepts & ~ipc::frame_bit(T::kHello));
      store_.node_connected(c.name, h.seq);
      std::fprintf(stderr, "mxgate-control: node %s connected, serving generation %llu\n", c.name.c_str(),
                   static_cast<unsigned long long>(h.seq));
      offer(c);
      break;
    case T::kAck:
      c.serving = h.seq;
      store_.node_acked(c.name, h.seq);
      std::fprintf(stderr, "mxgate-control: node %s serves generation %llu\n", c.name.c_str(),
                   static_cast<unsigned long long>(h.seq));
      break;
    case T::kNack:
      store_.node_nacked(c.name, h.seq, std::string(payload));
      std::fprintf(stderr, "mxgate-control: node %s refused generation %llu: %.*s\n", c.name.c_str(),
                   static_cast<unsigned long long>(h.seq), static_cast<int>(payload.size()), payload.data());
      break;
    case T::kPing:
      queue(c, std::make_shared<const std::string>(ipc::encode_frame(T::kPong, h.seq, "")));
      break;
    case T::kPong:
      break;
    case T::kLogBatch: {
      // Stored (de-duplicated by node and position) before the ACK: an unacknowledged batch is
      // sent again by the node, never lost.
      auto added = store_.add_log_batch(c.name, h.seq, payload);
      if (!added) return close_conn(c, "cannot store log records: " + added.error().message);
      queue(c, std::make_shared<const std::string>(ipc::encode_frame(T::kLogAck, h.seq + payload.size(), "")));
      break;
    }
    case T::kStats:
      on_stats(c, payload);
      break;
    default:
      return close_conn(c, std::string("protocol error: a ") + ipc::frame_type_name(h.type) + " frame from a node");
  }
  std::fflush(stderr);
}

void PushServer::on_stats(Conn& c, std::string_view text) {
  auto ok = ipc::parse_node_stats(text);
  if (!ok) {
    ++stats_refused_;
    c.stats.clear();
    if (!c.said_bad_stats)
      std::fprintf(stderr, "mxgate-control: node %s: stats refused (%s); its counters are left out of /metrics\n",
                   c.name.c_str(), ok.error().message.c_str());
    c.said_bad_stats = true;
    return;
  }
  c.stats.assign(text);
}

void PushServer::publish(uint64_t generation, const std::string& document) {
  current_ = generation;
  frame_ = std::make_shared<const std::string>(ipc::encode_frame(ipc::FrameType::kSnapshot, generation, document));
  for (auto& c : conns_)
    if (c->fd >= 0 && !c->name.empty()) offer(*c);
}

void PushServer::queue(Conn& c, std::shared_ptr<const std::string> frame) {
  c.out.push_back(std::move(frame));
  flush(c);
}

void PushServer::offer(Conn& c) {
  if (!current_ || c.serving == current_ || c.sent == current_) return;
  // One snapshot at a time: a newer one is queued when the one being written is out.
  if (c.sent && !c.out.empty()) return;
  c.sent = current_;
  queue(c, frame_);
}

void PushServer::flush(Conn& c) {
  while (c.fd >= 0 && !c.out.empty()) {
    const std::string& f = *c.out.front();
    const ssize_t n = ::write(c.fd, f.data() + c.out_off, f.size() - c.out_off);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      return close_conn(c, std::strerror(errno));
    }
    c.out_off += static_cast<size_t>(n);
    if (c.out_off == f.size()) {
      c.out.pop_front();
      c.out_off = 0;
    }
  }
  if (c.fd >= 0 && c.out.empty()) offer(c);  // a generation committed while the previous one was being written
}

void PushServer::close_conn(Conn& c, const std::string& why) {
  if (c.fd < 0) return;
  std::fprintf(stderr, "mxgate-control: node %s disconnected: %s\n", c.name.empty() ? "(unnamed)" : c.name.c_str(),
               why.c_str());
  std::fflush(stderr);
  if (!c.name.empty()) store_.node_gone(c.name);
  ::close(c.fd);
  c.fd = -1;
  c.out.clear();
  c.out_off = 0;
  std::string().swap(c.stats);  // a node gone has no current counters
}

}  // namespace mx::control
