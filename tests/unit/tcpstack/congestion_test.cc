// tests/unit/tcpstack/congestion_test.cc — NewReno against RFC 5681 / 6582 / 6928 arithmetic.
#include "tcpstack/congestion.h"

#include <gtest/gtest.h>

namespace mx::net {
namespace {

constexpr uint32_t kMss = 1460;

TEST(NewReno, InitialWindowPerRfc6928) {
  EXPECT_EQ(NewReno(kMss).cwnd(), 14600u);      // min(14600, max(2920, 14600))
  EXPECT_EQ(NewReno(536).cwnd(), 5360u);        // 10 * 536
  EXPECT_EQ(NewReno(9000).cwnd(), 18000u);      // max(2*MSS, 14600) = 18000 < 90000
  EXPECT_EQ(NewReno(kMss).ssthresh(), UINT32_MAX);
}

TEST(NewReno, SlowStartCountsBytesUpToTwoSegmentsPerAck) {
  NewReno c(kMss);
  uint32_t w = c.cwnd();
  c.on_ack(kMss, SeqNum(kMss), 0);
  EXPECT_EQ(c.cwnd(), w + kMss);
  c.on_ack(10 * kMss, SeqNum(11 * kMss), 0);  // a stretch ACK grows by at most 2 SMSS
  EXPECT_EQ(c.cwnd(), w + 3 * kMss);
}

TEST(NewReno, FastRetransmitOnTheThirdDupackThenRecovery) {
  NewReno c(kMss);
  const uint32_t flight = 20 * kMss;
  const SeqNum una(1000), nxt(1000 + flight);
  EXPECT_FALSE(c.on_dupack(una, nxt, flight));
  EXPECT_FALSE(c.on_dupack(una, nxt, flight));
  EXPECT_TRUE(c.on_dupack(una, nxt, flight));
  EXPECT_TRUE(c.in_recovery());
  EXPECT_EQ(c.ssthresh(), flight / 2);
  EXPECT_EQ(c.cwnd(), flight / 2 + 3 * kMss);
  EXPECT_FALSE(c.on_dupack(una, nxt, flight));  // inflation, no second retransmission
  EXPECT_EQ(c.cwnd(), flight / 2 + 4 * kMss);
  // Partial ACK (RFC 6582): deflate by the acked amount, add one SMSS back, stay in recovery.
  uint32_t before = c.cwnd();
  c.on_ack(4 * kMss, una + 4 * kMss, flight - 4 * kMss);
  EXPECT_TRUE(c.in_recovery());
  EXPECT_EQ(c.cwnd(), before - 4 * kMss + kMss);
  // Full ACK: leave recovery with min(ssthresh, max(flight, SMSS) + SMSS).
  c.on_ack(16 * kMss, nxt, 0);
  EXPECT_FALSE(c.in_recovery());
  EXPECT_EQ(c.cwnd(), std::min(c.ssthresh(), kMss + kMss));
}

TEST(NewReno, CongestionAvoidanceAddsOneSegmentPerWindow) {
  NewReno c(kMss);
  c.on_rto(20 * kMss);  // ssthresh = 10 MSS, cwnd = 1 MSS
  EXPECT_EQ(c.cwnd(), kMss);
  EXPECT_EQ(c.ssthresh(), 10 * kMss);
  while (c.cwnd() < c.ssthresh()) c.on_ack(kMss, SeqNum(0), 0);
  const uint32_t w = c.cwnd();
  uint32_t acked = 0;
  while (acked + kMss <= w) {  // one window's worth, minus one segment: no growth yet
    c.on_ack(kMss, SeqNum(0), 0);
    acked += kMss;
    if (acked + kMss <= w) {
      ASSERT_EQ(c.cwnd(), w);
    }
  }
  c.on_ack(kMss, SeqNum(0), 0);
  EXPECT_EQ(c.cwnd(), w + kMss);
}

TEST(NewReno, TimeoutCollapsesToOneSegment) {
  NewReno c(kMss);
  c.on_rto(3 * kMss);
  EXPECT_EQ(c.cwnd(), kMss);
  EXPECT_EQ(c.ssthresh(), 2 * kMss);  // max(FlightSize/2, 2*SMSS)
  EXPECT_FALSE(c.in_recovery());
}

TEST(NewReno, NoNewRecoveryForDupacksBelowRecoverAfterATimeout) {
  NewReno c(kMss);
  const SeqNum una(0), nxt(20 * kMss);
  for (int i = 0; i < 3; ++i) c.on_dupack(una, nxt, 20 * kMss);
  ASSERT_TRUE(c.in_recovery());
  c.on_rto(20 * kMss);  // recovery abandoned; recover stays at nxt
  bool again = false;
  for (int i = 0; i < 3; ++i) again |= c.on_dupack(una + kMss, nxt, 19 * kMss);
  EXPECT_FALSE(again) << "RFC 6582 3.2 step 2: dupacks below `recover` do not start a new episode";
}

}  // namespace
}  // namespace mx::net
