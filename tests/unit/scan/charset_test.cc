// tests/unit/scan/charset_test.cc — text to UTF-8: validation, iconv, carried sequences.
#include "scan/charset.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/mime_types.h"

namespace mx::scan {
namespace {

class Collect : public TextOutput {
 public:
  void text(std::string_view s) override { out.append(s); }
  std::string out;
};

std::pair<std::string, uint64_t> convert(std::string_view charset, std::string_view in, size_t piece = 0) {
  static IconvCache cache;
  static TextConverter conv;  // large buffers
  conv.reset(charset, &cache);
  Collect c;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t len = piece ? std::min(piece, in.size() - pos) : in.size();
    conv.feed(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()) + pos, len), c);
    pos += len;
  }
  conv.finish(c);
  return {c.out, conv.flags()};
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Charset, Utf8PassesUnchanged) {
  const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 ascii";
  EXPECT_EQ(convert("utf-8", s), std::make_pair(s, uint64_t{0}));
  EXPECT_EQ(convert("us-ascii", "plain"), std::make_pair(std::string("plain"), uint64_t{0}));
}

TEST(Charset, InvalidUtf8ReplacedAndFlagged) {
  EXPECT_EQ(convert("utf-8", "a\xFF" "b"), std::make_pair("a" + kFffd + "b", uint64_t{kInvalidCharset}));
  EXPECT_EQ(convert("utf-8", "\xC0\xAF").first, kFffd + kFffd);                   // overlong
  EXPECT_EQ(convert("utf-8", "\xED\xA0\x80").first, kFffd + kFffd + kFffd);       // surrogate
  EXPECT_EQ(convert("utf-8", "\xF4\x90\x80\x80").first, kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(convert("utf-8", "cut \xE2\x82").first, "cut " + kFffd + kFffd);     // incomplete at end
}

TEST(Charset, SplitAnywhereGivesTheSameText) {
  const std::string s = "\xE2\x82\xAC" "a\xE2\x82" "b\xF0\x9F\x98\x80\xC3\xA9\xFF\xC3";
  for (const char* cs : {"utf-8", "iso-8859-1", "shift_jis", "utf-16le"}) {
    auto whole = convert(cs, s);
    for (size_t piece = 1; piece <= s.size(); ++piece) ASSERT_EQ(convert(cs, s, piece), whole) << cs << " " << piece;
  }
}

TEST(Charset, IconvCharsets) {
  EXPECT_EQ(convert("ISO-8859-1", "d\xE9j\xE0").first, "d\xC3\xA9j\xC3\xA0");
  EXPECT_EQ(convert("windows-1252", "\x93q\x94 \x80").first, "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC");
  EXPECT_EQ(convert("koi8-r", "\xD0\xD2").first, "\xD0\xBF\xD1\x80");
  EXPECT_EQ(convert("iso-2022-jp", "\x1B$BF|\x1B(B").first, "\xE6\x97\xA5");  // stateful
}

TEST(Charset, IconvInvalidSequencesReplaced) {
  auto r = convert("shift_jis", "a\x81");  // a lead byte without its trail byte at the end
  EXPECT_EQ(r.first, "a" + kFffd);
  EXPECT_TRUE(r.second & kInvalidCharset);
}

TEST(Charset, UnknownAndRefusedNamesReadAsUtf8) {
  auto r = convert("x-no-such-charset", "ok \xC3\xA9");
  EXPECT_EQ(r.first, "ok \xC3\xA9");
  EXPECT_TRUE(r.second & kUnknownCharset);
  char out[64];
  size_t len = 0;
  EXPECT_FALSE(normalize_charset("utf-8//TRANSLIT", out, len));
  EXPECT_FALSE(normalize_charset("../../etc/x", out, len));
  EXPECT_TRUE(normalize_charset("ISO-8859-15", out, len));
  EXPECT_EQ(std::string(out, len), "iso-8859-15");
}

TEST(Charset, CacheIsBounded) {
  IconvCache cache;
  const char* names[] = {"iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6",
                         "iso-8859-7", "iso-8859-8", "iso-8859-9", "koi8-r", "koi8-u", "cp1251"};
  for (int round = 0; round < 3; ++round)
    for (const char* n : names) EXPECT_NE(cache.get(n), nullptr) << n;
}

}  // namespace
}  // namespace mx::scan
