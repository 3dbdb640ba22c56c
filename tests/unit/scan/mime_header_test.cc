// tests/unit/scan/mime_header_test.cc — Content-Type/Disposition parameters and RFC 2231.
#include "scan/mime_header.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scan/charset.h"
#include "scan/mime_types.h"

namespace mx::scan {
namespace {

struct Values {
  std::vector<std::pair<std::string, ParamForm>> v;
  uint64_t flags = 0;
};

Values values(std::string_view field, std::string_view name) {
  static IconvCache cache;
  static ParsedHeader h;  // large: not on the stack
  h.parse(field);
  ParamValue out[8];
  char scratch[1024];
  Values r;
  size_t n = param_values(h, name, &cache, out, 8, scratch, sizeof(scratch), r.flags);
  for (size_t i = 0; i < n; ++i) r.v.emplace_back(std::string(out[i].value), out[i].form);
  return r;
}

TEST(MimeHeader, TypeAndPlainParameters) {
  static ParsedHeader h;
  h.parse(" Text/HTML ; Charset=\"UTF-8\" (comment); name=\"a \\\"q\\\".txt\"; x=unquoted value ");
  EXPECT_EQ(h.value(), "text/html");
  ASSERT_EQ(h.params().size(), 3u);
  EXPECT_EQ(h.params()[0].name, "charset");
  EXPECT_EQ(h.params()[0].value, "UTF-8");
  EXPECT_EQ(h.params()[1].value, "a \"q\".txt");
  EXPECT_EQ(h.params()[2].value, "unquoted value");
}

TEST(MimeHeader, MissingSemicolonAfterType) {
  static ParsedHeader h;
  h.parse("text/plain charset=koi8-r");
  EXPECT_EQ(h.value(), "text/plain");
  ASSERT_EQ(h.params().size(), 1u);
  EXPECT_EQ(h.params()[0].value, "koi8-r");
}

TEST(MimeHeader, DuplicatesAreAllKept) {
  Values r = values("multipart/mixed; boundary=a; boundary=\"b\"", "boundary");
  ASSERT_EQ(r.v.size(), 2u);
  EXPECT_EQ(r.v[0].first, "a");
  EXPECT_EQ(r.v[1].first, "b");
}

TEST(Rfc2231, ExtendedValueWithCharsetAndLanguage) {  // RFC 2231 4
  Values r = values("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", "title");
  ASSERT_EQ(r.v.size(), 1u);
  EXPECT_EQ(r.v[0].first, "This is ***fun***");
  EXPECT_EQ(r.v[0].second, ParamForm::kRfc2231);
  EXPECT_EQ(r.flags, 0u);
}

TEST(Rfc2231, ContinuationsJoinedInOrder) {  // RFC 2231 3 and 4.1
  Values r = values("attachment; filename*1*=%C3%A9t%C3%A9; filename*0*=UTF-8''long%20; filename*2=\".pdf\"",
                    "filename");
  ASSERT_EQ(r.v.size(), 2u);
  EXPECT_EQ(r.v[0].first, "long \xC3\xA9t\xC3\xA9.pdf");
  EXPECT_EQ(r.v[1].first, "UTF-8''long%20");  // section 0 alone, as a non-joining reader may take it
  EXPECT_EQ(r.v[1].second, ParamForm::kRfc2231First);
}

TEST(Rfc2231, Latin1ConvertedToUtf8) {
  Values r = values("attachment; filename*=iso-8859-1'fr'caf%E9.exe", "filename");
  ASSERT_EQ(r.v.size(), 1u);
  EXPECT_EQ(r.v[0].first, "caf\xC3\xA9.exe");
}

TEST(Rfc2231, PlainAndExtendedBothReturned) {
  Values r = values("attachment; filename=\"plain.pdf\"; filename*=UTF-8''real.exe", "filename");
  ASSERT_EQ(r.v.size(), 2u);
  EXPECT_EQ(r.v[0].first, "plain.pdf");
  EXPECT_EQ(r.v[1].first, "real.exe");
}

TEST(Rfc2231, GapsRepeatsAndBadEscapesAreFlagged) {
  EXPECT_TRUE(values("x; n*0=a; n*2=c", "n").flags & kRfc2231Invalid);
  EXPECT_TRUE(values("x; n*0=a; n*0=b", "n").flags & kRfc2231Invalid);
  Values bad = values("x; n*=utf-8''a%zzb", "n");
  EXPECT_TRUE(bad.flags & kRfc2231Invalid);
  EXPECT_EQ(bad.v[0].first, "a%zzb");
  EXPECT_TRUE(values("x; n*1=b", "n").flags & kRfc2231Invalid);  // no section 0
}

}  // namespace
}  // namespace mx::scan
