// tcpstack/rto.h — the retransmission timeout estimator of RFC 6298.
//
// Integer nanoseconds; alpha = 1/8, beta = 1/4, K = 4 (RFC 6298 2). The caller applies Karn's
// rule (RFC 6298 3): it never samples a segment that was retransmitted, unless the sample comes
// from a timestamp echo (RFC 7323 4). A valid sample after back-off restores the computed RTO.
#pragma once

#include <cstdint>

#include "common/strong_id.h"

namespace mx::net {

struct RtoConfig {
  uint64_t initial_ns = 1 * kNsPerSec;  // RFC 6298 2.1
  uint64_t min_ns = 1 * kNsPerSec;      // RFC 6298 2.4 (Linux uses 200 ms; a config choice)
  uint64_t max_ns = 60 * kNsPerSec;     // RFC 6298 2.5: at least 60 s
  uint64_t granularity_ns = kNsPerMs;   // G: the timer wheel's tick
};

class RtoEstimator {
 public:
  explicit RtoEstimator(const RtoConfig& c = {}) : c_(c), rto_(c.initial_ns) {}

  // A round-trip measurement (RFC 6298 2.2 / 2.3).
  void sample(uint64_t rtt_ns) noexcept;
  // The retransmission timer expired: double the RTO (RFC 6298 5.5), up to the maximum.
  void backoff() noexcept;

  uint64_t rto_ns() const noexcept { return rto_; }
  uint64_t srtt_ns() const noexcept { return srtt_; }
  uint64_t rttvar_ns() const noexcept { return rttvar_; }
  bool has_sample() const noexcept { return has_sample_; }
  uint32_t backoffs() const noexcept { return backoffs_; }

 private:
  void compute() noexcept;

  RtoConfig c_;
  uint64_t srtt_ = 0, rttvar_ = 0, rto_;
  bool has_sample_ = false;
  uint32_t backoffs_ = 0;
};

}  // namespace mx::net
