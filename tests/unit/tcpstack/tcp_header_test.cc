// tests/unit/tcpstack/tcp_header_test.cc — sequence arithmetic, TCP header and options parsing,
// and RFC 6528 ISNs (groundwork for the TCP issue).
#include "tcpstack/tcp_header.h"

#include <gtest/gtest.h>

#include <vector>

#include "tcpstack/isn.h"

namespace mx::net {
namespace {

using Bytes = std::vector<uint8_t>;
const Ipv4Addr kSrc{0xC6120001}, kDst{0xC6120002};

Bytes segment(uint8_t flags, const Bytes& options = {}, const Bytes& payload = {}, uint16_t urgent = 0) {
  Bytes s(20 + options.size());
  store_be16(&s[0], 40000);
  store_be16(&s[2], 25);
  store_be32(&s[4], 0xFFFFFFF0u);
  store_be32(&s[8], 0x10u);
  s[12] = static_cast<uint8_t>((s.size() / 4) << 4);
  s[13] = flags;
  store_be16(&s[14], 65535);
  store_be16(&s[18], urgent);
  std::copy(options.begin(), options.end(), s.begin() + 20);
  s.insert(s.end(), payload.begin(), payload.end());
  store_be16(&s[16], tcp_checksum(s, kSrc, kDst));
  return s;
}

TEST(SeqNum, WrapsAround) {
  SeqNum a(0xFFFFFFF0u), b(0x10u);
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_TRUE(seq_gt(b, a));
  EXPECT_EQ(seq_diff(b, a), 0x20u);
  EXPECT_EQ(a + 0x20u, b);
  EXPECT_TRUE(seq_in_window(SeqNum(0x5), a, 0x20));
  EXPECT_FALSE(seq_in_window(SeqNum(0x10), a, 0x20));
  EXPECT_TRUE(seq_le(a, a));
  EXPECT_FALSE(seq_lt(a, a));
}

TEST(TcpHeader, ParsesSynWithEveryOption) {
  Bytes opts{2, 4, 0x05, 0xb4,                      // MSS 1460
             1, 3, 3, 7,                            // NOP, WS 7
             4, 2,                                  // SACK permitted
             8, 10, 0, 0, 0, 1, 0, 0, 0, 0};        // timestamps 1, 0 (20 bytes in all)
  TcpSegment s;
  ASSERT_EQ(parse_tcp(segment(kTcpSyn, opts), kSrc, kDst, false, s), TcpVerdict::kOk);
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_port, 25);
  EXPECT_EQ(s.seq, SeqNum(0xFFFFFFF0u));
  EXPECT_EQ(s.opt.mss, 1460);
  EXPECT_EQ(s.opt.wscale, 7);
  EXPECT_TRUE(s.opt.sack_permitted);
  EXPECT_TRUE(s.opt.has_timestamps);
  EXPECT_EQ(s.opt.ts_val, 1u);
  EXPECT_EQ(s.seg_len(), 1u);
}

TEST(TcpHeader, SackBlocksAndPayload) {
  Bytes opts{1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 20, 0, 0, 0, 30};
  TcpSegment s;
  ASSERT_EQ(parse_tcp(segment(kTcpAck | kTcpFin, opts, Bytes(5, 'x')), kSrc, kDst, false, s), TcpVerdict::kOk);
  ASSERT_EQ(s.opt.sack_count, 2);
  EXPECT_EQ(s.opt.sack[1].left, SeqNum(20));
  EXPECT_EQ(s.payload.size(), 5u);
  EXPECT_EQ(s.seg_len(), 6u);
}

TEST(TcpHeader, MalformedSegmentsAreNamed) {
  TcpSegment s;
  Bytes good = segment(kTcpAck);
  for (size_t n = 0; n < 20; ++n) EXPECT_EQ(parse_tcp(Bytes(good.begin(), good.begin() + n), kSrc, kDst, true, s), TcpVerdict::kShort);
  Bytes off = good;
  off[12] = 0x40;  // data offset 4
  EXPECT_EQ(parse_tcp(off, kSrc, kDst, true, s), TcpVerdict::kDataOffset);
  off[12] = 0xF0;  // 60 bytes in a 20-byte segment
  EXPECT_EQ(parse_tcp(off, kSrc, kDst, true, s), TcpVerdict::kDataOffset);
  Bytes bad = good;
  bad[16] ^= 1;
  EXPECT_EQ(parse_tcp(bad, kSrc, kDst, false, s), TcpVerdict::kChecksum);
  EXPECT_EQ(parse_tcp(good, kSrc, Ipv4Addr{0xC6120003}, false, s), TcpVerdict::kChecksum);  // pseudo-header
  for (const Bytes& o : {Bytes{2, 0, 0, 0}, Bytes{2, 1, 0, 0}, Bytes{2, 8, 0, 0}, Bytes{1, 1, 1, 2}, Bytes{2, 3, 5, 0},
                         Bytes{3, 4, 1, 0}, Bytes{5, 2, 0, 0}, Bytes{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                         Bytes{8, 6, 0, 0, 0, 0, 0, 0}, Bytes{4, 3, 0, 0}})
    EXPECT_EQ(parse_tcp(segment(kTcpAck, o), kSrc, kDst, false, s), TcpVerdict::kBadOption);
  EXPECT_EQ(parse_tcp(segment(kTcpAck | kTcpUrg, {}, Bytes(3, 'x'), 4), kSrc, kDst, false, s), TcpVerdict::kUrgentPastEnd);
  EXPECT_EQ(parse_tcp(segment(kTcpAck | kTcpUrg, {}, Bytes(3, 'x'), 3), kSrc, kDst, false, s), TcpVerdict::kOk);
  for (uint8_t f : {uint8_t{0}, uint8_t{kTcpPsh}, uint8_t{kTcpSyn | kTcpFin}, uint8_t{kTcpSyn | kTcpRst}})
    EXPECT_EQ(parse_tcp(segment(f), kSrc, kDst, false, s), TcpVerdict::kBadFlags) << int(f);
}

TEST(TcpHeader, UnknownOptionsAreSkippedAndWindowShiftClamped) {
  TcpSegment s;
  ASSERT_EQ(parse_tcp(segment(kTcpSyn, {30, 6, 1, 2, 3, 4, 3, 3, 15, 0, 0, 0}), kSrc, kDst, false, s), TcpVerdict::kOk);
  EXPECT_EQ(s.opt.wscale, 14);
}

TEST(SipHash, PaperTestVector) {
  // SipHash-2-4, key 00..0f, message 00..0e: a129ca6149be45e5 (the algorithm's reference vector).
  uint8_t m[15];
  for (int i = 0; i < 15; ++i) m[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, ByteSpan(m, 15)), 0xa129ca6149be45e5ull);
}

TEST(Isn, KeyedPerTupleAndAdvancingWithTheClock) {
  IsnGenerator g(1, 2), other(3, 4);
  SeqNum a = g.isn(kDst, 25, kSrc, 40000, Tick{0});
  EXPECT_EQ(g.isn(kDst, 25, kSrc, 40000, Tick{0}), a);
  EXPECT_NE(g.isn(kDst, 25, kSrc, 40001, Tick{0}), a);
  EXPECT_NE(other.isn(kDst, 25, kSrc, 40000, Tick{0}), a);
  EXPECT_EQ(seq_diff(g.isn(kDst, 25, kSrc, 40000, Tick{4000 * 250}), a), 250u);  // 4 us per tick
}

}  // namespace
}  // namespace mx::net
