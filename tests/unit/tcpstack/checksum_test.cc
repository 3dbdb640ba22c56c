// tests/unit/tcpstack/checksum_test.cc
#include "tcpstack/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace mx::net {
namespace {

// Reference: RFC 1071 summing 16-bit words one at a time.
uint16_t reference_checksum(const std::vector<uint8_t>& d) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < d.size(); i += 2) sum += (d[i] << 8) | d[i + 1];
  if (d.size() % 2) sum += d.back() << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 before complement.
  std::vector<uint8_t> d{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(inet_checksum(d), static_cast<uint16_t>(~0xddf2));
}

TEST(Checksum, MatchesReferenceForEveryLengthAndRandomData) {
  std::mt19937 rng(7);
  for (size_t len = 0; len < 300; ++len) {
    std::vector<uint8_t> d(len);
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(inet_checksum(d), reference_checksum(d)) << "len " << len;
  }
}

TEST(Checksum, HeaderWithItsChecksumVerifiesToZero) {
  std::vector<uint8_t> h{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  uint16_t c = inet_checksum(h);
  EXPECT_EQ(c, 0xb861);  // the well-known example header
  h[10] = static_cast<uint8_t>(c >> 8);
  h[11] = static_cast<uint8_t>(c);
  EXPECT_EQ(inet_checksum(h), 0);
}

TEST(Checksum, IncrementalUpdateMatchesFullRecomputation) {
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> d(2 + rng() % 200);
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    d[0] = d[1] = 0;  // checksum field
    uint16_t c = inet_checksum(d);
    size_t w = 2 * (1 + rng() % ((d.size() - 1) / 2 ? (d.size() - 1) / 2 : 1));
    if (w + 1 >= d.size()) continue;
    uint16_t old_word = static_cast<uint16_t>((d[w] << 8) | d[w + 1]);
    uint16_t new_word = static_cast<uint16_t>(rng());
    d[w] = static_cast<uint8_t>(new_word >> 8);
    d[w + 1] = static_cast<uint8_t>(new_word);
    uint16_t updated = csum_update16(c, old_word, new_word);
    d[0] = static_cast<uint8_t>(updated >> 8);
    d[1] = static_cast<uint8_t>(updated);
    ASSERT_EQ(inet_checksum(d), 0) << "round " << round;  // the updated field verifies
  }
}

TEST(Checksum, AllOnesFolds) {
  std::vector<uint8_t> d(1000, 0xff);
  EXPECT_EQ(inet_checksum(d), reference_checksum(d));
}

}  // namespace
}  // namespace mx::net
