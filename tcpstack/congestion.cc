// tcpstack/congestion.cc — NewReno.
#include "tcpstack/congestion.h"

#include <algorithm>

namespace mx::net {

NewReno::NewReno(uint32_t smss)
    // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)).
    : smss_(smss), cwnd_(std::min(10 * smss, std::max(2 * smss, 14600u))) {}

void NewReno::on_ack(uint32_t acked, SeqNum snd_una, uint32_t flight) {
  dupacks_ = 0;
  if (recovery_) {
    if (seq_ge(snd_una, recover_)) {
      // Full acknowledgement (RFC 6582 3.2 step 3): leave recovery with cwnd = min(ssthresh,
      // max(FlightSize, SMSS) + SMSS).
      cwnd_ = std::min(ssthresh_, std::max(flight, smss_) + smss_);
      recovery_ = false;
    } else {
      // Partial acknowledgement (step 4): deflate by the amount acked, add back one SMSS if at
      // least that much was acked; the caller retransmits the next hole.
      cwnd_ = cwnd_ > acked ? cwnd_ - acked : smss_;
      if (acked >= smss_) cwnd_ += smss_;
    }
    return;
  }
  if (cwnd_ < ssthresh_) {
    cwnd_ += std::min(acked, 2 * smss_);  // slow start with byte counting, L = 2 (RFC 3465)
    return;
  }
  // Congestion avoidance: one SMSS per cwnd of acknowledged bytes (RFC 5681 3.1, eqn. 3 by bytes).
  ca_bytes_ += acked;
  if (ca_bytes_ >= cwnd_) {
    ca_bytes_ -= cwnd_;
    cwnd_ += smss_;
  }
}

bool NewReno::on_dupack(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) {
  if (recovery_) {
    cwnd_ += smss_;  // RFC 5681 3.2 step 4: inflate for each segment that left the network
    return false;
  }
  if (++dupacks_ != kDupAckThreshold) return false;
  return on_loss(snd_una, snd_nxt, flight);
}

bool NewReno::on_loss(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) {
  if (recovery_) return false;
  // RFC 6582 3.2 step 2: only when the ACK covers more than `recover` from a previous episode.
  if (recover_set_ && seq_lt(snd_una, recover_)) return false;
  ssthresh_ = std::max(flight / 2, 2 * smss_);  // RFC 5681 eqn. 4
  cwnd_ = ssthresh_ + 3 * smss_;
  recovery_ = true;
  recover_ = snd_nxt;
  recover_set_ = true;
  return true;
}

void NewReno::on_rto(uint32_t flight) {
  ssthresh_ = std::max(flight / 2, 2 * smss_);
  cwnd_ = smss_;  // RFC 5681 3.1: loss window of one segment
  recovery_ = false;
  dupacks_ = 0;
  ca_bytes_ = 0;
}

}  // namespace mx::net
