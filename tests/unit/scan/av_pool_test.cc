// AvPool: many concurrent jobs each reported exactly once, backpressure when full, shutdown with
// jobs in flight (no hang; every accepted job completed once, queued ones as cancelled).
#include "scan/av_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/scan/av_test_util.h"

namespace mx::scan {
namespace {

using namespace std::chrono_literals;
using avtest::TempDir;

ByteSpan span_of(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class AvPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TempDir();
    reason_ = avtest::write_eicar_database(*db_);
    if (!reason_.empty()) return;
    auto e = AvEngine::load(AvConfig{db_->path(), AvLimits{}});
    if (!e) {
      reason_ = "load failed: " + e.error().message;
      return;
    }
    engine_ = std::move(*e).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
    delete db_;
    db_ = nullptr;
  }
  void SetUp() override {
    if (reason_.rfind("sigtool is not installed", 0) == 0) MX_SKIP_OR_FAIL_WITHOUT_TOOL(reason_);
    ASSERT_NE(engine_, nullptr) << reason_;
  }

  static TempDir* db_;
  static AvEngine* engine_;
  static std::string reason_;
};
TempDir* AvPoolTest::db_ = nullptr;
AvEngine* AvPoolTest::engine_ = nullptr;
std::string AvPoolTest::reason_;

TEST_F(AvPoolTest, ManyConcurrentJobsEachReportedExactlyOnce) {
  constexpr uint64_t kJobs = 600;
  const std::string infected = "attachment: " + avtest::eicar();
  const std::string clean = "nothing to see here, just a long enough clean text body";
  const std::string zipped = avtest::stored_zip("a.com", avtest::eicar());
  auto expected = [](uint64_t tag) {
    return tag % 3 == 1 ? AvVerdict::kClean : AvVerdict::kInfected;
  };
  auto data_for = [&](uint64_t tag) -> const std::string& {
    return tag % 3 == 0 ? infected : tag % 3 == 1 ? clean : zipped;
  };

  AvPool pool(*engine_, AvPoolConfig{4, 32});
  EXPECT_EQ(pool.threads(), 4u);
  std::vector<int> seen(kJobs, 0);
  uint64_t next = 0;
  uint64_t received = 0;
  uint64_t rejected = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < kJobs && std::chrono::steady_clock::now() < deadline) {
    while (next < kJobs && pool.submit(AvJob{next, span_of(data_for(next))})) ++next;
    if (next < kJobs) ++rejected;
    AvCompletion c;
    while (pool.wait_pop(c, 5ms)) {
      ASSERT_LT(c.tag, kJobs);
      ++seen[c.tag];
      ++received;
      EXPECT_EQ(c.result.verdict, expected(c.tag))
          << "tag " << c.tag << ": " << av_verdict_name(c.result.verdict) << " " << c.result.name;
      if (received == kJobs) break;
    }
    EXPECT_LE(pool.outstanding(), pool.max_outstanding());
  }
  ASSERT_EQ(received, kJobs);
  for (uint64_t t = 0; t < kJobs; ++t) EXPECT_EQ(seen[t], 1) << "tag " << t;
  AvCompletion extra;
  EXPECT_FALSE(pool.wait_pop(extra, 20ms));
  const AvPoolStats s = pool.stats();
  EXPECT_EQ(s.submitted, kJobs);
  EXPECT_EQ(s.completed, kJobs);
  EXPECT_EQ(s.cancelled, 0u);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_GT(rejected + s.rejected, 0u) << "600 jobs through 32 slots must have seen a full pool";
}

TEST_F(AvPoolTest, FullPoolRejectsUntilACompletionIsDrained) {
  const std::string clean = "clean text";
  AvPool pool(*engine_, AvPoolConfig{1, 4});
  for (uint64_t t = 0; t < 4; ++t) EXPECT_TRUE(pool.submit(AvJob{t, span_of(clean)})) << t;
  // Accepted and not drained counts, whether queued, scanning or completed: deterministic.
  EXPECT_FALSE(pool.submit(AvJob{99, span_of(clean)}));
  EXPECT_EQ(pool.stats().rejected, 1u);
  AvCompletion c;
  ASSERT_TRUE(pool.wait_pop(c, 10s));
  EXPECT_TRUE(pool.submit(AvJob{4, span_of(clean)}));
  EXPECT_FALSE(pool.submit(AvJob{100, span_of(clean)}));
  std::vector<AvCompletion> out(8);
  size_t got = 1;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got < 5 && std::chrono::steady_clock::now() < deadline) {
    got += pool.drain(out);
    if (got < 5 && pool.wait_pop(c, 10ms)) ++got;
  }
  EXPECT_EQ(got, 5u);
  EXPECT_EQ(pool.outstanding(), 0u);
}

TEST_F(AvPoolTest, ConfigIsClampedToTheNamedBounds) {
  AvPool pool(*engine_, AvPoolConfig{0, 1u << 30});
  EXPECT_EQ(pool.threads(), 1u);
  EXPECT_EQ(pool.max_outstanding(), kAvPoolMaxOutstanding);
}

TEST_F(AvPoolTest, ShutdownWithJobsInFlightCompletesEveryJobOnce) {
  constexpr uint64_t kJobs = 64;
  const std::string big(2u << 20, 'x');  // 2 MiB each: some still queued at shutdown
  AvPool pool(*engine_, AvPoolConfig{1, kJobs});
  for (uint64_t t = 0; t < kJobs; ++t) ASSERT_TRUE(pool.submit(AvJob{t, span_of(big)}));
  const auto start = std::chrono::steady_clock::now();
  pool.shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(pool.threads(), 0u);
  EXPECT_FALSE(pool.submit(AvJob{kJobs, span_of(big)}));
  pool.shutdown();  // idempotent

  std::vector<AvCompletion> out(kJobs + 1);
  const size_t n = pool.drain(out);
  ASSERT_EQ(n, kJobs);
  std::vector<int> seen(kJobs, 0);
  uint64_t cancelled = 0;
  for (size_t i = 0; i < n; ++i) {
    ++seen[out[i].tag];
    if (out[i].result.verdict == AvVerdict::kError) {
      ++cancelled;
      EXPECT_EQ(out[i].result.name, "av pool shut down");
    } else {
      EXPECT_EQ(out[i].result.verdict, AvVerdict::kClean) << out[i].result.name;
    }
  }
  for (uint64_t t = 0; t < kJobs; ++t) EXPECT_EQ(seen[t], 1) << "tag " << t;
  EXPECT_EQ(pool.stats().cancelled, cancelled);
  EXPECT_GT(cancelled, 0u) << "one thread cannot scan 128 MiB before shutdown() returns";
}

TEST_F(AvPoolTest, DestructorWithUndrainedJobsDoesNotHang) {
  const std::string big(1u << 20, 'y');
  const auto start = std::chrono::steady_clock::now();
  {
    AvPool pool(*engine_, AvPoolConfig{2, 16});
    for (uint64_t t = 0; t < 16; ++t) ASSERT_TRUE(pool.submit(AvJob{t, span_of(big)}));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
}  // namespace mx::scan
