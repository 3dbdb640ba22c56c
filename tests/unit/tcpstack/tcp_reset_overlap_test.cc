// tests/unit/tcpstack/tcp_reset_overlap_test.cc — regression tests for the security review's two
// TCP reports (a RST at RCV.NXT then silence; conflicting overlaps "not echoed"), packetdrill
// style on tcp_script.h: no lingering TCB and no RST rate limit after a reset; TIME-WAIT answers
// data with an ACK (it was silent for 2 MSL); conflicting overlaps are ACKed, first arrival
// wins; data that arrived before accept() is announced (accept linked it through the wrong
// pointer); the ARP limitation for a reply to an expired neighbour.
#include <cstring>
#include <string>

#include "tests/unit/tcpstack/tcp_script.h"

namespace mx::test {
namespace {

using net::TcpState;
constexpr uint8_t SYN = net::kTcpSyn, ACK = net::kTcpAck, RST = net::kTcpRst, FIN = net::kTcpFin, PSH = net::kTcpPsh;

Bytes str(const char* s) { return Bytes(s, s + std::strlen(s)); }
std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Report 1. The RST takes the TCB out of the table before on_closed even runs (conn_free ->
// table_erase), whatever the application does; the next segment meets the listener.
TEST_F(TcpScript, ResetAtRcvNxtRemovesTheTcbAtOnceAndTheNextSegmentGetsAReset) {
  app.read_data = false;  // bytes left unread, the application never closes: no difference
  const uint32_t iss = establish();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | PSH, 65535, {}, str("hi")});
  out();
  inject(Seg{40000, 2525, 1003, 0, RST, 65535, {}, {}});  // exactly RCV.NXT
  EXPECT_TRUE(out().empty());
  EXPECT_NE(app.events.find("closed:reset"), std::string::npos);
  EXPECT_EQ(st->tcp().find(net::FourTuple{kOurIp, kPeerIp, 2525, 40000}), nullptr);
  EXPECT_EQ(st->tcp().conn_count(), 0u);  // reaped at the end of that same input
  // ACK-bearing data on the same tuple: the port listens, so RFC 9293 3.10.7.2 (second):
  // <SEQ=SEG.ACK><CTL=RST>, every time (resets are not rate-limited).
  for (uint32_t i = 0; i < 3; ++i) {
    inject(Seg{40000, 2525, 1003, iss + 1 + i, ACK | PSH, 65535, {}, str("more")});
    auto o = out();
    ASSERT_EQ(o.size(), 1u) << i;
    EXPECT_EQ(o[0].s.flags, RST);
    EXPECT_EQ(o[0].s.seq.v, iss + 1 + i);
  }
  EXPECT_EQ(ctr().tcp_drop_listen, 3u);
  EXPECT_EQ(ctr().tcp_rst_out, 3u);
  // Without ACK it is dropped in silence, as RFC 9293 3.10.7.2 (fourth) says and Linux does;
  // with none of SYN/FIN/RST/ACK (PSH-only data) it never passes the header check.
  inject(Seg{40000, 2525, 1003, 0, FIN, 65535, {}, str("more")});
  EXPECT_TRUE(out().empty());
  EXPECT_EQ(ctr().tcp_drop_listen, 4u);
  inject(Seg{40000, 2525, 1003, 0, PSH, 65535, {}, str("more")});
  EXPECT_TRUE(out().empty());
  EXPECT_EQ(ctr().tcp_drop_bad_flags, 1u);
}

TEST_F(TcpScript, ResetTupleIsAnsweredWithResetEvenDuringTheSynCookieWindow) {
  const uint32_t iss = establish();
  for (uint16_t p = 0; p < cfg.tcp.syn_backlog; ++p)
    inject(Seg{static_cast<uint16_t>(41000 + p), 2525, 1000, 0, SYN, 65535, {}, {}});
  inject(Seg{42000, 2525, 7000, 0, SYN, 65535, {}, {}});  // SYN queue full: a cookie
  out();
  ASSERT_EQ(ctr().tcp_syncookie_sent, 1u);
  inject(Seg{40000, 2525, 1001, 0, RST, 65535, {}, {}});
  EXPECT_NE(app.events.find("closed:reset"), std::string::npos);
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | PSH, 65535, {}, str("data")});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, RST);
  EXPECT_EQ(o[0].s.seq.v, iss + 1);
  EXPECT_EQ(ctr().tcp_syncookie_bad, 1u);  // tried as a cookie ACK, refused, then answered
}

// The one state where our stack both keeps the TCB after an exact RST (RFC 1337) and then said
// nothing to data: TIME-WAIT (2 MSL = 60 s with the lab's msl_s = 30).
TEST_F(TcpScript, TimeWaitAnswersDataWithAnAckNotSilence) {
  const uint32_t iss = establish();
  net::TcpConn* c = app.accepted[0];
  st->tcp().close(*c);
  out();
  inject(Seg{40000, 2525, 1001, iss + 2, ACK, 65535, {}, {}});
  inject(Seg{40000, 2525, 1001, iss + 2, ACK | FIN, 65535, {}, {}});
  ASSERT_EQ(c->state, TcpState::kTimeWait);
  out();
  inject(Seg{40000, 2525, 1002, 0, RST, 65535, {}, {}});  // RFC 1337: TIME-WAIT stays
  EXPECT_EQ(c->state, TcpState::kTimeWait);
  EXPECT_TRUE(out().empty());
  inject(Seg{40000, 2525, 1002, iss + 2, ACK | PSH, 65535, {}, str("late")});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);  // before the fix: nothing, for the rest of 2 MSL
  EXPECT_EQ(o[0].s.flags, ACK);
  EXPECT_EQ(o[0].s.seq.v, iss + 2);
  EXPECT_EQ(o[0].s.ack.v, 1002u);
  inject(Seg{40000, 2525, 1002, iss + 2, ACK, 65535, {}, {}});  // a repeated bare ACK: no reply
  EXPECT_TRUE(out().empty());
  inject(Seg{40000, 2525, 900, iss + 2, ACK, 65535, {}, {}});  // left of the window: ACKed
  EXPECT_EQ(out().size(), 1u);
  for (int i = 0; i < 20; ++i) inject(Seg{40000, 2525, 1002, iss + 2, ACK, 65535, {}, str("x")});
  EXPECT_EQ(out().size(), net::kTcpChallengeAckPerSec - 2);  // same budget as challenge ACKs
  EXPECT_EQ(c->state, TcpState::kTimeWait);
}

// Report 2. tcp_rxq.cc's rule: the first arrival of each sequence number wins; what is new in a
// conflicting segment is delivered; every segment is acknowledged (duplicates and out-of-order
// data at once, new in-order data within the delayed-ACK time).
TEST_F(TcpScript, ConflictingOverlapsKeepFirstArrivalDeliverTheNewBytesAndAreAllAcked) {
  const uint32_t iss = establish(cat({opt_sack_perm()}));
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, str("hello")});
  EXPECT_TRUE(out().empty());  // delayed ACK
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, str("XXXXXworld")});  // 5 old (other bytes) + 5 new
  EXPECT_EQ(text(app.data), "helloworld");
  auto o = out();
  ASSERT_EQ(o.size(), 1u);  // the second segment: ACK now
  EXPECT_EQ(o[0].s.ack.v, 1011u);
  inject(Seg{40000, 2525, 1003, iss + 1, ACK, 65535, {}, str("ZZZZ")});  // entirely old, conflicting
  EXPECT_EQ(text(app.data), "helloworld");
  o = out();
  ASSERT_EQ(o.size(), 1u);  // answered at once
  EXPECT_EQ(o[0].s.ack.v, 1011u);
  inject(Seg{40000, 2525, 1008, iss + 1, ACK, 65535, {}, str("YYY!!!")});  // 3 old + 3 new
  EXPECT_EQ(text(app.data), "helloworld!!!");
  EXPECT_TRUE(out().empty());
  advance(50 * kNsPerMs);
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1014u);
  // Out of order, overlapping each other with conflicting bytes, then the hole is filled by a
  // segment that overlaps them too.
  inject(Seg{40000, 2525, 1020, iss + 1, ACK, 65535, {}, str("CCCC")});  // [1020,1024)
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1014u);
  ASSERT_EQ(o[0].s.opt.sack_count, 1);
  EXPECT_EQ(o[0].s.opt.sack[0].left.v, 1020u);
  EXPECT_EQ(o[0].s.opt.sack[0].right.v, 1024u);
  inject(Seg{40000, 2525, 1018, iss + 1, ACK, 65535, {}, str("ddxxxxdd")});  // [1018,1026): only the edges are new
  o = out();
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].s.opt.sack_count, 1);
  EXPECT_EQ(o[0].s.opt.sack[0].left.v, 1018u);
  EXPECT_EQ(o[0].s.opt.sack[0].right.v, 1026u);
  inject(Seg{40000, 2525, 1020, iss + 1, ACK, 65535, {}, str("QQ")});  // inside held data
  o = out();
  ASSERT_EQ(o.size(), 1u);  // a duplicate out of order: ACKed at once too
  EXPECT_EQ(o[0].s.ack.v, 1014u);
  inject(Seg{40000, 2525, 1014, iss + 1, ACK, 65535, {}, str("eeeeyyyy")});  // fills [1014,1018)
  EXPECT_EQ(text(app.data), "helloworld!!!eeeeddCCCCdd");
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1026u);
  EXPECT_EQ(o[0].s.opt.sack_count, 0);
  EXPECT_EQ(app.accepted[0]->ooo_head, nullptr);
  EXPECT_EQ(app.accepted[0]->ooo_bytes, 0u);
}

// A copy of an earlier segment with its TSval kept (what a replaying tool sends) is older than
// TS.Recent: RFC 7323 5.3 drops it with an ACK, so nothing of it is echoed. Expected behaviour.
TEST_F(TcpScript, OverlappingRetransmissionWithAnOlderTimestampIsDroppedButAcked) {
  const uint32_t iss = establish(cat({opt_ts(100, 0)}));
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, opt_ts(200, 0), str("abc")});
  inject(Seg{40000, 2525, 1004, iss + 1, ACK, 65535, opt_ts(201, 0), str("def")});
  out();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, opt_ts(200, 0), str("XYZUVWghi")});
  EXPECT_EQ(text(app.data), "abcdef");
  EXPECT_EQ(ctr().tcp_drop_paws, 1u);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1007u);
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, opt_ts(202, 0), str("XYZUVWghi")});
  EXPECT_EQ(text(app.data), "abcdefghi");  // a current TSval: only "ghi" is new
}

// accept() linked a connection into the pending-event list through `next` (not pending_next)
// without kCfPending: with two connections accepted in one on_acceptable, the first one's
// "data arrived before accept" event was lost (tcp_listen.cc accept()).
struct DeferringListener final : net::TcpListenHandler {
  net::TcpLayer* tcp = nullptr;
  ScriptApp* app = nullptr;
  bool ready = false;
  void on_acceptable(net::TcpListener& l) override {
    if (!ready) return;
    while (net::TcpConn* c = tcp->accept(l, app)) app->accepted.push_back(c);
  }
};

TEST_F(TcpScript, DataThatArrivedBeforeAcceptIsAnnouncedForEveryAcceptedConnection) {
  DeferringListener lh;
  lh.tcp = &st->tcp();
  lh.app = &app;
  ASSERT_TRUE(st->tcp().listen(kOurIp, 2525, &lh));
  auto handshake_with_data = [&](uint16_t sport, const char* data) {
    inject(Seg{sport, 2525, 1000, 0, SYN, 65535, {}, {}});
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    inject(Seg{sport, 2525, 1001, o[0].s.seq.v + 1, ACK | PSH, 65535, {}, str(data)});
  };
  handshake_with_data(40001, "aaa");  // waits in the accept queue
  lh.ready = true;
  handshake_with_data(40002, "bbb");  // both accepted in one on_acceptable
  ASSERT_EQ(app.accepted.size(), 2u);
  EXPECT_EQ(app.data.size(), 6u);
  EXPECT_NE(text(app.data).find("aaa"), std::string::npos);  // before the fix: only "bbb"
  EXPECT_NE(text(app.data).find("bbb"), std::string::npos);
}

// Characterisation, not a fix: a reset for a tuple without a TCB is stateless, so when the
// neighbour entry is missing or older than arp_reachable (learned only from ARP, never refreshed
// by IP traffic) the frame is replaced by an ARP request and nothing ever sends it again.
TEST_F(TcpScript, ResetForAClosedTupleIsLostWhenTheNeighbourEntryHasExpired) {
  const uint32_t iss = establish();
  now += 61 * kNsPerSec;  // lab_stack_config: arp_reachable 60 s; no ARP heard since start()
  inject(Seg{40000, 2525, 1001, 0, RST, 65535, {}, {}});
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | PSH, 65535, {}, str("data")});
  EXPECT_TRUE(out().empty());
  EXPECT_EQ(ctr().tcp_drop_listen, 1u);
  EXPECT_EQ(ctr().tcp_tx_fail, 1u);
  EXPECT_EQ(st->counters().arp_request_out, 1u);
}

}  // namespace
}  // namespace mx::test
