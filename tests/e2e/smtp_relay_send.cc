// tests/e2e/smtp_relay_send.cc — TEST-ONLY: drives smtp::ClientSession over a loopback kernel
// socket to deliver one message to a real SMTP server (Postfix's smtp-sink, aiosmtpd), the way
// the data plane will over tcpstack. Prints the result on one line.
//
// Usage: smtp_relay_send --port N --from ADDR --to ADDR[,ADDR...] --body FILE
//        [--tls none|opportunistic|required|verify] [--ca PEM] [--server-name NAME]
//        [--no-pipelining] [--no-chunking] [--smtputf8]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "smtp/client.h"

namespace {
uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * mx::kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}
const char* outcome_name(mx::smtp::ClientResult::Outcome o) {
  switch (o) {
    case mx::smtp::ClientResult::Outcome::kDelivered: return "delivered";
    case mx::smtp::ClientResult::Outcome::kTempFail: return "tempfail";
    case mx::smtp::ClientResult::Outcome::kPermFail: return "permfail";
    default: return "pending";
  }
}
}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 0;
  std::string body_file, ca;
  mx::smtp::ClientConfig cfg;
  cfg.helo_name = "relay.mxgate.test";
  mx::smtp::ClientMessage msg;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--port") port = static_cast<uint16_t>(std::stoi(val()));
    else if (k == "--from") msg.from = val();
    else if (k == "--to") {
      std::stringstream ss(val());
      for (std::string a; std::getline(ss, a, ',');) msg.rcpts.push_back({a, {}});
    } else if (k == "--body") body_file = val();
    else if (k == "--ca") ca = val();
    else if (k == "--server-name") cfg.server_name = val();
    else if (k == "--no-pipelining") cfg.use_pipelining = false;
    else if (k == "--no-chunking") cfg.use_chunking = false;
    else if (k == "--smtputf8") msg.params.smtputf8 = true;
    else if (k == "--tls") {
      std::string t = val();
      cfg.tls = t == "none" ? mx::smtp::TlsPolicy::kNone : t == "required" ? mx::smtp::TlsPolicy::kRequired
              : t == "verify" ? mx::smtp::TlsPolicy::kRequiredVerify : mx::smtp::TlsPolicy::kOpportunistic;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::ifstream in(body_file, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  msg.body = mx::ByteSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  auto tls = mx::smtp::TlsClientContext::create(ca);
  if (!tls) {
    std::fprintf(stderr, "%s\n", tls.error().message.c_str());
    return 1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  mx::smtp::ClientSession s(cfg, *tls, msg);
  const uint64_t give_up = now_ns() + 60 * mx::kNsPerSec;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    s.on_closed(mx::Tick{now_ns()});
  } else {
    s.start(mx::Tick{now_ns()});
    while (now_ns() < give_up) {
      while (!s.output().empty()) {
        ssize_t n = ::send(fd, s.output().data(), s.output().size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        s.consume_output(static_cast<size_t>(n));
      }
      if (s.wants_close()) break;
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 200);
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[16384];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) s.on_closed(mx::Tick{now_ns()});
        else s.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)), mx::Tick{now_ns()});
      }
      s.tick(mx::Tick{now_ns()});
    }
  }
  ::close(fd);
  const mx::smtp::ClientResult& r = s.result();
  std::string rc;
  for (const auto& x : r.rcpt_replies) rc += (rc.empty() ? "" : ",") + std::to_string(x.code);
  std::printf("outcome=%s reply=%u stage=%s rcpt=%s tls=%s text=%s\n", outcome_name(r.outcome), r.reply.code,
              r.stage.c_str(), rc.c_str(), r.tls ? r.tls_info.protocol.c_str() : "none", r.reply.text.c_str());
  return r.outcome == mx::smtp::ClientResult::Outcome::kDelivered ? 0 : 3;
}
