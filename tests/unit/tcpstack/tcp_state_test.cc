// State x event matrix, packetdrill style: for each state, the segments that matter (SYN, RST,
// ACK in and out of range, data, FIN, old timestamps) and exactly what we answer (RFC 9293
// 3.10.7, RFC 5961, RFC 7323, RFC 4987, RFC 6191, RFC 1337, RFC 1191).
#include "tests/unit/tcpstack/tcp_script.h"

#include "tcpstack/ethernet.h"
#include "tcpstack/icmp.h"
#include "tcpstack/ipv4.h"

namespace mx::test {
namespace {

using net::TcpState;
constexpr uint8_t SYN = net::kTcpSyn, ACK = net::kTcpAck, RST = net::kTcpRst, FIN = net::kTcpFin, PSH = net::kTcpPsh;

TEST_F(TcpScript, PassiveOpenNegotiatesEveryOptionTheSynOffered) {
  ASSERT_TRUE(st->tcp().listen(kOurIp, 2525, &app));
  inject(Seg{40000, 2525, 1000, 0, SYN, 65535, cat({opt_mss(1400), opt_sack_perm(), opt_ts(77, 0), opt_ws(7)}), {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  EXPECT_EQ(o[0].s.seq.v, 5000u);
  EXPECT_EQ(o[0].s.ack.v, 1001u);
  EXPECT_EQ(o[0].s.opt.mss, 1460);
  EXPECT_TRUE(o[0].s.opt.sack_permitted);
  EXPECT_TRUE(o[0].s.opt.has_timestamps);
  EXPECT_EQ(o[0].s.opt.ts_ecr, 77u);
  EXPECT_EQ(o[0].s.opt.wscale, 0);
  EXPECT_EQ(app.accepted.size(), 0u);  // not before the handshake completes
  inject(Seg{40000, 2525, 1001, 5001, ACK, 512, opt_ts(78, o[0].s.opt.ts_val), {}});
  ASSERT_EQ(app.accepted.size(), 1u);
  net::TcpConn& c = *app.accepted[0];
  EXPECT_EQ(c.state, TcpState::kEstablished);
  EXPECT_EQ(c.snd_wnd, 512u << 7);       // the peer's shift applies after the SYN
  EXPECT_EQ(c.mss, 1400 - 12);           // the peer's MSS, less the timestamp option
  EXPECT_TRUE(c.has(net::kCfSack));
}

TEST_F(TcpScript, SynWithoutOptionsGetsOnlyMss) {
  ASSERT_TRUE(st->tcp().listen(kOurIp, 2525, &app));
  inject(Seg{40000, 2525, 1000, 0, SYN, 65535, {}, {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.opt.mss, 1460);
  EXPECT_FALSE(o[0].s.opt.sack_permitted);
  EXPECT_FALSE(o[0].s.opt.has_timestamps);
  EXPECT_EQ(o[0].s.opt.wscale, -1);
  EXPECT_EQ(o[0].s.header_len, 24);
}

TEST_F(TcpScript, RetransmittedSynRepeatsTheSynAckAndRtoRepeatsItToo) {
  ASSERT_TRUE(st->tcp().listen(kOurIp, 2525, &app));
  inject(Seg{40000, 2525, 1000, 0, SYN, 65535, {}, {}});
  ASSERT_EQ(out().size(), 1u);
  inject(Seg{40000, 2525, 1000, 0, SYN, 65535, {}, {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  EXPECT_EQ(o[0].s.seq.v, 5000u);
  advance(1100 * kNsPerMs);  // initial RTO 1 s
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  // Nobody completes it: after the SYN retries the half-open connection disappears quietly.
  for (int i = 0; i < 8; ++i) advance(64 * kNsPerSec);
  EXPECT_EQ(st->tcp().conn_count(), 0u);
  EXPECT_EQ(app.accepted.size(), 0u);
}

TEST_F(TcpScript, NoListenerAnswersWithReset) {
  inject(Seg{40000, 9999, 1000, 0, SYN, 65535, {}, {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, RST | ACK);
  EXPECT_EQ(o[0].s.seq.v, 0u);
  EXPECT_EQ(o[0].s.ack.v, 1001u);
  inject(Seg{40000, 9999, 1000, 777, ACK, 65535, {}, {1, 2, 3}});
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, RST);
  EXPECT_EQ(o[0].s.seq.v, 777u);
  inject(Seg{40000, 9999, 1000, 0, RST, 65535, {}, {}});
  EXPECT_TRUE(out().empty());  // never answer a reset
  EXPECT_EQ(ctr().tcp_drop_no_conn, 3u);
}

TEST_F(TcpScript, DataIsDeliveredInOrderAndAcknowledged) {
  const uint32_t iss = establish();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | PSH, 65535, {}, {'h', 'e', 'l', 'l', 'o'}});
  EXPECT_EQ(std::string(app.data.begin(), app.data.end()), "hello");
  EXPECT_TRUE(out().empty());  // a delayed ACK
  advance(50 * kNsPerMs);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1006u);
  EXPECT_EQ(ctr().tcp_delayed_ack, 1u);
}

TEST_F(TcpScript, OutOfOrderDataIsHeldAndSackedThenDelivered) {
  const uint32_t iss = establish(cat({opt_sack_perm()}));
  inject(Seg{40000, 2525, 1004, iss + 1, ACK, 65535, {}, {'d', 'e', 'f'}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);  // immediate duplicate ACK with a SACK block
  EXPECT_EQ(o[0].s.ack.v, 1001u);
  ASSERT_EQ(o[0].s.opt.sack_count, 1);
  EXPECT_EQ(o[0].s.opt.sack[0].left.v, 1004u);
  EXPECT_EQ(o[0].s.opt.sack[0].right.v, 1007u);
  EXPECT_TRUE(app.data.empty());
  // Overlap with conflicting bytes: what arrived first wins (tcp_rxq.cc).
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, {'a', 'b', 'c', 'X', 'Y'}});
  EXPECT_EQ(std::string(app.data.begin(), app.data.end()), "abcdef");
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1007u);
  EXPECT_EQ(o[0].s.opt.sack_count, 0);
}

TEST_F(TcpScript, Rfc5961ResetHandling) {
  const uint32_t iss = establish();
  // Out of window: dropped without a word.
  inject(Seg{40000, 2525, 1001 + 100000, 0, RST, 65535, {}, {}});
  EXPECT_TRUE(out().empty());
  // In the window but not exactly RCV.NXT: challenge ACK, connection lives.
  inject(Seg{40000, 2525, 1001 + 10, 0, RST, 65535, {}, {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, ACK);
  EXPECT_EQ(o[0].s.ack.v, 1001u);
  EXPECT_EQ(o[0].s.seq.v, iss + 1);
  EXPECT_EQ(app.accepted[0]->state, TcpState::kEstablished);
  // Exactly RCV.NXT: the connection is reset.
  inject(Seg{40000, 2525, 1001, 0, RST, 65535, {}, {}});
  EXPECT_TRUE(out().empty());
  EXPECT_NE(app.events.find("closed:reset"), std::string::npos);
  EXPECT_EQ(ctr().tcp_rst_in, 1u);
}

TEST_F(TcpScript, Rfc5961SynInEstablishedGetsRateLimitedChallengeAcks) {
  establish();
  for (int i = 0; i < 25; ++i) inject(Seg{40000, 2525, 1001 + static_cast<uint32_t>(i), 0, SYN, 65535, {}, {}});
  auto o = out();
  EXPECT_EQ(o.size(), net::kTcpChallengeAckPerSec);
  for (const Out& x : o) EXPECT_EQ(x.s.flags, ACK);
  EXPECT_EQ(ctr().tcp_challenge_ack_limited, 25u - net::kTcpChallengeAckPerSec);
  EXPECT_EQ(app.accepted[0]->state, TcpState::kEstablished);
  advance(1 * kNsPerSec);  // a new second, a new allowance
  inject(Seg{40000, 2525, 1001, 0, SYN, 65535, {}, {}});
  EXPECT_EQ(out().size(), 1u);
}

TEST_F(TcpScript, Rfc5961AcksOutOfRangeAreChallengedAndIgnored) {
  const uint32_t iss = establish();
  inject(Seg{40000, 2525, 1001, iss + 1 + 5000, ACK, 65535, {}, {'x'}});  // acks data never sent
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1001u);  // the data was not taken
  EXPECT_TRUE(app.data.empty());
  EXPECT_EQ(ctr().tcp_drop_bad_ack, 1u);
  inject(Seg{40000, 2525, 1001, iss - 200000, ACK, 65535, {}, {'x'}});  // far too old
  EXPECT_EQ(out().size(), 1u);
  EXPECT_EQ(ctr().tcp_drop_bad_ack, 2u);
}

TEST_F(TcpScript, PawsDropsSegmentsWithOldTimestamps) {
  const uint32_t iss = establish(cat({opt_ts(100, 0)}));
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, opt_ts(200, 0), {'a'}});
  EXPECT_EQ(app.data.size(), 1u);
  out();
  inject(Seg{40000, 2525, 1002, iss + 1, ACK, 65535, opt_ts(150, 0), {'b'}});  // older than 200
  EXPECT_EQ(app.data.size(), 1u);
  EXPECT_EQ(ctr().tcp_drop_paws, 1u);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);  // answered with an ACK
  EXPECT_EQ(o[0].s.ack.v, 1002u);
}

TEST_F(TcpScript, SynCookiesWhenTheSynQueueIsFull) {
  auto l = st->tcp().listen(kOurIp, 2525, &app);
  ASSERT_TRUE(l);
  for (uint16_t p = 0; p < cfg.tcp.syn_backlog; ++p) inject(Seg{static_cast<uint16_t>(41000 + p), 2525, 1000, 0, SYN, 65535, {}, {}});
  out();
  EXPECT_EQ(st->tcp().conn_count(), cfg.tcp.syn_backlog);
  inject(Seg{42000, 2525, 7000, 0, SYN, 65535, cat({opt_mss(1460), opt_ts(5, 0), opt_ws(7)}), {}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  EXPECT_EQ(o[0].s.opt.wscale, -1);  // no state, so no options that need it
  EXPECT_FALSE(o[0].s.opt.has_timestamps);
  EXPECT_EQ(ctr().tcp_syncookie_sent, 1u);
  EXPECT_EQ(st->tcp().conn_count(), cfg.tcp.syn_backlog);  // nothing stored
  const uint32_t cookie = o[0].s.seq.v;
  // A forged cookie is refused with a reset; the real one creates the connection, with data.
  inject(Seg{42000, 2525, 7001, cookie + 2, ACK, 65535, {}, {}});
  EXPECT_EQ(ctr().tcp_syncookie_bad, 1u);
  ASSERT_EQ(out().size(), 1u);
  inject(Seg{42000, 2525, 7001, cookie + 1, ACK, 65535, {}, {'h', 'i'}});
  EXPECT_EQ(ctr().tcp_syncookie_ok, 1u);
  ASSERT_EQ(app.accepted.size(), 1u);
  EXPECT_EQ(app.accepted[0]->mss, 1460);
  EXPECT_EQ(std::string(app.data.begin(), app.data.end()), "hi");
}

TEST_F(TcpScript, ZeroWindowIsProbedUntilItOpens) {
  const uint32_t iss = establish();
  net::TcpConn& c = *app.accepted[0];
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 0, {}, {}});  // the peer closes its window
  out();
  const Bytes msg(100, 'z');
  EXPECT_EQ(st->tcp().send(c, {msg.data(), msg.size()}), 100u);
  EXPECT_TRUE(out().empty());  // nothing may go into a zero window
  advance(1100 * kNsPerMs);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.seq.v, iss);  // probe: one below SND.UNA, no data
  EXPECT_TRUE(o[0].payload.empty());
  EXPECT_EQ(ctr().tcp_zero_window_probe, 1u);
  advance(3 * kNsPerSec);
  EXPECT_GE(out().size(), 1u);  // probing goes on, backing off
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 4096, {}, {}});  // open
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].payload.size(), 100u);
}

// A peer that keeps its window shut (a zero-window flood) does not pin the connection for ever:
// after persist_max_ns it is reset and the application told (kTimeout).
TEST_F(TcpScript, ZeroWindowThatNeverOpensEndsTheConnection) {
  cfg.tcp.persist_max_ns = 20 * kNsPerSec;
  start();
  const uint32_t iss = establish();
  net::TcpConn& c = *app.accepted[0];
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 0, {}, {}});
  out();
  const Bytes msg(100, 'z');
  EXPECT_EQ(st->tcp().send(c, {msg.data(), msg.size()}), 100u);
  for (int i = 0; i < 15; ++i) {  // the peer answers every probe, still with a zero window
    advance(1 * kNsPerSec);
    for (const auto& o : out())
      if (o.payload.empty()) inject(Seg{40000, 2525, 1001, iss + 1, ACK, 0, {}, {}});
  }
  EXPECT_EQ(ctr().tcp_persist_timeout, 0u) << "15 s: still probing";
  EXPECT_EQ(app.error, net::TcpError::kNone);
  for (int i = 0; i < 60 && app.error == net::TcpError::kNone; ++i) {
    advance(1 * kNsPerSec);
    for (const auto& o : out())
      if (o.payload.empty() && !(o.s.flags & RST)) inject(Seg{40000, 2525, 1001, iss + 1, ACK, 0, {}, {}});
  }
  EXPECT_EQ(ctr().tcp_persist_timeout, 1u);
  EXPECT_EQ(app.error, net::TcpError::kTimeout);
}

TEST_F(TcpScript, PassiveCloseThroughCloseWaitAndLastAck) {
  const uint32_t iss = establish();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | FIN, 65535, {}, {}});
  EXPECT_EQ(app.accepted[0]->state, TcpState::kCloseWait);
  EXPECT_NE(app.events.find("peer_closed"), std::string::npos);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.ack.v, 1002u);
  st->tcp().close(*app.accepted[0]);
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, ACK | FIN);
  inject(Seg{40000, 2525, 1002, iss + 2, ACK, 65535, {}, {}});
  EXPECT_EQ(st->tcp().conn_count(), 0u);
}

TEST_F(TcpScript, ActiveCloseThroughFinWaitAndTimeWait) {
  const uint32_t iss = establish();
  net::TcpConn* c = app.accepted[0];
  st->tcp().close(*c);
  EXPECT_EQ(c->state, TcpState::kFinWait1);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, ACK | FIN);
  inject(Seg{40000, 2525, 1001, iss + 2, ACK, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kFinWait2);
  inject(Seg{40000, 2525, 1001, iss + 2, ACK | FIN, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kTimeWait);
  EXPECT_EQ(out().size(), 1u);
  // RFC 1337: a reset does not end TIME-WAIT early; a repeated FIN is acknowledged again.
  inject(Seg{40000, 2525, 1002, 0, RST, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kTimeWait);
  inject(Seg{40000, 2525, 1001, iss + 2, ACK | FIN, 65535, {}, {}});
  EXPECT_EQ(out().size(), 1u);
  advance(2100 * kNsPerMs);  // 2 MSL (MSL 1 s here)
  EXPECT_EQ(st->tcp().conn_count(), 0u);
}

TEST_F(TcpScript, SimultaneousCloseGoesThroughClosing) {
  const uint32_t iss = establish();
  net::TcpConn* c = app.accepted[0];
  st->tcp().shutdown_write(*c);
  out();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK | FIN, 65535, {}, {}});  // their FIN crosses ours
  EXPECT_EQ(c->state, TcpState::kClosing);
  inject(Seg{40000, 2525, 1002, iss + 2, ACK, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kTimeWait);
}

TEST_F(TcpScript, TimeWaitIsReusedByANewerSyn) {
  const uint32_t iss = establish(cat({opt_ts(100, 0)}));
  net::TcpConn* c = app.accepted[0];
  st->tcp().close(*c);
  out();
  inject(Seg{40000, 2525, 1001, iss + 2, ACK, 65535, opt_ts(110, 0), {}});
  inject(Seg{40000, 2525, 1001, iss + 2, ACK | FIN, 65535, opt_ts(111, 0), {}});
  ASSERT_EQ(c->state, TcpState::kTimeWait);
  out();
  inject(Seg{40000, 2525, 9000, 0, SYN, 65535, opt_ts(50, 0), {}});  // older timestamp: refused
  EXPECT_EQ(ctr().tcp_timewait_reuse, 0u);
  out();
  inject(Seg{40000, 2525, 9000, 0, SYN, 65535, opt_ts(500, 0), {}});  // RFC 6191
  EXPECT_EQ(ctr().tcp_timewait_reuse, 1u);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  EXPECT_EQ(o[0].s.ack.v, 9001u);
}

TEST_F(TcpScript, ActiveOpenAndItsFailures) {
  app.read_data = true;
  net::TcpError err;
  net::TcpConn* c = st->tcp().connect(kPeerIp, 25, &app, nullptr, &err);
  ASSERT_NE(c, nullptr);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN);
  EXPECT_TRUE(o[0].s.opt.sack_permitted && o[0].s.opt.has_timestamps && o[0].s.opt.wscale >= 0);
  const uint16_t lport = o[0].s.src_port;
  const uint32_t iss = o[0].s.seq.v;
  // An ACK for something else: reset, nothing changes. A RST without ACK: ignored.
  inject(Seg{25, lport, 300, iss + 7, ACK | SYN, 65535, {}, {}});
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, RST);
  inject(Seg{25, lport, 300, 0, RST, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kSynSent);
  // A RST with the right ACK: refused.
  inject(Seg{25, lport, 0, iss + 1, RST | ACK, 0, {}, {}});
  EXPECT_NE(app.events.find("closed:refused"), std::string::npos);
}

TEST_F(TcpScript, SimultaneousOpen) {
  net::TcpConn* c = st->tcp().connect(kPeerIp, 25, &app, nullptr, nullptr);
  auto o = out();
  const uint16_t lport = o[0].s.src_port;
  const uint32_t iss = o[0].s.seq.v;
  inject(Seg{25, lport, 300, 0, SYN, 65535, {}, {}});  // their SYN crosses ours
  EXPECT_EQ(c->state, TcpState::kSynReceived);
  o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.flags, SYN | ACK);
  EXPECT_EQ(o[0].s.seq.v, iss);
  inject(Seg{25, lport, 301, iss + 1, SYN | ACK, 65535, {}, {}});  // their SYN-ACK
  inject(Seg{25, lport, 301, iss + 1, ACK, 65535, {}, {}});
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_NE(app.events.find("connected"), std::string::npos);
}

TEST_F(TcpScript, MalformedSegmentsAreDroppedAndCounted) {
  establish();
  // Bad checksum.
  Bytes t(20);
  store_be16(t.data(), 40000);
  store_be16(t.data() + 2, 2525);
  t[12] = 0x50;
  t[13] = ACK;
  store_be16(t.data() + 16, 0x1234);
  auto send_raw = [&](const Bytes& seg) {
    const Bytes f = eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoTcp, seg));
    st->input(view(f), Tick{now});
  };
  send_raw(t);
  EXPECT_EQ(ctr().tcp_drop_checksum, 1u);
  // Data offset beyond the segment, option of length 0, urgent pointer past the payload.
  inject(Seg{40000, 2525, 1001, 0, ACK, 1, {8, 0}, {}});
  EXPECT_EQ(ctr().tcp_drop_bad_option, 1u);
  inject(Seg{40000, 2525, 1001, 0, ACK | net::kTcpUrg, 1, {}, {'a'}, 5});
  EXPECT_EQ(ctr().tcp_drop_urgent, 1u);
  Bytes bad_off(20);
  bad_off[12] = 0xF0;
  store_be16(bad_off.data() + 16, net::tcp_checksum({bad_off.data(), bad_off.size()}, kPeerIp, kOurIp));
  send_raw(bad_off);
  EXPECT_EQ(ctr().tcp_drop_data_offset, 1u);
  inject(Seg{40000, 2525, 1001, 0, SYN | FIN, 1, {}, {}});
  EXPECT_EQ(ctr().tcp_drop_bad_flags, 1u);
  EXPECT_EQ(app.accepted[0]->state, TcpState::kEstablished);
}

TEST_F(TcpScript, DataAfterCloseIsAnsweredWithReset) {
  const uint32_t iss = establish();
  st->tcp().close(*app.accepted[0]);
  out();
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, {'l', 'a', 't', 'e'}});
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(o[0].s.flags & RST);
  EXPECT_EQ(ctr().tcp_drop_after_close, 1u);
  EXPECT_EQ(st->tcp().conn_count(), 0u);
}

TEST_F(TcpScript, IcmpFragmentationNeededLowersTheMssOnlyForOurOwnSegments) {
  const uint32_t iss = establish(opt_mss(1460));
  net::TcpConn& c = *app.accepted[0];
  const Bytes msg(3000, 'm');
  st->tcp().send(c, {msg.data(), msg.size()});
  out();
  auto icmp_about = [&](uint32_t seq, uint16_t mtu) {
    Bytes quoted = ipv4_datagram(kOurIp, kPeerIp, net::kIpProtoTcp, Bytes(20, 0));
    quoted.resize(28);
    store_be16(quoted.data() + 20, 2525);
    store_be16(quoted.data() + 22, 40000);
    store_be32(quoted.data() + 24, seq);
    Bytes body = icmp_message(net::kIcmpDestUnreachable, 4, 0, mtu, quoted);
    const Bytes f = eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, body));
    st->input(view(f), Tick{now});
  };
  icmp_about(iss + 1 + 100000, 1000);  // not a sequence number we have outstanding: forged
  EXPECT_EQ(c.mss, 1460);
  EXPECT_EQ(ctr().tcp_icmp_ignored, 1u);
  icmp_about(iss + 1, 1000);
  EXPECT_EQ(c.mss, 960);
  EXPECT_EQ(ctr().tcp_pmtu_update, 1u);
  auto o = out();
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[0].payload.size(), 960u);  // resent at the new size
}

}  // namespace
}  // namespace mx::test

namespace mx::test {
namespace {

class TcpKeepalive : public TcpScript {
 protected:
  void SetUp() override {
    cfg.tcp.keepalive_idle_ns = 10 * kNsPerSec;
    cfg.tcp.keepalive_intvl_ns = 1 * kNsPerSec;
    cfg.tcp.keepalive_probes = 3;
    start();
  }
};

TEST_F(TcpKeepalive, ProbesAnIdlePeerAndGivesUpWhenItIsGone) {
  const uint32_t iss = establish();
  advance(9 * kNsPerSec);
  EXPECT_TRUE(out().empty());
  advance(2 * kNsPerSec);
  auto o = out();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].s.seq.v, iss);  // SND.UNA - 1: the peer must answer
  EXPECT_TRUE(o[0].payload.empty());
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, {}});  // it answers: all is well
  advance(5 * kNsPerSec);
  EXPECT_TRUE(out().empty());
  EXPECT_EQ(app.accepted[0]->state, TcpState::kEstablished);
  for (int i = 0; i < 20; ++i) advance(1 * kNsPerSec);  // now it is silent
  EXPECT_GE(ctr().tcp_keepalive_probe, 4u);
  EXPECT_NE(app.events.find("closed:timeout"), std::string::npos);
  EXPECT_EQ(st->tcp().conn_count(), 0u);
}

bool even_ports_only(void*, const net::FourTuple& t) { return t.local_port % 2 == 0; }

TEST_F(TcpScript, SourcePortChoiceHookIsHonoured) {
  st->tcp().set_port_choice(&even_ports_only, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_NE(st->tcp().connect(kPeerIp, 25, &app, nullptr, nullptr), nullptr);
  auto o = out();
  ASSERT_EQ(o.size(), 10u);
  for (const Out& x : o) EXPECT_EQ(x.s.src_port % 2, 0) << x.s.src_port;
}

TEST_F(TcpScript, ZeroCopyTakeKeepsBytesValidUntilReleasedEvenAfterTheConnectionIsGone) {
  app.read_data = false;
  const uint32_t iss = establish();
  net::TcpConn& c = *app.accepted[0];
  const Bytes big(1000, 'Z');
  inject(Seg{40000, 2525, 1001, iss + 1, ACK, 65535, {}, big});
  net::RxBuf b;
  ASSERT_TRUE(st->tcp().take(c, b));
  EXPECT_EQ(b.len, 1000u);
  EXPECT_EQ(st->tcp().readable(c), 0u);
  st->tcp().abort(c);  // the connection goes; the taken bytes stay ours
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data), b.len), std::string(1000, 'Z'));
  const uint32_t blocks = st->tcp().blocks_available();
  st->tcp().release(b);
  EXPECT_EQ(b.data, nullptr);
  // CaptureNetif gives no packet handles, so the payload was copied into a block: back in the pool.
  EXPECT_EQ(st->tcp().blocks_available(), blocks + 1);
}

}  // namespace
// Out-of-order data is pruned lcore-wide: many connections each within their own budget must not
// exhaust the lcore's blocks and starve in-order data. The oldest holder's queue goes first, its
// peer retransmits, and the stream still arrives whole.
TEST_F(TcpScript, OutOfOrderDataIsPrunedUnderLcorePressure) {
  cfg.tcp.blocks = 64;
  cfg.tcp.rx_segs = 64;
  start();
  const uint32_t iss_a = establish(cat({opt_sack_perm()}), 40000);
  net::TcpConn* a = app.accepted.back();
  // A: 20 out-of-order pieces of 10 bytes with gaps (one block and one descriptor each).
  Bytes stream(420);
  for (size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<uint8_t>('a' + i % 26);
  for (uint32_t i = 0; i < 20; ++i) {
    const uint32_t off = 20 + 20 * i;
    inject(Seg{40000, 2525, 1001 + off, iss_a + 1, ACK, 65535, {},
               Bytes(stream.begin() + off, stream.begin() + off + 10)});
  }
  EXPECT_EQ(a->ooo_segs, 20u);
  out();
  // B: an application that does not read yet, and 50 in-order segments of 300 bytes (with A's
  // 20 more than the 64 blocks).
  app.read_data = false;
  const uint32_t iss_b = establish({}, 40001);
  net::TcpConn* b = app.accepted.back();
  for (uint32_t i = 0; i < 50; ++i)
    inject(Seg{40001, 2525, 1001 + 300 * i, iss_b + 1, ACK, 65535, {}, Bytes(300, 'b')});
  EXPECT_EQ(st->tcp().readable(*b), 50u * 300u);  // none of B's data was dropped
  EXPECT_EQ(ctr().tcp_drop_rx_budget, 0u);
  EXPECT_EQ(ctr().tcp_ooo_pruned, 20u);
  EXPECT_EQ(ctr().tcp_ooo_prune_conns, 1u);
  EXPECT_EQ(a->ooo_head, nullptr);
  EXPECT_EQ(a->ooo_segs, 0u);
  EXPECT_EQ(a->ooo_bytes, 0u);
  out();
  // A's peer retransmits everything: the stream arrives whole and in order.
  app.read_data = true;
  app.data.clear();
  inject(Seg{40000, 2525, 1001, iss_a + 1, ACK, 65535, {}, stream});
  EXPECT_EQ(app.data, stream);
  advance(50 * kNsPerMs);  // the delayed ACK
  auto o = out();
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o.back().s.ack.v, 1001u + 420u);
  EXPECT_EQ(o.back().s.opt.sack_count, 0);
}

}  // namespace mx::test
