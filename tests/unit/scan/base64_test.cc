// tests/unit/scan/base64_test.cc — RFC 4648/2045 vectors, and the AVX2 block path against the
// scalar path: same bytes and flags on random input, with every invalid character position.
#include "scan/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "scan/mime_types.h"

namespace mx::scan {
namespace {

std::string encode(const std::string& in) {  // RFC 4648 4, for building inputs
  static const char* kAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16 | uint32_t{static_cast<uint8_t>(in[i + 1])} << 8 |
                 static_cast<uint8_t>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlpha[(v >> (6 * k)) & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    out += std::string{kAlpha[v >> 18], kAlpha[(v >> 12) & 63]} + "==";
  } else if (in.size() - i == 2) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16 | uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += std::string{kAlpha[v >> 18], kAlpha[(v >> 12) & 63], kAlpha[(v >> 6) & 63]} + "=";
  }
  return out;
}

struct Decoded {
  std::string bytes;
  uint64_t flags = 0;
  bool operator==(const Decoded&) const = default;
};

// Decodes `in` in pieces of `piece` bytes (0: whole).
Decoded decode(const std::string& in, Base64Impl impl, size_t piece = 0) {
  Base64Decoder d(impl);
  Decoded r;
  std::string out(Base64Decoder::max_output(in.size()) + 16, '\0');
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  size_t pos = 0, n = 0;
  while (pos < in.size()) {
    size_t len = piece ? std::min(piece, in.size() - pos) : in.size();
    n += d.decode(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()) + pos, len), o + n);
    pos += len;
  }
  n += d.finish(o + n);
  r.bytes = out.substr(0, n);
  r.flags = d.flags();
  return r;
}

TEST(Base64, Rfc4648Vectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(decode(enc[i], Base64Impl::kScalar), (Decoded{plain[i], 0})) << enc[i];
    EXPECT_EQ(encode(plain[i]), enc[i]);
  }
}

TEST(Base64, WhitespaceIgnoredInvalidSkippedAndFlagged) {
  EXPECT_EQ(decode("Zm9v\r\nYmFy", Base64Impl::kScalar), (Decoded{"foobar", 0}));
  EXPECT_EQ(decode(" Zm 9v\tYm Fy ", Base64Impl::kScalar), (Decoded{"foobar", 0}));
  EXPECT_EQ(decode("Zm9v*YmFy", Base64Impl::kScalar), (Decoded{"foobar", kInvalidBase64}));
  EXPECT_EQ(decode("Zm8=Zm9v", Base64Impl::kScalar), (Decoded{"fofoo", kBase64AfterPadding}));
  EXPECT_EQ(decode("Zm9vY", Base64Impl::kScalar), (Decoded{"foo", kBase64Truncated}));
  EXPECT_EQ(decode("Zm9vYg", Base64Impl::kScalar), (Decoded{"foob", kBase64Truncated}));
  EXPECT_EQ(decode("=Zm9v", Base64Impl::kScalar), (Decoded{"foo", kInvalidBase64 | kBase64AfterPadding}));
}

TEST(Base64, SplitAnywhereGivesTheSameResult) {
  std::mt19937 rng(7);
  std::string plain(3000, '\0');
  for (auto& c : plain) c = static_cast<char>(rng());
  std::string enc = encode(plain);
  for (size_t i = 76; i < enc.size(); i += 78) enc.insert(i, "\r\n");
  for (auto impl : {Base64Impl::kScalar, Base64Impl::kAvx2})
    for (size_t piece : {1, 2, 3, 5, 31, 32, 33, 64, 77, 1000})
      ASSERT_EQ(decode(enc, impl, piece), (Decoded{plain, 0})) << piece;
}

class Base64Avx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!base64_avx2_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  }
};

TEST_F(Base64Avx2, MatchesScalarOnRandomValidInput) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 500; ++iter) {
    std::string plain(rng() % 700, '\0');
    for (auto& c : plain) c = static_cast<char>(rng());
    std::string enc = encode(plain);
    const size_t width = 4 + rng() % 100;  // lines of any length, CRLF or LF
    for (size_t i = width; i < enc.size(); i += width + 2) enc.insert(i, rng() % 2 ? "\r\n" : " \n");
    Decoded s = decode(enc, Base64Impl::kScalar);
    ASSERT_EQ(s, (Decoded{plain, 0}));
    ASSERT_EQ(decode(enc, Base64Impl::kAvx2), s) << iter;
    ASSERT_EQ(decode(enc, Base64Impl::kAvx2, 1 + rng() % 50), s) << iter;
  }
}

TEST_F(Base64Avx2, MatchesScalarWithEveryInvalidCharacterPosition) {
  std::mt19937 rng(12);
  std::string plain(96, '\0');
  for (auto& c : plain) c = static_cast<char>(rng());
  const std::string enc = encode(plain);  // 128 characters: four 32-character blocks
  const char bad[] = {'*', '-', '_', '=', ' ', '\r', '\n', '\0', '\x80', '\xff', '@', '[', '`', '{', ':', '.'};
  for (size_t pos = 0; pos < enc.size(); ++pos) {
    for (char b : bad) {
      std::string in = enc;
      in[pos] = b;
      Decoded s = decode(in, Base64Impl::kScalar);
      ASSERT_EQ(decode(in, Base64Impl::kAvx2), s) << "pos " << pos << " char " << int(b);
      in.insert(pos, 1, b);  // inserted rather than replaced
      ASSERT_EQ(decode(in, Base64Impl::kAvx2), decode(in, Base64Impl::kScalar)) << "insert " << pos;
    }
  }
}

TEST_F(Base64Avx2, MatchesScalarOnRandomBytes) {
  std::mt19937 rng(13);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int iter = 0; iter < 2000; ++iter) {
    std::string in(rng() % 300, '\0');
    for (auto& c : in) c = rng() % 20 ? alphabet[rng() % 64] : static_cast<char>(rng());
    ASSERT_EQ(decode(in, Base64Impl::kAvx2), decode(in, Base64Impl::kScalar)) << iter;
  }
}

}  // namespace
}  // namespace mx::scan
