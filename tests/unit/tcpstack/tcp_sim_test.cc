// Deterministic simulation: two stacks over a simulated link with seeded impairments. Random
// transfers in both directions must complete with identical bytes, both ends must finish the
// close handshake, and every buffer must come back to its pool. A failing seed is printed and
// reproduces exactly (MX_SIM_SEED=<n> runs only that seed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/unit/tcpstack/sim.h"
#include "tcpstack/tcp_services.h"
#include "tests/unit/tcpstack/tcp_apps.h"

namespace mx::test {
namespace {

using net::TcpConfig;
using net::TcpError;

TcpConfig sim_tcp_config() {
  TcpConfig c;
  c.max_conns = 64;
  c.rx_segs = 4096;
  c.blocks = 2048;
  c.rcv_buf = 128 * 1024;
  c.snd_buf = 128 * 1024;
  c.msl_ns = 10 * kNsPerSec;  // TIME-WAIT (2 MSL) must outlast the peer's backed-off FIN retransmissions
  c.rto.min_ns = 200 * kNsPerMs;
  return c;
}

struct Outcome {
  bool finished = false;
  std::string why;
};

// One connection from A to B; each side sends `bytes` and verifies what it receives.
Outcome run_transfer(uint64_t seed, const LinkModel& ab, const LinkModel& ba, uint64_t bytes,
                     const TcpConfig& tc = sim_tcp_config(), uint64_t limit_ns = 600 * kNsPerSec) {
  Sim sim(seed, ab, ba, tc);
  StreamServer server(sim.b().tcp(), bytes, seed * 3 + 2, bytes, seed * 3 + 1);
  auto l = sim.b().tcp().listen(Sim::kIpB, 9000, &server);
  if (!l) return {false, l.error().message};
  StreamPeer client(sim.a().tcp(), bytes, seed * 3 + 1, bytes, seed * 3 + 2);
  TcpError err;
  client.conn = sim.a().tcp().connect(Sim::kIpB, 9000, &client, nullptr, &err);
  if (!client.conn) return {false, "connect failed"};
  const bool ok = sim.run_until(
      [&] { return client.done() && server.peers.size() == 1 && server.peers[0]->done(); }, limit_ns);
  Outcome o;
  std::string s;
  s += "client sent=" + std::to_string(client.sent) + " recv=" + std::to_string(client.received) +
       " closed=" + std::to_string(client.closed) + " err=" + net::tcp_error_name(client.error) +
       " mismatch=" + std::to_string(client.mismatch);
  if (!server.peers.empty()) {
    const StreamPeer& p = *server.peers[0];
    s += "; server sent=" + std::to_string(p.sent) + " recv=" + std::to_string(p.received) +
         " closed=" + std::to_string(p.closed) + " err=" + net::tcp_error_name(p.error) +
         " mismatch=" + std::to_string(p.mismatch);
  }
  o.why = s;
  if (!ok) return o;
  if (client.mismatch || server.peers[0]->mismatch) return o;
  if (client.error != TcpError::kNone || server.peers[0]->error != TcpError::kNone) return o;
  // Let the last segments drain (TIME-WAIT already ended: on_closed came after it), then every
  // pool must be whole again.
  sim.run_until([] { return false; }, 3 * kNsPerSec);
  if (sim.oversize_frames) return {false, o.why + "; frames above the MTU: " + std::to_string(sim.oversize_frames)};
  for (int i = 0; i < 2; ++i) {
    const net::TcpLayer& t = sim.side(i).tcp();
    if (t.conn_count() != 0) return {false, o.why + "; connections left: " + std::to_string(t.conn_count())};
    if (t.blocks_available() != tc.blocks || t.rxsegs_available() != tc.rx_segs)
      return {false, o.why + "; pool leak"};
  }
  o.finished = true;
  return o;
}

struct Scenario {
  const char* name;
  LinkModel link;
  uint64_t bytes;
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> v;
  LinkModel clean;
  clean.delay_ns = 1 * kNsPerMs;
  v.push_back({"clean", clean, 4u << 20});
  LinkModel loss = clean;
  loss.impair.drop = 0.02;
  v.push_back({"loss2pct", loss, 1u << 20});
  LinkModel reorder = clean;
  reorder.impair.reorder = 0.05;
  reorder.reorder_ns = 3 * kNsPerMs;
  v.push_back({"reorder5pct", reorder, 2u << 20});
  LinkModel dup = clean;
  dup.impair.dup = 0.05;
  v.push_back({"dup5pct", dup, 2u << 20});
  LinkModel corrupt = clean;
  corrupt.impair.corrupt = 0.02;
  v.push_back({"corrupt2pct", corrupt, 1u << 20});
  LinkModel slow = clean;
  slow.delay_ns = 20 * kNsPerMs;
  slow.bandwidth_bps = 20'000'000;
  slow.queue_bytes = 64 * 1024;
  v.push_back({"20ms_20mbit_queue", slow, 1u << 20});
  LinkModel all = slow;
  all.impair = net::ImpairConfig{0.01, 0.01, 0.02, 0.01};
  all.reorder_ns = 5 * kNsPerMs;
  v.push_back({"everything", all, 1u << 20});
  return v;
}

TEST(TcpSim, TransfersCompleteUnderEachImpairmentAcrossSeeds) {
  const char* only = std::getenv("MX_SIM_SEED");
  const uint64_t first = only ? std::strtoull(only, nullptr, 10) : 1;
  const uint64_t last = only ? first : 12;
  for (const Scenario& sc : scenarios()) {
    for (uint64_t seed = first; seed <= last; ++seed) {
      const Outcome o = run_transfer(seed, sc.link, sc.link, sc.bytes);
      EXPECT_TRUE(o.finished) << sc.name << " seed " << seed << " (rerun: MX_SIM_SEED=" << seed << "): " << o.why;
    }
  }
}

TEST(TcpSim, SameSeedSameRun) {
  LinkModel m;
  m.delay_ns = 2 * kNsPerMs;
  m.impair = net::ImpairConfig{0.02, 0.01, 0.03, 0.01};
  auto trace = [&](uint64_t seed) {
    Sim sim(seed, m, m, sim_tcp_config());
    StreamServer server(sim.b().tcp(), 300000, 5, 300000, 4);
    (void)sim.b().tcp().listen(Sim::kIpB, 9000, &server);
    StreamPeer client(sim.a().tcp(), 300000, 4, 300000, 5);
    client.conn = sim.a().tcp().connect(Sim::kIpB, 9000, &client, nullptr, nullptr);
    sim.run_until([&] { return client.done(); }, 300 * kNsPerSec);
    return std::to_string(sim.now().ns) + "/" + std::to_string(sim.stats(0).frames) + "/" +
           std::to_string(sim.stats(1).frames) + "/" + std::to_string(sim.a().tcp().counters().tcp_retransmit);
  };
  const std::string a = trace(77), b = trace(77), c = trace(78);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);  // a different seed makes different decisions
}

// RFC 9293 3.4: sequence numbers wrap. Start both ISNs just below 2^32 and move more than 4 GiB
// so that every comparison crosses the wrap, and SYN/FIN land on either side of it.
TEST(TcpSim, SequenceWrapAroundWithMoreThan4GiB) {
  TcpConfig tc = sim_tcp_config();
  tc.isn_fixed = 0xFFFFF000u;
  tc.rcv_buf = tc.snd_buf = 1024 * 1024;
  tc.blocks = 4096;
  LinkModel m;
  const uint64_t bytes = (4ull << 30) + 12345;
  Sim sim(9, m, m, tc);
  StreamServer server(sim.b().tcp(), 0, 0, bytes, 11);
  ASSERT_TRUE(sim.b().tcp().listen(Sim::kIpB, 9000, &server));
  StreamPeer client(sim.a().tcp(), bytes, 11, 0, 0);
  client.conn = sim.a().tcp().connect(Sim::kIpB, 9000, &client, nullptr, nullptr);
  ASSERT_NE(client.conn, nullptr);
  ASSERT_TRUE(sim.run_until([&] { return client.done() && !server.peers.empty() && server.peers[0]->done(); },
                            3600 * kNsPerSec));
  EXPECT_EQ(server.peers[0]->received, bytes);
  EXPECT_FALSE(server.peers[0]->mismatch);
  EXPECT_EQ(server.peers[0]->error, TcpError::kNone);
}

// A bulk transfer with a small receive buffer exercises the window, zero windows and persist.
TEST(TcpSim, ZeroWindowAndPersistWithSlowReader) {
  TcpConfig tc = sim_tcp_config();
  tc.rcv_buf = 8 * 1024;
  tc.max_held_packets = 3;  // the rest of what waits must be copied, not pinned in the port's pool
  Sim sim(3, LinkModel{}, LinkModel{}, tc);
  struct SlowReader final : net::TcpListenHandler, net::TcpHandler {
    net::TcpLayer* tcp = nullptr;
    net::TcpConn* c = nullptr;
    uint64_t got = 0;
    bool peer_closed = false;
    void on_acceptable(net::TcpListener& l) override { c = tcp->accept(l, this); }
    void on_peer_closed(net::TcpConn&) override { peer_closed = true; }
    void on_closed(net::TcpConn&, TcpError) override { c = nullptr; }
  } reader;
  reader.tcp = &sim.b().tcp();
  ASSERT_TRUE(sim.b().tcp().listen(Sim::kIpB, 9000, &reader));
  StreamPeer client(sim.a().tcp(), 200000, 1, 0, 0);
  client.conn = sim.a().tcp().connect(Sim::kIpB, 9000, &client, nullptr, nullptr);
  // The reader does not read for a while: the window closes and the sender must probe.
  ASSERT_TRUE(sim.run_until([&] { return reader.c && sim.b().tcp().readable(*reader.c) >= 8 * 1024; }, 30 * kNsPerSec));
  sim.run_until([] { return false; }, 20 * kNsPerSec);
  EXPECT_GT(sim.a().tcp().counters().tcp_zero_window_probe, 0u);
  EXPECT_EQ(sim.b().tcp().packets_held(), 3u);
  EXPECT_GT(sim.b().tcp().counters().tcp_rx_copied_segments, 0u);
  // Now read slowly, 1 KiB per simulated 10 ms, and everything arrives in order.
  StreamGen gen(1);
  bool ok = true;
  while (!reader.peer_closed && sim.now().ns < 600 * kNsPerSec) {
    uint8_t buf[1024], want[1024];
    if (reader.c) {
      const uint32_t n = sim.b().tcp().read(*reader.c, buf, sizeof buf);
      gen.fill(reader.got, want, n);
      ok = ok && std::equal(buf, buf + n, want);
      reader.got += n;
    }
    sim.run_until([] { return false; }, 10 * kNsPerMs);
  }
  while (reader.c && sim.b().tcp().readable(*reader.c)) {
    uint8_t buf[1024], want[1024];
    const uint32_t n = sim.b().tcp().read(*reader.c, buf, sizeof buf);
    gen.fill(reader.got, want, n);
    ok = ok && std::equal(buf, buf + n, want);
    reader.got += n;
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(reader.got, 200000u);
  EXPECT_TRUE(reader.peer_closed);
}

// Many connections at once through one listener, each with its own data.
TEST(TcpSim, HundredConcurrentConnections) {
  TcpConfig tc = sim_tcp_config();
  tc.max_conns = 512;
  tc.blocks = 8192;
  tc.rx_segs = 16384;
  LinkModel m;
  m.delay_ns = 1 * kNsPerMs;
  m.impair.drop = 0.005;
  Sim sim(21, m, m, tc);
  StreamServer server(sim.b().tcp(), 20000, 8, 30000, 7);
  ASSERT_TRUE(sim.b().tcp().listen(Sim::kIpB, 9000, &server));
  std::vector<std::unique_ptr<StreamPeer>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<StreamPeer>(sim.a().tcp(), 30000, 7, 20000, 8));
    clients.back()->conn = sim.a().tcp().connect(Sim::kIpB, 9000, clients.back().get(), nullptr, nullptr);
    ASSERT_NE(clients.back()->conn, nullptr);
  }
  ASSERT_TRUE(sim.run_until([&] {
    if (server.peers.size() != clients.size()) return false;
    for (auto& c : clients) if (!c->done()) return false;
    for (auto& p : server.peers) if (!p->done()) return false;
    return true;
  }, 300 * kNsPerSec));
  for (auto& c : clients) EXPECT_FALSE(c->mismatch);
  for (auto& p : server.peers) EXPECT_FALSE(p->mismatch);
}

}  // namespace
}  // namespace mx::test

namespace mx::test {
namespace {

// The echo service forwards only what it can send, so its receive window closes while its
// peer keeps sending: ACKs must still get through both ways (segments whose data cannot be
// taken still carry ACKs), and SACK recovery must keep the transfer moving.
TEST(TcpSim, EchoServiceUnderImpairmentsNeverStalls) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    TcpConfig tc = sim_tcp_config();
    tc.rx_segs = 16384;
    tc.blocks = 8192;
    tc.rcv_buf = tc.snd_buf = 256 * 1024;
    tc.ooo_budget = 256 * 1024;
    LinkModel m;
    m.delay_ns = 50'000;
    m.impair = net::ImpairConfig{0.01, 0.005, 0.01, 0};
    m.reorder_ns = 100'000;
    Sim sim(seed, m, m, tc);
    net::TcpServices svc(sim.b().tcp());
    ASSERT_TRUE(svc.start(Sim::kIpB, net::kSvcEcho));
    const uint64_t n = 8u << 20;
    StreamPeer client(sim.a().tcp(), n, seed, n, seed);
    client.conn = sim.a().tcp().connect(Sim::kIpB, 7, &client, nullptr, nullptr);
    ASSERT_NE(client.conn, nullptr);
    EXPECT_TRUE(sim.run_until([&] { return client.received == n && client.peer_closed; }, 120 * kNsPerSec))
        << "seed " << seed << ": echoed " << client.received << " of " << n;
    EXPECT_FALSE(client.mismatch) << "seed " << seed;
    EXPECT_EQ(sim.oversize_frames, 0u);
    EXPECT_EQ(svc.stats().echo_bytes, n);
  }
}

}  // namespace
}  // namespace mx::test
