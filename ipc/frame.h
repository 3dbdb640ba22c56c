// ipc/frame.h — the framing of the channel between mxgate and mxgate-control: a stream (Unix
// socket, or TCP with mutual TLS) of frames, each a fixed header and a payload.
//
//   offset  size  field
//   0       4     magic "MXIP"
//   4       2     version (kIpcVersion; a frame of any other version ends the channel)
//   6       2     type (FrameType)
//   8       4     payload length (at most kMaxPayload[type])
//   12      4     flags (none defined: must be 0)
//   16      8     seq: the snapshot generation (kSnapshot, kAck, kNack), the position of the
//                 batch's first byte in the node's log stream (kLogBatch), the position up to
//                 which everything is stored (kLogAck), else 0 (kStats: 0, not checked)
//   24      ...   payload
//
// All integers are big-endian. The push follows a versioned, acknowledged model (as Envoy's
// xDS): control sends kSnapshot N; the data plane validates, swaps and answers kAck N, or kNack N
// with the reason and keeps what it had. Log records flow the other way in kLogBatch frames,
// each acknowledged by kLogAck once control has them durably (de-duplicated by node + seq).
// A node also sends its counters every few seconds in a kStats frame (ipc/node_stats.h), not
// acknowledged: each replaces the one before.
//
// SECURITY: both ends treat the other's bytes as untrusted: a frame is checked whole (magic,
// version, type, flags, the per-type length bound) before its payload is buffered, so a peer
// cannot make the reader hold more than the bound of the type it announced; the first bad frame
// ends the channel with a reason (FrameReader::error()). No allocation beyond the payload.
// STANDARDS: none (house protocol; docs/ipc.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace mx::ipc {

constexpr uint32_t kIpcMagic = 0x4d584950;  // "MXIP"
constexpr uint16_t kIpcVersion = 1;
constexpr size_t kFrameHeaderBytes = 24;

enum class FrameType : uint16_t {
  kHello = 1,     // data plane -> control: the node's name (payload), its generation (seq)
  kSnapshot = 2,  // control -> data plane: a snapshot document (payload) of generation seq
  kAck = 3,       // data plane -> control: generation seq is serving
  kNack = 4,      // data plane -> control: generation seq refused; payload: the reason
  kLogBatch = 5,  // data plane -> control: JSON lines, records seq, seq+1, ...
  kLogAck = 6,    // control -> data plane: every record up to seq is stored durably
  kPing = 7,      // either way: liveness; answered with kPong of the same seq
  kPong = 8,
  kStats = 9,     // data plane -> control: the node's counters (ipc/node_stats.h); seq 0
};
constexpr uint16_t kFrameTypeMax = 9;

// Payload bounds, per type.
constexpr uint32_t kMaxHelloBytes = 256;             // a node name
constexpr uint32_t kMaxSnapshotBytes = 512u << 20;   // 10k tenants / 100k domains / 1M users fit
constexpr uint32_t kMaxReasonBytes = 4096;           // a NACK's reason
constexpr uint32_t kMaxLogBatchBytes = 4u << 20;     // records per batch, as JSON lines
constexpr uint32_t kMaxPingBytes = 0;
constexpr uint32_t kMaxStatsBytes = 1u << 20;        // a node's counters as text (a few KiB today)

uint32_t max_payload(FrameType t) noexcept;

// Which types a side accepts (FrameReader::accept): a bit per type.
constexpr uint32_t frame_bit(FrameType t) noexcept { return 1u << static_cast<uint16_t>(t); }
constexpr uint32_t kControlAccepts = frame_bit(FrameType::kHello) | frame_bit(FrameType::kAck) |
                                     frame_bit(FrameType::kNack) | frame_bit(FrameType::kLogBatch) |
                                     frame_bit(FrameType::kPing) | frame_bit(FrameType::kPong) |
                                     frame_bit(FrameType::kStats);
constexpr uint32_t kNodeAccepts = frame_bit(FrameType::kSnapshot) | frame_bit(FrameType::kLogAck) |
                                  frame_bit(FrameType::kPing) | frame_bit(FrameType::kPong);
constexpr uint32_t kAllFrames = 0xffffffffu;
const char* frame_type_name(FrameType t) noexcept;

struct FrameHeader {
  FrameType type = FrameType::kPing;
  uint32_t length = 0;
  uint64_t seq = 0;
};

// A whole frame as bytes.
std::string encode_frame(FrameType type, uint64_t seq, std::string_view payload);

// Incremental decoding of a byte stream: feed() whatever arrived, then take frames while
// next() returns true. After an error, error() says why and nothing more is decoded.
class FrameReader {
 public:
  // Frames of a type outside `mask` end the channel as soon as their header is read (before any
  // payload is buffered): each side accepts only what the other may send (kControlAccepts,
  // kNodeAccepts), and a caller may narrow it further (e.g. only hello before hello).
  explicit FrameReader(uint32_t mask = kAllFrames) : mask_(mask) {}
  void accept(uint32_t mask) noexcept { mask_ = mask; }
  // Consumes bytes; returns how many were taken (all, unless a frame is complete and waiting
  // to be taken with next(), or after an error).
  size_t feed(ByteSpan in);
  // The next complete frame: its header and payload (valid until the next feed or next).
  bool next(FrameHeader& h, std::string_view& payload);
  bool failed() const noexcept { return !error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  // Bytes of the frame being received (header and payload so far).
  size_t buffered() const noexcept { return buf_.size(); }

 private:
  static constexpr size_t kKeptBufferBytes = 1u << 20;  // capacity kept between frames
  bool check_header();
  void reset_frame();
  std::string buf_;
  FrameHeader cur_{};
  bool have_header_ = false;
  bool ready_ = false;
  bool taken_ = false;  // next() handed the frame out: it goes at the next feed()/next()
  uint32_t mask_ = kAllFrames;
  std::string error_;
};

}  // namespace mx::ipc
