// tests/e2e/smtp_loopback_server.cc — TEST-ONLY adapter: hosts smtp::ServerSession on a
// loopback kernel socket so that real SMTP clients (swaks, Python's smtplib, Postfix) can talk
// to the engine before the data plane's own TCP carries it. Not part of the product.
//
// Usage: smtp_loopback_server --spool DIR [--port N] [--hostname H] [--max-size BYTES]
//                             [--cert PEM --key PEM]   (STARTTLS offered when given)
//   Listens on 127.0.0.1:N (N = 0: any free port), prints "listening 127.0.0.1:PORT" on stdout,
//   writes each accepted message to DIR/NNNN.eml (bytes exactly as the engine delivered them)
//   and DIR/NNNN.env (MAIL FROM, RCPT TO lines), and stops on SIGTERM/SIGINT.
//   Recipients are accepted only in example.test (others: 550 5.7.1), "unknown*" users: 550.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "smtp/connection.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * mx::kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string spool;
  uint16_t port = 0;
  std::string hostname = "mx.loopback.test";
  uint64_t max_size = mx::smtp::kDefaultMaxMessageSize;
  std::string cert, key;
};

int g_seq = 0;

class Conn final : public mx::smtp::ServerHandler {
 public:
  Conn(int sock, const mx::smtp::ServerConfig& cfg, std::shared_ptr<const mx::smtp::TlsServerContext> tls,
       const Options& o)
      : fd(sock), opt(o), conn(cfg, std::move(tls), *this) {}
  int fd;
  const Options& opt;
  mx::smtp::ServerConnection conn;
  std::string body;
  std::string tls_line;

  void on_tls(const mx::smtp::TlsInfo& i) override {
    tls_line = "TLS " + i.protocol + " " + i.cipher + " sni=" + i.sni + " ja3=" + i.fingerprint_md5;
  }

  mx::smtp::Decision on_rcpt(const mx::smtp::Mailbox& m, const mx::smtp::RcptParams&) override {
    if (m.domain != "example.test") return mx::smtp::Decision::with(mx::smtp::reply(550, "5.7.1", "relay access denied"));
    if (m.local.rfind("unknown", 0) == 0) return mx::smtp::Decision::with(mx::smtp::reply(550, "5.1.1", "no such user"));
    return mx::smtp::Decision::accept();
  }
  std::optional<mx::smtp::Reply> on_data_begin() override {
    body.clear();
    return std::nullopt;
  }
  void on_data(mx::ByteSpan b) override { body.append(reinterpret_cast<const char*>(b.data()), b.size()); }
  mx::smtp::Decision on_end_of_data(const mx::smtp::EndOfData&) override {
    char name[32];
    std::snprintf(name, sizeof name, "%04d", ++g_seq);
    const mx::smtp::Transaction& t = conn.session().transaction();
    std::ofstream env(opt.spool + "/" + name + ".env", std::ios::binary);
    env << "MAIL FROM:<" << t.from.address() << ">" << (t.params.smtputf8 ? " SMTPUTF8" : "")
        << (t.params.body == mx::smtp::Body::k8BitMime ? " BODY=8BITMIME" : "") << (t.bdat ? " BDAT" : "") << "\n";
    for (const auto& r : t.rcpts) env << "RCPT TO:<" << r.mailbox.address() << ">\n";
    if (!tls_line.empty()) env << tls_line << "\n";
    std::ofstream(opt.spool + "/" + name + ".eml", std::ios::binary) << body;
    return mx::smtp::Decision::with(mx::smtp::reply(250, "2.0.0", std::string("Ok: queued as ") + name));
  }

  // Writes what the session has to say; false when the connection is finished.
  bool flush() {
    while (!conn.output().empty()) {
      ssize_t n = ::send(fd, conn.output().data(), conn.output().size(), MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN;
      conn.consume_output(static_cast<size_t>(n));
    }
    return !conn.wants_close();
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--spool") o.spool = v;
    else if (k == "--port") o.port = static_cast<uint16_t>(std::stoi(v));
    else if (k == "--hostname") o.hostname = v;
    else if (k == "--max-size") o.max_size = std::stoull(v);
    else if (k == "--cert") o.cert = v;
    else if (k == "--key") o.key = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.spool.empty()) {
    std::fprintf(stderr, "usage: smtp_loopback_server --spool DIR [--port N]\n");
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(o.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 128) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t alen = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &alen);
  std::printf("listening 127.0.0.1:%u\n", ntohs(a.sin_port));
  std::fflush(stdout);

  mx::smtp::ServerConfig cfg{o.hostname, o.max_size};
  std::shared_ptr<const mx::smtp::TlsServerContext> tls;
  if (!o.cert.empty()) {
    auto t = mx::smtp::TlsServerContext::load(o.cert, o.key);
    if (!t) {
      std::fprintf(stderr, "%s\n", t.error().message.c_str());
      return 1;
    }
    tls = *t;
  }
  std::vector<std::unique_ptr<Conn>> conns;
  while (!g_stop) {
    std::vector<pollfd> fds{{ls, POLLIN, 0}};
    for (auto& c : conns) fds.push_back({c->fd, static_cast<short>(POLLIN | (c->conn.output().empty() ? 0 : POLLOUT)), 0});
    ::poll(fds.data(), fds.size(), 200);
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(ls, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd >= 0) {
        conns.push_back(std::make_unique<Conn>(fd, cfg, tls, o));
        conns.back()->conn.start(mx::Tick{now_ns()});
      }
    }
    uint64_t t = now_ns();
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = *conns[i];
      bool alive = true;
      if (i + 1 < fds.size() && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[16384];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0 && !(n < 0 && errno == EAGAIN)) alive = false;
        // A held remainder (pending decision) cannot happen here: every decision is immediate.
        else if (n > 0) c.conn.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)), mx::Tick{t});
      }
      c.conn.tick(mx::Tick{t});
      if (!c.flush()) alive = false;
      if (!alive) {
        ::close(c.fd);
        conns.erase(conns.begin() + static_cast<long>(i--));
      }
    }
  }
  for (auto& c : conns) ::close(c->fd);
  ::close(ls);
  return 0;
}
