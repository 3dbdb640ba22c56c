// tests/unit/scan/encoded_word_test.cc — RFC 2047 encoded words to UTF-8.
#include "scan/encoded_word.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/charset.h"
#include "scan/mime_types.h"

namespace mx::scan {
namespace {

struct Out {
  std::string text;
  EncodedWordResult r;
};

Out decode(std::string_view in) {
  static IconvCache cache;
  char buf[1024];
  size_t len = 0;
  Out o;
  o.r = decode_encoded_words(in, &cache, buf, sizeof(buf), len);
  o.text.assign(buf, len);
  return o;
}

TEST(EncodedWord, BAndQ) {
  EXPECT_EQ(decode("=?UTF-8?B?w4lsw6h2ZQ==?=").text, "\xC3\x89l\xC3\xA8ve");
  EXPECT_EQ(decode("=?iso-8859-1?q?caf=E9_cr=E8me?=").text, "caf\xC3\xA9 cr\xC3\xA8me");
  EXPECT_TRUE(decode("=?utf-8?q?x?=").r.decoded);
  EXPECT_FALSE(decode("plain text").r.decoded);
}

TEST(EncodedWord, WhitespaceBetweenAdjacentWordsIsDropped) {  // RFC 2047 6.2
  EXPECT_EQ(decode("=?utf-8?q?a?= =?utf-8?q?b?=").text, "ab");
  EXPECT_EQ(decode("=?utf-8?q?a?=\r\n =?utf-8?q?b?=").text, "ab");
  EXPECT_EQ(decode("=?utf-8?q?a?= x =?utf-8?q?b?=").text, "a x b");
  EXPECT_EQ(decode("pre =?utf-8?q?a?= post").text, "pre a post");
}

TEST(EncodedWord, MultibyteSplitAcrossWordsDecodesWhole) {
  // U+20AC (E2 82 AC) split between two B words of the same charset.
  EXPECT_EQ(decode("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=").text, "\xE2\x82\xAC");
}

TEST(EncodedWord, LanguageSuffixAndOtherCharsets) {
  EXPECT_EQ(decode("=?US-ASCII*EN?Q?Keith_Moore?=").text, "Keith Moore");  // RFC 2231 5
  EXPECT_EQ(decode("=?koi8-r?B?0NLJ18XU?=").text, "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
  EXPECT_EQ(decode("=?shift_jis?B?k/qWe4zq?=").text, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
}

TEST(EncodedWord, MalformedIsLiteralAndFlagged) {
  Out o = decode("=?utf-8?X?abc?= tail");
  EXPECT_EQ(o.text, "=?utf-8?X?abc?= tail");
  EXPECT_TRUE(o.r.flags & kEncodedWordInvalid);
  EXPECT_EQ(decode("what is 2+2=? four").r.flags, 0u);  // "=?" with no "?=" after it: plain text
  Out u = decode("=?x-no-such-charset?q?abc?=");
  EXPECT_EQ(u.text, "abc");
  EXPECT_TRUE(u.r.flags & kUnknownCharset);
}

TEST(EncodedWord, OutputIsBounded) {
  static IconvCache cache;
  char buf[8];
  size_t len = 0;
  EncodedWordResult r = decode_encoded_words("=?utf-8?q?0123456789?=", &cache, buf, sizeof(buf), len);
  EXPECT_EQ(len, 8u);
  EXPECT_TRUE(r.flags & kHeaderTruncated);
}

}  // namespace
}  // namespace mx::scan
