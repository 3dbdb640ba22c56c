// tests/unit/ipc/frame_test.cc — IPC framing: round trips split at every byte, and every kind
// of bad header ends the channel with a reason before any payload is buffered.
#include "ipc/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::ipc {
namespace {

ByteSpan bytes(std::string_view s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

struct Got {
  FrameType type;
  uint64_t seq;
  std::string payload;
};

// Feeds `stream` in pieces of `step` bytes and collects every frame.
std::vector<Got> decode(const std::string& stream, size_t step, FrameReader& r) {
  std::vector<Got> out;
  size_t pos = 0;
  while (pos < stream.size() && !r.failed()) {
    const size_t n = std::min(step, stream.size() - pos);
    size_t used = 0;
    while (used < n && !r.failed()) {
      used += r.feed(bytes(std::string_view(stream).substr(pos + used, n - used)));
      FrameHeader h;
      std::string_view p;
      while (r.next(h, p)) out.push_back(Got{h.type, h.seq, std::string(p)});
    }
    pos += n;
  }
  return out;
}

TEST(IpcFrame, RoundTripsWhateverTheSplit) {
  const std::string stream = encode_frame(FrameType::kHello, 7, "node-a") + encode_frame(FrameType::kSnapshot, 42, "[[tenant]]\nname = \"x\"\n") +
                             encode_frame(FrameType::kAck, 42, "") + encode_frame(FrameType::kLogBatch, 1000, "{\"a\":1}\n{\"b\":2}\n") +
                             encode_frame(FrameType::kPing, 3, "");
  for (size_t step = 1; step <= stream.size(); ++step) {
    FrameReader r;
    const auto got = decode(stream, step, r);
    ASSERT_FALSE(r.failed()) << r.error();
    ASSERT_EQ(got.size(), 5u) << "step " << step;
    EXPECT_EQ(got[0].type, FrameType::kHello);
    EXPECT_EQ(got[0].seq, 7u);
    EXPECT_EQ(got[0].payload, "node-a");
    EXPECT_EQ(got[1].type, FrameType::kSnapshot);
    EXPECT_EQ(got[1].seq, 42u);
    EXPECT_EQ(got[1].payload, "[[tenant]]\nname = \"x\"\n");
    EXPECT_EQ(got[2].type, FrameType::kAck);
    EXPECT_EQ(got[2].payload, "");
    EXPECT_EQ(got[3].seq, 1000u);
    EXPECT_EQ(got[4].type, FrameType::kPing);
    EXPECT_EQ(r.buffered(), 0u);
  }
}

TEST(IpcFrame, HeaderIsBigEndianAsDocumented) {
  const std::string f = encode_frame(FrameType::kNack, 0x0102030405060708ull, "why");
  ASSERT_EQ(f.size(), kFrameHeaderBytes + 3);
  EXPECT_EQ(f.substr(0, 4), "MXIP");
  EXPECT_EQ(std::string(f.data() + 4, 4), std::string("\x00\x01\x00\x04", 4));
  EXPECT_EQ(std::string(f.data() + 8, 8), std::string("\x00\x00\x00\x03\x00\x00\x00\x00", 8));
  EXPECT_EQ(std::string(f.data() + 16, 8), "\x01\x02\x03\x04\x05\x06\x07\x08");
}

std::string with(std::string f, size_t at, std::string_view bytes_at) {
  f.replace(at, bytes_at.size(), bytes_at);
  return f;
}

TEST(IpcFrame, BadHeadersEndTheChannelWithAReason) {
  const std::string ok = encode_frame(FrameType::kLogAck, 1, "");
  struct Case {
    std::string stream;
    std::string reason;
  } cases[] = {
      {with(ok, 0, "HTTP"), "not an mxgate IPC stream"},
      {with(ok, 4, std::string("\x00\x02", 2)), "IPC version 2, this side speaks 1"},
      {with(ok, 6, std::string("\x00\x00", 2)), "unknown frame type 0"},
      {with(ok, 6, std::string("\x00\x63", 2)), "unknown frame type 99"},
      {with(ok, 12, std::string("\x00\x00\x00\x01", 4)), "reserved flags"},
      {with(ok, 8, std::string("\x00\x00\x00\x01", 4)), "log-ack frame of 1 bytes exceeds its limit of 0"},
      {with(encode_frame(FrameType::kHello, 0, ""), 8, std::string("\x00\x00\x01\x01", 4)), "hello frame of 257 bytes"},
      {with(encode_frame(FrameType::kSnapshot, 0, ""), 8, std::string("\x7f\xff\xff\xff", 4)), "snapshot frame of 2147483647 bytes"},
  };
  for (const Case& c : cases) {
    FrameReader r;
    const auto got = decode(c.stream + std::string(100, 'x'), 3, r);
    EXPECT_TRUE(got.empty());
    ASSERT_TRUE(r.failed()) << c.reason;
    EXPECT_NE(r.error().find(c.reason), std::string::npos) << r.error();
    EXPECT_LE(r.buffered(), kFrameHeaderBytes) << "no payload buffered after a bad header";
    EXPECT_EQ(r.feed(bytes("more")), 0u) << "nothing more is read after an error";
  }
}

// A frame that is not taken holds the reader: feed() takes nothing more until next().
TEST(IpcFrame, ACompleteFrameWaitsToBeTaken) {
  const std::string two = encode_frame(FrameType::kPing, 1, "") + encode_frame(FrameType::kPong, 1, "");
  FrameReader r;
  EXPECT_EQ(r.feed(bytes(two)), kFrameHeaderBytes);
  EXPECT_EQ(r.feed(bytes(std::string_view(two).substr(kFrameHeaderBytes))), 0u);
  FrameHeader h;
  std::string_view p;
  ASSERT_TRUE(r.next(h, p));
  EXPECT_EQ(h.type, FrameType::kPing);
  EXPECT_FALSE(r.next(h, p));
  EXPECT_EQ(r.feed(bytes(std::string_view(two).substr(kFrameHeaderBytes))), kFrameHeaderBytes);
  ASSERT_TRUE(r.next(h, p));
  EXPECT_EQ(h.type, FrameType::kPong);
}

// Each side accepts only what the other may send; a frame of another type ends the channel as
// soon as its header is read, before any of its (possibly huge) payload is buffered.
TEST(IpcFrame, ATypeTheSideDoesNotAcceptIsRefusedAtItsHeader) {
  FrameReader control(kControlAccepts);
  std::string big = encode_frame(FrameType::kSnapshot, 1, "");
  big.replace(8, 4, std::string("\x10\x00\x00\x00", 4));  // announces 256 MiB
  EXPECT_EQ(control.feed(bytes(big + "payload")), kFrameHeaderBytes);
  ASSERT_TRUE(control.failed());
  EXPECT_NE(control.error().find("a snapshot frame is not expected here"), std::string::npos) << control.error();
  EXPECT_LE(control.buffered(), kFrameHeaderBytes);
  FrameReader node(kNodeAccepts);
  node.feed(bytes(encode_frame(FrameType::kHello, 0, "x")));
  EXPECT_TRUE(node.failed());
  // Narrowed: only hello before hello, then the rest.
  FrameReader fresh(frame_bit(FrameType::kHello));
  fresh.feed(bytes(encode_frame(FrameType::kLogBatch, 0, "{}\n")));
  EXPECT_TRUE(fresh.failed());
  FrameReader ok(frame_bit(FrameType::kHello));
  ok.feed(bytes(encode_frame(FrameType::kHello, 0, "n")));
  FrameHeader h;
  std::string_view p;
  ASSERT_TRUE(ok.next(h, p));
  ok.accept(kControlAccepts);
  ok.feed(bytes(encode_frame(FrameType::kAck, 3, "")));
  ASSERT_TRUE(ok.next(h, p));
  EXPECT_EQ(h.type, FrameType::kAck);
  EXPECT_FALSE(ok.failed());
}

// The stats frame: node -> control only, its own bound (1 MiB), checked at the header.
TEST(IpcFrame, StatsFrameBoundAndDirection) {
  EXPECT_EQ(max_payload(FrameType::kStats), kMaxStatsBytes);
  EXPECT_EQ(kMaxStatsBytes, 1u << 20);
  EXPECT_STREQ(frame_type_name(FrameType::kStats), "stats");
  EXPECT_NE(kControlAccepts & frame_bit(FrameType::kStats), 0u);
  EXPECT_EQ(kNodeAccepts & frame_bit(FrameType::kStats), 0u);
  const std::string text = "# TYPE mxgate_sessions_total counter\nmxgate_sessions_total 4\n";
  const std::string at_bound(kMaxStatsBytes, 'x');
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
    FrameReader control(kControlAccepts);
    const auto got = decode(encode_frame(FrameType::kStats, 0, text) + encode_frame(FrameType::kStats, 0, at_bound),
                            step, control);
    ASSERT_FALSE(control.failed()) << control.error();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, FrameType::kStats);
    EXPECT_EQ(got[0].payload, text);
    EXPECT_EQ(got[1].payload.size(), kMaxStatsBytes);
  }
  // One byte over: refused at the header, nothing of the payload buffered.
  FrameReader control(kControlAccepts);
  std::string over = encode_frame(FrameType::kStats, 0, "");
  over.replace(8, 4, std::string("\x00\x10\x00\x01", 4));
  EXPECT_EQ(control.feed(bytes(over + "payload")), kFrameHeaderBytes);
  ASSERT_TRUE(control.failed());
  EXPECT_NE(control.error().find("stats frame of 1048577 bytes exceeds its limit of 1048576"), std::string::npos)
      << control.error();
  EXPECT_LE(control.buffered(), kFrameHeaderBytes);
  // A node does not take one; nor does control before hello.
  FrameReader node(kNodeAccepts);
  node.feed(bytes(encode_frame(FrameType::kStats, 0, text)));
  ASSERT_TRUE(node.failed());
  EXPECT_NE(node.error().find("a stats frame is not expected here"), std::string::npos) << node.error();
  FrameReader fresh(frame_bit(FrameType::kHello));
  fresh.feed(bytes(encode_frame(FrameType::kStats, 0, text)));
  EXPECT_TRUE(fresh.failed());
  // What an older reader (types up to 8) says of it is the unknown-type refusal: type 10 here.
  FrameReader any;
  any.feed(bytes(with(encode_frame(FrameType::kStats, 0, ""), 6, std::string("\x00\x0a", 2))));
  ASSERT_TRUE(any.failed());
  EXPECT_NE(any.error().find("unknown frame type 10"), std::string::npos) << any.error();
}

}  // namespace
}  // namespace mx::ipc
