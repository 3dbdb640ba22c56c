// tests/unit/tcpstack/rto_test.cc — RFC 6298 arithmetic on worked sequences.
#include "tcpstack/rto.h"

#include <gtest/gtest.h>

namespace mx::net {
namespace {

constexpr uint64_t ms = kNsPerMs;

TEST(Rto, InitialValueBeforeAnySample) {
  RtoEstimator e;
  EXPECT_EQ(e.rto_ns(), 1000 * ms);
  EXPECT_FALSE(e.has_sample());
}

TEST(Rto, FirstAndSecondSamplesFollowTheRfc) {
  RtoConfig c;
  c.min_ns = 200 * ms;
  RtoEstimator e(c);
  e.sample(100 * ms);  // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR
  EXPECT_EQ(e.srtt_ns(), 100 * ms);
  EXPECT_EQ(e.rttvar_ns(), 50 * ms);
  EXPECT_EQ(e.rto_ns(), 300 * ms);
  e.sample(200 * ms);  // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
  EXPECT_EQ(e.rttvar_ns(), 62'500'000u);
  EXPECT_EQ(e.srtt_ns(), 112'500'000u);
  EXPECT_EQ(e.rto_ns(), 362'500'000u);  // 112.5 + 4*62.5
}

TEST(Rto, MinimumGranularityAndMaximum) {
  RtoEstimator e;  // min 1 s
  e.sample(10 * ms);
  EXPECT_EQ(e.rto_ns(), 1000 * ms);  // rounded up to the minimum (RFC 6298 2.4)
  RtoConfig c;
  c.min_ns = 1;
  c.granularity_ns = 5 * ms;
  RtoEstimator g(c);
  for (int i = 0; i < 50; ++i) g.sample(1 * ms);  // RTTVAR decays towards 0
  EXPECT_EQ(g.rto_ns(), g.srtt_ns() + 5 * ms);     // max(G, 4*RTTVAR) = G
  RtoEstimator big;
  big.sample(100 * kNsPerSec);
  EXPECT_EQ(big.rto_ns(), 60 * kNsPerSec);
}

TEST(Rto, BackoffDoublesUpToTheMaximumAndASampleRestores) {
  RtoConfig c;
  c.min_ns = 200 * ms;
  RtoEstimator e(c);
  e.sample(100 * ms);
  e.backoff();
  EXPECT_EQ(e.rto_ns(), 600 * ms);
  for (int i = 0; i < 20; ++i) e.backoff();
  EXPECT_EQ(e.rto_ns(), 60 * kNsPerSec);
  EXPECT_EQ(e.backoffs(), 21u);
  e.sample(100 * ms);  // RFC 6298 5.7: a new valid sample recomputes the RTO
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_LT(e.rto_ns(), 1000 * ms);
}

}  // namespace
}  // namespace mx::net
