// control/push/push_server.cc — snapshots to data planes, their ACKs and NACKs, over the Unix
// socket or TCP with mutual TLS (control/push/push_server.h).
#include "control/push/push_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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
  if (b != 0 || ::listen(fd, kListenBacklog) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Error{path + ": " + why};
  }
  return fd;
}

Expected<std::pair<int, uint16_t>> listen_tcp(const std::string& address) {
  const auto a = TcpAddress::parse(address, true);
  if (!a) return Error{"'" + address + "' is not HOST:PORT with HOST an IPv4 address or a [bracketed] IPv6 one"};
  const int fd = ::socket(a->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{address + ": " + std::strerror(errno)};
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a restart while old connections linger
  if (a->v6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);  // exactly the address given
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::bind(fd, a->addr(), a->len) != 0 || ::listen(fd, kListenBacklog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Error{address + ": " + why};
  }
  const uint16_t port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                                                    : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return std::make_pair(fd, port);
}

std::string peer_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(s4->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(s6->sin6_port));
  }
  return "local";
}

Expected<std::unique_ptr<PushServer>> PushServer::listen(const std::string& socket_path, Store& store,
                                                         PushLimits limits) {
  auto fd = listen_unix(socket_path);
  if (!fd) return fd.error();
  std::unique_ptr<PushServer> s(new PushServer(*fd, socket_path, store, limits));
  store.all_nodes_gone();  // whatever was connected to a previous run is not connected to this one
  if (auto cur = store.current()) s->publish(cur->gen, cur->document);
  return s;
}

Expected<uint16_t> PushServer::listen_tls(const std::string& address, std::shared_ptr<const tls::Context> ctx) {
  if (tls_lfd_ >= 0) return Error{address + ": a TLS listener exists already"};
  auto l = listen_tcp(address);
  if (!l) return l.error();
  tls_lfd_ = l->first;
  tls_ctx_ = std::move(ctx);
  return l->second;
}

PushServer::~PushServer() {
  for (auto& c : conns_)
    if (c->fd >= 0) {
      if (c->tls) c->tls->close_notify();
      ::close(c->fd);
    }
  if (tls_lfd_ >= 0) ::close(tls_lfd_);
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
  if (tls_lfd_ >= 0) fds.push_back(pollfd{tls_lfd_, POLLIN, 0});
  // Not read while what it was sent is unwritten: a node that does not read cannot make
  // control queue answers for it. Over TLS, also what a read or write that could not finish
  // waits for (and during the handshake, only that).
  for (const auto& c : conns_) {
    if (c->fd < 0) continue;
    const short want = c->out.empty() ? POLLIN : POLLOUT;
    fds.push_back(pollfd{c->fd, c->tls ? c->tls->events(want) : want, 0});
  }
}

void PushServer::sweep() {
  const uint64_t now = mono_ms();
  for (auto& c : conns_) {
    if (c->fd < 0) continue;
    if (c->tls && !c->tls->established() && now - c->since_ms > limits_.handshake_ms)
      close_conn(*c, "TLS handshake not finished in time");
    else if (c->name.empty() && now - c->since_ms > limits_.hello_ms)
      close_conn(*c, "no hello in time");
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
}

void PushServer::handle(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (!p.revents) continue;
    if (p.fd == lfd_ || p.fd == tls_lfd_) {
      accept_all(p.fd);
      continue;
    }
    auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& c) { return c->fd == p.fd; });
    if (it == conns_.end()) continue;
    Conn& c = **it;
    if (c.tls && !c.tls->established()) {
      step_handshake(c);  // hello comes after it: the next round's POLLIN
      continue;
    }
    // A TLS write that waits for the peer's bytes is retried on POLLIN (only then: a node is not
    // read while what it was sent is unwritten); a TLS read that waits to write, on POLLOUT.
    const bool write_retry = c.tls && c.tls->write_wants_read() && !c.out.empty();
    const bool read_retry = c.tls && c.tls->read_wants_write() && (p.revents & POLLOUT);
    if ((p.revents & POLLOUT) || write_retry) flush(c);
    if (c.fd >= 0 && !write_retry && ((p.revents & (POLLIN | POLLHUP | POLLERR)) || read_retry)) on_readable(c);
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
}

void PushServer::accept_all(int lfd) {
  while (true) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= kMaxNodes) {
      ::close(fd);
      std::fprintf(stderr, "mxgate-control: node connection refused: %zu nodes connected\n", conns_.size());
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->since_ms = mono_ms();
    if (lfd == tls_lfd_) {
      c->peer = peer_text(ss);
      c->tls = tls::Stream::accept(tls_ctx_, fd);
      if (!c->tls) {
        ::close(fd);
        std::fprintf(stderr, "mxgate-control: node connection from %s refused: out of memory for TLS\n",
                     c->peer.c_str());
        continue;
      }
    }
    conns_.push_back(std::move(c));
  }
}

void PushServer::step_handshake(Conn& c) {
  const tls::Io io = c.tls->handshake();
  if (io == tls::Io::kAgain) return;
  if (io != tls::Io::kOk) return close_conn(c, "TLS handshake failed: " + c.tls->error());
  std::fprintf(stderr, "mxgate-control: node connection from %s: %s, certificate %s\n", c.peer.c_str(),
               c.tls->describe().c_str(), c.tls->peer_names().c_str());
  std::fflush(stderr);
}

void PushServer::on_readable(Conn& c) {
  char buf[kReadChunk];
  size_t got = 0;
  std::string err;
  // One chunk per round: a flood stalls only itself.
  const tls::Io io = tls::read_some(c.fd, c.tls.get(), buf, sizeof buf, got, err);
  if (io == tls::Io::kClosed) return close_conn(c, "closed by the node");
  if (io == tls::Io::kAgain) return;
  if (io == tls::Io::kError) return close_conn(c, err);
  size_t used = 0;
  while (c.fd >= 0 && used < got) {
    used += c.reader.feed(ByteSpan(reinterpret_cast<const uint8_t*>(buf) + used, got - used));
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
      // Over TLS the name is the certificate's: a node cannot speak for another.
      if (c.tls && !c.tls->peer_has_name(payload))
        return close_conn(c, "hello as '" + std::string(payload) + "', but its certificate names " +
                                 c.tls->peer_names());
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
    size_t n = 0;
    std::string err;
    const tls::Io io = tls::write_some(c.fd, c.tls.get(), f.data() + c.out_off, f.size() - c.out_off, n, err);
    if (io == tls::Io::kAgain) return;
    if (io != tls::Io::kOk) return close_conn(c, err);
    c.out_off += n;
    if (c.out_off == f.size()) {
      c.out.pop_front();
      c.out_off = 0;
    }
  }
  if (c.fd >= 0 && c.out.empty()) offer(c);  // a generation committed while the previous one was being written
}

void PushServer::close_conn(Conn& c, const std::string& why) {
  if (c.fd < 0) return;
  const std::string who = !c.name.empty() ? c.name : c.peer.empty() ? "(unnamed)" : "(unnamed, " + c.peer + ")";
  std::fprintf(stderr, "mxgate-control: node %s disconnected: %s\n", who.c_str(), why.c_str());
  std::fflush(stderr);
  if (!c.name.empty()) store_.node_gone(c.name);
  if (c.tls) {
    c.tls->close_notify();
    c.tls.reset();
  }
  ::close(c.fd);
  c.fd = -1;
  c.out.clear();
  c.out_off = 0;
  std::string().swap(c.stats);  // a node gone has no current counters
}

}  // namespace mx::control
