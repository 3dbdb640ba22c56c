// tcpstack/rto.cc
#include "tcpstack/rto.h"

#include <algorithm>

namespace mx::net {

void RtoEstimator::compute() noexcept {
  uint64_t rto = srtt_ + std::max(c_.granularity_ns, 4 * rttvar_);
  rto_ = std::clamp(rto, c_.min_ns, c_.max_ns);
}

void RtoEstimator::sample(uint64_t r) noexcept {
  if (!has_sample_) {
    srtt_ = r;         // RFC 6298 2.2
    rttvar_ = r / 2;
    has_sample_ = true;
  } else {
    // RFC 6298 2.3, RTTVAR first (it uses the old SRTT).
    uint64_t err = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = rttvar_ - rttvar_ / 4 + err / 4;
    srtt_ = srtt_ - srtt_ / 8 + r / 8;
  }
  backoffs_ = 0;
  compute();
}

void RtoEstimator::backoff() noexcept {
  ++backoffs_;
  rto_ = std::min(rto_ * 2, c_.max_ns);
}

}  // namespace mx::net
