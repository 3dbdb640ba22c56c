// tcpstack/tcp_services.h — test services on the stack, for the lab and benchmarks: discard
// (RFC 863, port 9), echo (RFC 862, port 7), character generator (RFC 864, port 19), and a
// "source" that opens one connection and sends a given number of chargen bytes, then closes.
// Enabled per port by configuration; never on a production listener.
//
// SECURITY: peers are untrusted. Echo answers only as fast as the peer reads (it consumes what
// it could send); chargen stops when the peer closes; nothing here allocates per connection.
#pragma once

#include <cstdint>

#include "tcpstack/tcp.h"

namespace mx::net {

constexpr uint32_t kChargenLine = 74;    // 72 printable characters + CRLF
constexpr uint32_t kChargenPeriod = 95;  // lines before the pattern repeats
// Byte `offset` of the RFC 864 pattern.
uint8_t chargen_byte(uint64_t offset) noexcept;

enum TcpServiceMask : uint32_t { kSvcDiscard = 1, kSvcEcho = 2, kSvcChargen = 4 };

class TcpServices final : public TcpListenHandler {
 public:
  explicit TcpServices(TcpLayer& tcp) : tcp_(tcp) {}
  Expected<bool> start(Ipv4Addr addr, uint32_t mask);
  // Opens the source connection to dst:port that sends `bytes` chargen bytes and closes.
  bool start_source(Ipv4Addr dst, uint16_t port, uint64_t bytes);
  void on_acceptable(TcpListener& l) override;

  struct Stats {
    uint64_t accepted = 0, discard_bytes = 0, echo_bytes = 0, chargen_bytes = 0, source_bytes = 0;
    bool source_done = false, source_failed = false;
  };
  const Stats& stats() const noexcept { return st_; }

 private:
  struct Discard final : TcpHandler {
    TcpServices* s = nullptr;
    void on_data(TcpConn& c) override;
    void on_peer_closed(TcpConn& c) override;
    void on_closed(TcpConn&, TcpError) override {}
  };
  struct Echo final : TcpHandler {
    TcpServices* s = nullptr;
    void on_data(TcpConn& c) override { pump(c); }
    void on_writable(TcpConn& c) override { pump(c); }
    void on_peer_closed(TcpConn& c) override;
    void on_closed(TcpConn&, TcpError) override {}
    void pump(TcpConn& c);
  };
  struct Chargen final : TcpHandler {
    TcpServices* s = nullptr;
    void on_connected(TcpConn& c) override { pump(c); }
    void on_writable(TcpConn& c) override { pump(c); }
    void on_data(TcpConn& c) override;
    void on_peer_closed(TcpConn& c) override;
    void on_closed(TcpConn& c, TcpError e) override;
    void pump(TcpConn& c);
    bool source = false;
  };

  TcpLayer& tcp_;
  TcpListener* listeners_[3] = {nullptr, nullptr, nullptr};
  Discard discard_;
  Echo echo_;
  Chargen chargen_;
  Chargen source_;
  uint64_t source_left_ = 0;
  Stats st_;
};

}  // namespace mx::net
