// tests/unit/scan/url_extract_test.cc — URLs in text and HTML, across chunk boundaries.
#include "scan/url_extract.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::scan {
namespace {

class Collect : public UrlOutput {
 public:
  void url(std::string_view u, bool truncated) override { urls.push_back(std::string(u) + (truncated ? "[T]" : "")); }
  std::vector<std::string> urls;
};

std::vector<std::string> extract(std::string_view text, size_t piece = 0) {
  static UrlExtractor x;  // holds a kMaxUrlLength buffer
  x.reset();
  Collect c;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = piece ? std::min(piece, text.size() - pos) : text.size();
    x.feed(text.substr(pos, len), c);
    pos += len;
  }
  x.finish(c);
  return c.urls;
}

using V = std::vector<std::string>;

TEST(UrlExtract, BareUrls) {
  EXPECT_EQ(extract("see http://a.example/x?y=1&z=2."), V{"http://a.example/x?y=1&z=2"});
  // the scheme of a bare URL is reported lowercase
  EXPECT_EQ(extract("HTTPS://UP.example/P, and www.w.example/p!"), (V{"https://UP.example/P", "www.w.example/p"}));
  EXPECT_EQ(extract("(https://p.example/x)"), V{"https://p.example/x"});
  EXPECT_EQ(extract("xhttp://no.example/ awww.no.example http:// "), V{});
  EXPECT_EQ(extract("idn http://\xD0\xBF\xD1\x80.example/"), V{"http://\xD0\xBF\xD1\x80.example/"});
}

TEST(UrlExtract, HtmlAttributes) {
  EXPECT_EQ(extract("<a href=\"https://b.example/login\">x</a>"), V{"https://b.example/login"});
  EXPECT_EQ(extract("<A HREF = 'http://c.example/'>"), V{"http://c.example/"});
  EXPECT_EQ(extract("<a href=http://d.example/x>"), V{"http://d.example/x"});
  EXPECT_EQ(extract("<img src=\"cid:logo\"> <a href=\"javascript:go()\">"), (V{"cid:logo", "javascript:go()"}));
  EXPECT_EQ(extract("<a href=\"ht\ttp://t.exa\nmple/\">"), V{"http://t.example/"});  // browsers drop tabs/newlines
  EXPECT_EQ(extract("<a data-href=\"x\"> xsrc=y"), V{});
}

TEST(UrlExtract, SplitAnywhere) {
  const std::string html = "a http://one.example/p <a href=\"https://two.example/\">www.three.example x</a> src=four";
  const V whole = extract(html);
  EXPECT_EQ(whole, (V{"http://one.example/p", "https://two.example/", "www.three.example", "four"}));
  for (size_t piece = 1; piece < html.size(); ++piece) ASSERT_EQ(extract(html, piece), whole) << piece;
}

TEST(UrlExtract, LongUrlTruncated) {
  std::string u = "http://long.example/" + std::string(kMaxUrlLength, 'a');
  V got = extract(u + " next");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], u.substr(0, kMaxUrlLength) + "[T]");
}

}  // namespace
}  // namespace mx::scan
