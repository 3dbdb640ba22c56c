// tcpstack/congestion.h — congestion control behind a small interface, and NewReno.
//
// STANDARDS: RFC 5681 (slow start, congestion avoidance, fast retransmit/recovery), RFC 6582
// (NewReno partial acknowledgements), RFC 6928 (initial window), RFC 3465 (byte counting, L=2).
// The interface lets CUBIC (RFC 9438) replace NewReno later without touching the connection.
#pragma once

#include <cstdint>

#include "tcpstack/seq.h"

namespace mx::net {

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  // New data acknowledged (snd.una advanced by `acked` bytes) outside recovery, or a partial or
  // full acknowledgement inside it; `snd_una` is the new left edge, `flight` the bytes still
  // outstanding after it.
  virtual void on_ack(uint32_t acked, SeqNum snd_una, uint32_t flight) = 0;
  // A duplicate ACK; returns true when the caller must fast-retransmit snd.una now.
  virtual bool on_dupack(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) = 0;
  // Loss detected from SACK information (RFC 6675 IsLost) before three duplicate ACKs arrived;
  // returns true when this starts a recovery episode (the caller retransmits).
  virtual bool on_loss(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) = 0;
  // The retransmission timer fired.
  virtual void on_rto(uint32_t flight) = 0;
  virtual uint32_t cwnd() const = 0;
  virtual uint32_t ssthresh() const = 0;
  virtual bool in_recovery() const = 0;
};

class NewReno final : public CongestionControl {
 public:
  explicit NewReno(uint32_t smss);
  void on_ack(uint32_t acked, SeqNum snd_una, uint32_t flight) override;
  bool on_dupack(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) override;
  bool on_loss(SeqNum snd_una, SeqNum snd_nxt, uint32_t flight) override;
  void on_rto(uint32_t flight) override;
  uint32_t cwnd() const override { return cwnd_; }
  uint32_t ssthresh() const override { return ssthresh_; }
  bool in_recovery() const override { return recovery_; }

  static constexpr uint32_t kDupAckThreshold = 3;  // RFC 5681 3.2

 private:
  uint32_t smss_;
  uint32_t cwnd_;
  uint32_t ssthresh_ = UINT32_MAX;  // RFC 5681 3.1: arbitrarily high at first
  uint32_t dupacks_ = 0;
  uint32_t ca_bytes_ = 0;  // bytes acknowledged in congestion avoidance since the last increase
  bool recovery_ = false;
  SeqNum recover_;  // RFC 6582: snd.nxt when recovery began
  bool recover_set_ = false;
};

}  // namespace mx::net
