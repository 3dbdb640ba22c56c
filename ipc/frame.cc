// ipc/frame.cc — encoding and incremental, bounded decoding of IPC frames (ipc/frame.h).
#include "ipc/frame.h"

#include <algorithm>
#include <cstdio>

namespace mx::ipc {
namespace {

uint64_t load_be64(const uint8_t* p) noexcept {
  return static_cast<uint64_t>(load_be32(p)) << 32 | load_be32(p + 4);
}

void store_be64(uint8_t* p, uint64_t v) noexcept {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace

uint32_t max_payload(FrameType t) noexcept {
  switch (t) {
    case FrameType::kHello: return kMaxHelloBytes;
    case FrameType::kSnapshot: return kMaxSnapshotBytes;
    case FrameType::kAck: return 0;
    case FrameType::kNack: return kMaxReasonBytes;
    case FrameType::kLogBatch: return kMaxLogBatchBytes;
    case FrameType::kLogAck: return 0;
    case FrameType::kPing:
    case FrameType::kPong: return kMaxPingBytes;
    case FrameType::kStats: return kMaxStatsBytes;
  }
  return 0;
}

const char* frame_type_name(FrameType t) noexcept {
  switch (t) {
    case FrameType::kHello: return "hello";
    case FrameType::kSnapshot: return "snapshot";
    case FrameType::kAck: return "ack";
    case FrameType::kNack: return "nack";
    case FrameType::kLogBatch: return "log-batch";
    case FrameType::kLogAck: return "log-ack";
    case FrameType::kPing: return "ping";
    case FrameType::kPong: return "pong";
    case FrameType::kStats: return "stats";
  }
  return "unknown";
}

std::string encode_frame(FrameType type, uint64_t seq, std::string_view payload) {
  std::string out(kFrameHeaderBytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  store_be32(p, kIpcMagic);
  store_be16(p + 4, kIpcVersion);
  store_be16(p + 6, static_cast<uint16_t>(type));
  store_be32(p + 8, static_cast<uint32_t>(payload.size()));
  store_be32(p + 12, 0);
  store_be64(p + 16, seq);
  out.append(payload);
  return out;
}

bool FrameReader::check_header() {
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data());
  char msg[160];
  const uint32_t magic = load_be32(p);
  const uint16_t version = load_be16(p + 4);
  const uint16_t type = load_be16(p + 6);
  const uint32_t length = load_be32(p + 8);
  const uint32_t flags = load_be32(p + 12);
  if (magic != kIpcMagic) {
    std::snprintf(msg, sizeof msg, "not an mxgate IPC stream (magic 0x%08x)", magic);
  } else if (version != kIpcVersion) {
    std::snprintf(msg, sizeof msg, "IPC version %u, this side speaks %u", version, kIpcVersion);
  } else if (type == 0 || type > kFrameTypeMax) {
    std::snprintf(msg, sizeof msg, "unknown frame type %u", type);
  } else if ((mask_ & frame_bit(static_cast<FrameType>(type))) == 0) {
    std::snprintf(msg, sizeof msg, "a %s frame is not expected here", frame_type_name(static_cast<FrameType>(type)));
  } else if (flags != 0) {
    std::snprintf(msg, sizeof msg, "reserved flags 0x%08x set", flags);
  } else if (length > max_payload(static_cast<FrameType>(type))) {
    std::snprintf(msg, sizeof msg, "%s frame of %u bytes exceeds its limit of %u",
                  frame_type_name(static_cast<FrameType>(type)), length, max_payload(static_cast<FrameType>(type)));
  } else {
    cur_ = FrameHeader{static_cast<FrameType>(type), length, load_be64(p + 16)};
    return true;
  }
  error_ = msg;
  return false;
}

size_t FrameReader::feed(ByteSpan in) {
  if (taken_) reset_frame();
  if (failed() || ready_) return 0;
  size_t used = 0;
  while (used < in.size() && !ready_ && !failed()) {
    const size_t want = have_header_ ? kFrameHeaderBytes + cur_.length : kFrameHeaderBytes;
    const size_t take = std::min(want - buf_.size(), in.size() - used);
    buf_.append(reinterpret_cast<const char*>(in.data()) + used, take);
    used += take;
    if (buf_.size() < want) break;
    if (have_header_) {
      ready_ = true;
    } else if (check_header()) {
      have_header_ = true;
      ready_ = cur_.length == 0;
    }
  }
  return used;
}

bool FrameReader::next(FrameHeader& h, std::string_view& payload) {
  if (taken_) reset_frame();
  if (!ready_) return false;
  h = cur_;
  payload = std::string_view(buf_).substr(kFrameHeaderBytes, cur_.length);
  taken_ = true;
  return true;
}

void FrameReader::reset_frame() {
  buf_.clear();
  if (buf_.capacity() > kKeptBufferBytes) buf_.shrink_to_fit();  // a snapshot is not kept around
  have_header_ = ready_ = taken_ = false;
}

}  // namespace mx::ipc
