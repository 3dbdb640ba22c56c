// tests/unit/tcpstack/tcp_apps.h — small applications for TCP tests over the simulator: an
// endpoint that sends a deterministic stream, verifies the stream it receives byte by byte, then
// half-closes; and a listener that accepts into such endpoints.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "tcpstack/tcp.h"
#include "tests/unit/tcpstack/sim.h"

namespace mx::test {

struct StreamPeer final : net::TcpHandler {
  StreamPeer(net::TcpLayer& l, uint64_t send_bytes, uint64_t send_seed, uint64_t expect_bytes, uint64_t expect_seed)
      : tcp(l), to_send(send_bytes), out(send_seed), expect(expect_bytes), in(expect_seed) {}

  net::TcpLayer& tcp;
  net::TcpConn* conn = nullptr;
  uint64_t to_send, sent = 0;
  StreamGen out;
  uint64_t expect, received = 0;
  StreamGen in;
  bool connected = false, peer_closed = false, closed = false, shut = false, mismatch = false;
  bool close_on_peer_close = false;  // close() (rather than wait) once the peer finished
  net::TcpError error = net::TcpError::kNone;
  uint64_t mismatch_at = 0;

  void pump() {
    uint8_t buf[8192];
    while (conn && sent < to_send) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(sizeof buf, to_send - sent));
      out.fill(sent, buf, n);
      const uint32_t k = tcp.send(*conn, {buf, n});
      sent += k;
      if (k < n) return;
    }
    if (conn && sent == to_send && !shut) {
      shut = true;
      tcp.shutdown_write(*conn);
    }
  }
  void on_connected(net::TcpConn&) override {
    connected = true;
    pump();
  }
  void on_writable(net::TcpConn&) override { pump(); }
  void on_data(net::TcpConn& c) override {
    uint8_t want[4096];
    for (ByteSpan s = tcp.peek(c); !s.empty(); s = tcp.peek(c)) {
      const uint32_t n = static_cast<uint32_t>(std::min<size_t>(s.size(), sizeof want));
      in.fill(received, want, n);
      if (!mismatch && !std::equal(want, want + n, s.data())) {
        mismatch = true;
        mismatch_at = received;
      }
      received += n;
      tcp.consume(c, n);
    }
  }
  void on_peer_closed(net::TcpConn& c) override {
    peer_closed = true;
    if (close_on_peer_close) {
      tcp.close(c);
      conn = nullptr;
      closed = true;
    }
  }
  void on_closed(net::TcpConn&, net::TcpError e) override {
    closed = true;
    error = e;
    conn = nullptr;
  }
  bool done() const { return closed && received == expect && sent == to_send; }
};

// Accepts every connection into a StreamPeer made by `make`.
struct StreamServer final : net::TcpListenHandler {
  net::TcpLayer& tcp;
  uint64_t send_bytes, send_seed, expect_bytes, expect_seed;
  std::vector<std::unique_ptr<StreamPeer>> peers;

  StreamServer(net::TcpLayer& l, uint64_t sb, uint64_t ss, uint64_t eb, uint64_t es)
      : tcp(l), send_bytes(sb), send_seed(ss), expect_bytes(eb), expect_seed(es) {}
  void on_acceptable(net::TcpListener& l) override {
    while (true) {
      auto p = std::make_unique<StreamPeer>(tcp, send_bytes, send_seed, expect_bytes, expect_seed);
      net::TcpConn* c = tcp.accept(l, p.get());
      if (!c) return;
      p->conn = c;
      p->connected = true;
      p->pump();
      peers.push_back(std::move(p));
    }
  }
};

}  // namespace mx::test
