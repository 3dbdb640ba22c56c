// tests/unit/smtp/data_scanner_test.cc — the body scanner as a property: any message,
// dot-stuffed and terminated the RFC 5321 way, comes back byte for byte however it is split.
#include "smtp/data_scanner.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>

namespace mx::smtp {
namespace {

std::string stuff(const std::string& msg) {  // RFC 5321 4.5.2 sender side + end marker
  std::string out;
  bool line_start = true;
  for (char c : msg) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  return out + ".\r\n";
}

struct Result {
  std::string body;
  size_t consumed = 0;
  DataFlags flags;
  bool done = false;
};

Result scan_split(const std::string& wire, std::mt19937& rng, uint64_t max = 1 << 20,
                  BareNewlines policy = BareNewlines::kReject) {
  DataScanner s(max, policy);
  s.begin(true);
  Result r;
  size_t pos = 0;
  while (pos < wire.size() && !s.done()) {
    size_t piece = 1 + rng() % 40;
    piece = std::min(piece, wire.size() - pos);
    size_t n = s.scan(ByteSpan(reinterpret_cast<const uint8_t*>(wire.data() + pos), piece),
                      [&](ByteSpan b) { r.body.append(reinterpret_cast<const char*>(b.data()), b.size()); });
    r.consumed += n;
    pos += n;
    if (n < piece) break;
  }
  r.flags = s.flags();
  r.done = s.done();
  return r;
}

TEST(DataScanner, RoundTripsRandomWellFormedMessages) {
  std::mt19937 rng(2026);
  const char alphabet[] = "ab.\r\n .x";
  for (int iter = 0; iter < 3000; ++iter) {
    // Lines of random content (no bare CR/LF), each ending with CRLF; many start with dots.
    std::string msg;
    int lines = static_cast<int>(rng() % 12);
    for (int l = 0; l < lines; ++l) {
      int len = static_cast<int>(rng() % 30);
      for (int i = 0; i < len; ++i) {
        char c = alphabet[rng() % 8];
        if (c == '\r' || c == '\n') c = '.';
        msg += c;
      }
      msg += "\r\n";
    }
    std::string wire = stuff(msg) + "TRAILING";
    Result r = scan_split(wire, rng);
    ASSERT_TRUE(r.done) << iter;
    ASSERT_EQ(r.body, msg) << iter;
    ASSERT_EQ(r.consumed, wire.size() - 8) << "stops right after the end marker";
    ASSERT_FALSE(r.flags.any());
  }
}

TEST(DataScanner, OnlyCrLfDotCrLfEnds) {
  using namespace std::literals;
  std::mt19937 rng(1);
  for (std::string_view fake : {"\n.\n"sv, "\r.\r"sv, "\n.\r\n"sv, "\r\n.\n"sv, "\r\n.\r"sv, "\r\n \r\n"sv,
                                "\r\n..\r\n"sv, "\r\n.\0\r\n"sv, "\r\n\0.\r\n"sv}) {
    Result r = scan_split("x" + std::string(fake), rng);
    EXPECT_FALSE(r.done) << "ended early on an escaped form of " << r.body;
  }
}

TEST(DataScanner, FlagsBareNewlinesAndNul) {
  std::mt19937 rng(3);
  EXPECT_TRUE(scan_split("a\nb\r\n.\r\n", rng).flags.bare_lf);
  EXPECT_TRUE(scan_split("a\rb\r\n.\r\n", rng).flags.bare_cr);
  EXPECT_TRUE(scan_split(std::string("a\0b\r\n.\r\n", 8), rng).flags.nul);
  Result n = scan_split("a\nb\rc\r\n.\r\n", rng, 1 << 20, BareNewlines::kNormalize);
  EXPECT_EQ(n.body, "a\r\nb\r\nc\r\n");
}

TEST(DataScanner, LineLengthLimitIsExact) {
  std::mt19937 rng(4);
  EXPECT_FALSE(scan_split(std::string(998, 'x') + "\r\n.\r\n", rng).flags.long_line);
  EXPECT_TRUE(scan_split(std::string(999, 'x') + "\r\n.\r\n", rng).flags.long_line);
  // A stuffed dot does not count: ".": 998 characters of content after unstuffing.
  EXPECT_FALSE(scan_split("." + std::string(998, 'x') + "\r\n.\r\n", rng).flags.long_line);
}

TEST(DataScanner, OversizeDeliversExactlyTheLimit) {
  std::mt19937 rng(5);
  for (int i = 0; i < 50; ++i) {
    Result r = scan_split(std::string(100, 'x') + "\r\n.\r\n", rng, 37);
    EXPECT_TRUE(r.flags.oversize);
    EXPECT_EQ(r.body.size(), 37u);
    EXPECT_TRUE(r.done);
  }
}

// Differential: the 64-byte block path (whole buffer) against the byte path (one byte at a
// time, which never has 64 bytes to look at), on inputs built to hit block edges: CR as the
// last byte of a block, dots at line starts, NUL, bare CR/LF, lines around 998.
TEST(DataScanner, BlockPathMatchesBytePath) {
  std::mt19937 rng(77);
  for (int iter = 0; iter < 4000; ++iter) {
    std::string wire;
    int lines = 1 + static_cast<int>(rng() % 40);
    for (int l = 0; l < lines; ++l) {
      size_t len = rng() % 8 == 0 ? 990 + rng() % 12 : rng() % 130;
      std::string line(len, 'a');
      for (char& c : line) c = "abcdefgh .:"[rng() % 11];
      if (!line.empty() && rng() % 6 == 0) line[0] = '.';
      if (!line.empty() && rng() % 60 == 0) line[rng() % line.size()] = "\r\n\0"[rng() % 3];
      wire += line + "\r\n";
    }
    wire += rng() % 4 ? ".\r\n" : "";
    DataScanner whole(1 << 20, BareNewlines::kReject), bytes(1 << 20, BareNewlines::kReject);
    whole.begin(true);
    bytes.begin(true);
    std::string a, b;
    size_t na = whole.scan(ByteSpan(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()),
                           [&](ByteSpan x) { a.append(reinterpret_cast<const char*>(x.data()), x.size()); });
    size_t nb = 0;
    while (nb < wire.size() && !bytes.done())
      nb += bytes.scan(ByteSpan(reinterpret_cast<const uint8_t*>(wire.data()) + nb, 1),
                       [&](ByteSpan x) { b.append(reinterpret_cast<const char*>(x.data()), x.size()); });
    ASSERT_EQ(na, nb) << iter;
    ASSERT_EQ(a, b) << iter;
    ASSERT_EQ(whole.done(), bytes.done()) << iter;
    const DataFlags &fa = whole.flags(), &fb = bytes.flags();
    ASSERT_EQ(std::tie(fa.bare_lf, fa.bare_cr, fa.nul, fa.long_line, fa.oversize),
              std::tie(fb.bare_lf, fb.bare_cr, fb.nul, fb.long_line, fb.oversize))
        << iter;
  }
}

TEST(FindLineSpecial, AgreesWithAByteLoop) {
  std::mt19937 rng(6);
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 100, 'a');
    if (!s.empty() && rng() % 2) s[rng() % s.size()] = "\r\n\0"[rng() % 3];
    size_t expect = s.size();
    for (size_t k = 0; k < s.size(); ++k)
      if (s[k] == '\r' || s[k] == '\n' || s[k] == '\0') {
        expect = k;
        break;
      }
    ASSERT_EQ(find_line_special(reinterpret_cast<const uint8_t*>(s.data()), s.size()), expect);
  }
}

}  // namespace
}  // namespace mx::smtp
