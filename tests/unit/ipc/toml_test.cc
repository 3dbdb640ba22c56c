// tests/unit/ipc/toml_test.cc
#include "ipc/toml.h"

#include <gtest/gtest.h>

namespace mx::cfg {
namespace {

TEST(Toml, ParsesTheSupportedSubset) {
  auto d = parse_toml(R"(# comment
top = 1
[eal]
lcores = [0, 1]   # trailing comment
name = "a\"b\\c\u00e9"
lit = 'C:\path'
on = true
off = false
big = 1_000_000
neg = -5
multi = [
  "x",  # inside
  "y",
]
[[port]]
name = "p0"
[[port]]
name = "p1"
)",
                      "t.toml");
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->tables.size(), 4u);
  EXPECT_EQ(d->tables[0].find("top")->i, 1);
  const TomlTable& eal = d->tables[1];
  EXPECT_EQ(eal.name, "eal");
  EXPECT_EQ(eal.line, 3);
  EXPECT_EQ(eal.find("lcores")->arr.size(), 2u);
  EXPECT_EQ(eal.find("name")->str, "a\"b\\c\xc3\xa9");
  EXPECT_EQ(eal.find("lit")->str, "C:\\path");
  EXPECT_TRUE(eal.find("on")->b);
  EXPECT_FALSE(eal.find("off")->b);
  EXPECT_EQ(eal.find("big")->i, 1000000);
  EXPECT_EQ(eal.find("neg")->i, -5);
  EXPECT_EQ(eal.find("multi")->arr[1].str, "y");
  EXPECT_EQ(eal.find("multi")->line, 11);
  EXPECT_TRUE(d->tables[2].array);
  EXPECT_EQ(d->tables[3].find("name")->str, "p1");
}

TEST(Toml, CrlfLineEndings) {
  auto d = parse_toml("[a]\r\nx = 1\r\ny = \"s\"\r\n", "t");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->tables[1].find("y")->str, "s");
}

struct BadCase {
  const char* text;
  const char* message;  // expected substring, including the line
};

class TomlErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(TomlErrors, AreReportedWithFileAndLine) {
  auto d = parse_toml(GetParam().text, "bad.toml");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find(GetParam().message), std::string::npos) << d.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    All, TomlErrors,
    ::testing::Values(BadCase{"x = ", "bad.toml:1: missing value"},
                      BadCase{"\n\nx = \"abc", "bad.toml:3: unterminated string"},
                      BadCase{"x = 1\nx = 2", "bad.toml:2: key 'x' set twice"},
                      BadCase{"[a]\n[a]", "bad.toml:2: table [a] defined twice"},
                      BadCase{"[[a]]\n[a]", "bad.toml:2: table [a] defined twice (first on line 1)"},
                      BadCase{"[a]\n[[a]]", "bad.toml:2: table [a] defined twice (first on line 1)"},
                      BadCase{"[[a]]\n[b]\n[[a]]\n[b]", "bad.toml:4: table [b] defined twice (first on line 2)"},
                      BadCase{"a.b = 1", "bad.toml:1: dotted keys"},
                      BadCase{"[a.b]", "bad.toml:1: dotted table"},
                      BadCase{"x = 1.5", "bad.toml:1: only decimal integers"},
                      BadCase{"x = 0x10", "bad.toml:1: only decimal integers"},
                      BadCase{"x = 007", "bad.toml:1: leading zeros"},
                      BadCase{"x = 1__0", "bad.toml:1: misplaced '_'"},
                      BadCase{"x = 99999999999999999999", "bad.toml:1: integer out of range"},
                      BadCase{"x = {a = 1}", "bad.toml:1: inline tables"},
                      BadCase{"x = \"\"\"m\"\"\"", "bad.toml:1: multi-line strings"},
                      BadCase{"x = \"\\q\"", "bad.toml:1: invalid escape"},
                      BadCase{"x = \"\\u0000\"", "bad.toml:1: invalid unicode escape"},
                      BadCase{"x = \"\\ud800\"", "bad.toml:1: invalid unicode escape"},
                      BadCase{"x = [1, 2", "bad.toml:1: unterminated array"},
                      BadCase{"x = [1 2]", "bad.toml:1: expected ',' or ']'"},
                      BadCase{"x = 1 y = 2", "bad.toml:1: unexpected 'y'"},
                      BadCase{"x = yes", "bad.toml:1: invalid value"},
                      BadCase{"= 1", "bad.toml:1: expected a key"},
                      BadCase{"\"q\" = 1", "bad.toml:1: quoted keys"},
                      BadCase{"x 1", "bad.toml:1: expected '='"},
                      BadCase{"[a", "bad.toml:1: expected ']'"},
                      BadCase{"x = [[[[[[[[[1]]]]]]]]]", "bad.toml:1: arrays nested too deeply"},
                      BadCase{"x = \"a\x01\"", "bad.toml:1: control character"}));

// A snapshot has one [[user]] table per user: many array tables of one name are fine, and are
// read in one pass (a million of them once took a scan of all earlier tables per header).
TEST(Toml, ManyArrayTablesOfOneName) {
  std::string text;
  constexpr int kTables = 200000;
  for (int i = 0; i < kTables; ++i) text += "[[user]]\naddress = \"u" + std::to_string(i) + "@x.test\"\n";
  auto doc = parse_toml(text, "many.toml", text.size());
  ASSERT_TRUE(doc) << doc.error().message;
  ASSERT_EQ(doc->tables.size(), static_cast<size_t>(kTables) + 1);  // and the root
  EXPECT_EQ(doc->tables.back().find("address")->str, "u199999@x.test");
}

TEST(Toml, OversizedInputIsRefused) {
  std::string big(kTomlMaxBytes + 1, '#');
  auto d = parse_toml(big, "big.toml");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("larger than"), std::string::npos);
}

TEST(Toml, NulBytesAreErrorsNotTruncation) {
  std::string s("x = 1\n\0y = 2\n", 13);
  EXPECT_FALSE(parse_toml(s, "nul.toml"));
}

}  // namespace
}  // namespace mx::cfg
