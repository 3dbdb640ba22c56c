// tests/unit/tcpstack/tcp_script.h — packetdrill-style scripted tests: the test plays the peer,
// injects segments it builds byte by byte, and checks every segment our stack sends back.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tcpstack/stack.h"
#include "tcpstack/tcp_header.h"
#include "tests/unit/tcpstack/frames.h"

namespace mx::test {

struct Seg {
  uint16_t sport = 40000, dport = 2525;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t win = 65535;
  Bytes opts;  // raw option bytes (padded to 4 by inject)
  Bytes data;
  uint16_t urgent = 0;
};

struct Out {
  net::TcpSegment s;
  Bytes payload;
};

// Options helpers (raw bytes as the peer would send them).
Bytes opt_mss(uint16_t mss);
Bytes opt_ws(uint8_t shift);
Bytes opt_sack_perm();
Bytes opt_ts(uint32_t val, uint32_t ecr);
Bytes cat(std::initializer_list<Bytes> parts);

struct ScriptApp final : net::TcpListenHandler, net::TcpHandler {
  net::TcpLayer* tcp = nullptr;
  std::vector<net::TcpConn*> accepted;
  std::string events;
  Bytes data;
  net::TcpError error = net::TcpError::kNone;
  bool read_data = true;
  void on_acceptable(net::TcpListener& l) override {
    while (net::TcpConn* c = tcp->accept(l, this)) accepted.push_back(c);
    events += "accept;";
  }
  void on_connected(net::TcpConn&) override { events += "connected;"; }
  void on_data(net::TcpConn& c) override {
    events += "data;";
    if (!read_data) return;
    uint8_t buf[4096];
    while (uint32_t n = tcp->read(c, buf, sizeof buf)) data.insert(data.end(), buf, buf + n);
  }
  void on_writable(net::TcpConn&) override { events += "writable;"; }
  void on_peer_closed(net::TcpConn&) override { events += "peer_closed;"; }
  void on_closed(net::TcpConn&, net::TcpError e) override {
    events += std::string("closed:") + net::tcp_error_name(e) + ";";
    error = e;
  }
};

class TcpScript : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start();
  // Injects a segment from the peer (kPeerIp) to us.
  void inject(const Seg& s);
  // The TCP segments sent since the last call.
  std::vector<Out> out();
  // Moves the clock and runs the timers.
  void advance(uint64_t ns);
  // Listens on 2525 and completes a handshake from the peer (ISN 1000, options as given);
  // returns our ISN. The accepted connection is app.accepted.back().
  uint32_t establish(const Bytes& syn_opts = {}, uint16_t sport = 40000);
  net::TcpCounters& ctr() { return st->tcp().counters(); }

  net::StackConfig cfg = lab_stack_config();
  CaptureNetif netif{kOurMac};
  std::unique_ptr<net::NetStack> st;
  ScriptApp app;
  net::TcpListener* listener = nullptr;
  uint64_t now = 1'000'000'000;
};

}  // namespace mx::test
