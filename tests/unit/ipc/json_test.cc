// tests/unit/ipc/json_test.cc — the bounded JSON reader: values and their decoding, every error
// with the offset it reports, and the depth, size and value-count limits at their edges.
#include "ipc/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace mx::ipc {
namespace {

using Kind = JsonValue::Kind;

// The parsed value; a failed parse fails the test and yields null.
JsonValue ok(std::string_view text) {
  auto r = parse_json(text);
  EXPECT_TRUE(r.ok()) << "input: " << text << "\nerror: " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : JsonValue{};
}

// The error message, or "<ok>" when the text parsed.
std::string err(std::string_view text, size_t max_bytes = kMaxJsonBytes) {
  auto r = parse_json(text, max_bytes);
  return r.ok() ? "<ok>" : r.error().message;
}

// The decoded contents of a one-string document.
std::string str(std::string_view text) {
  const JsonValue v = ok(text);
  EXPECT_EQ(v.kind, Kind::kString) << text;
  return v.str;
}

TEST(Json, Scalars) {
  EXPECT_EQ(ok("null").kind, Kind::kNull);
  const JsonValue t = ok("true");
  EXPECT_EQ(t.kind, Kind::kBool);
  EXPECT_TRUE(t.b);
  const JsonValue f = ok("false");
  EXPECT_EQ(f.kind, Kind::kBool);
  EXPECT_FALSE(f.b);
  const JsonValue s = ok("\"hi\"");
  EXPECT_EQ(s.kind, Kind::kString);
  EXPECT_EQ(s.str, "hi");
  const JsonValue n = ok(" \t\r\n 12 \n");
  EXPECT_EQ(n.kind, Kind::kNumber);
  EXPECT_TRUE(n.is_int);
  EXPECT_EQ(n.i, 12);
  EXPECT_EQ(n.num, 12.0);
  EXPECT_EQ(ok("\"\"").str, "");
}

TEST(Json, ObjectsArraysAndNesting) {
  const JsonValue v = ok(R"( { "a" : [ 1 , { "b" : null } , [ ] ] , "c" : { } , "d" : "x" } )");
  ASSERT_EQ(v.kind, Kind::kObject);
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].first, "a");
  EXPECT_EQ(v.members[1].first, "c");
  EXPECT_EQ(v.members[2].first, "d");
  const JsonValue& a = v.members[0].second;
  ASSERT_EQ(a.kind, Kind::kArray);
  ASSERT_EQ(a.items.size(), 3u);
  EXPECT_EQ(a.items[0].i, 1);
  ASSERT_EQ(a.items[1].kind, Kind::kObject);
  ASSERT_EQ(a.items[1].members.size(), 1u);
  EXPECT_EQ(a.items[1].members[0].first, "b");
  EXPECT_EQ(a.items[1].members[0].second.kind, Kind::kNull);
  EXPECT_EQ(a.items[2].kind, Kind::kArray);
  EXPECT_TRUE(a.items[2].items.empty());
  EXPECT_EQ(v.members[1].second.kind, Kind::kObject);
  EXPECT_TRUE(v.members[1].second.members.empty());
  EXPECT_EQ(v.members[2].second.str, "x");

  const JsonValue arr = ok("[[[]],[true,false,null],\"s\",-1.5]");
  ASSERT_EQ(arr.items.size(), 4u);
  ASSERT_EQ(arr.items[0].items.size(), 1u);
  EXPECT_TRUE(arr.items[0].items[0].items.empty());
  EXPECT_TRUE(arr.items[1].items[0].b);
  EXPECT_FALSE(arr.items[1].items[1].b);
  EXPECT_EQ(arr.items[1].items[2].kind, Kind::kNull);
  EXPECT_EQ(arr.items[2].str, "s");
  EXPECT_EQ(arr.items[3].num, -1.5);
}

TEST(Json, LogRecord) {
  const JsonValue v = ok(
      R"({"time":"2026-12-03T10:00:00.000Z","event":"message","id":12,"rcpts":["a@b.test"],"tls":null})");
  EXPECT_EQ(v.get_str("time"), "2026-12-03T10:00:00.000Z");
  EXPECT_EQ(v.get_str("event"), "message");
  EXPECT_EQ(v.get_int("id"), 12);
  ASSERT_NE(v.get("rcpts"), nullptr);
  ASSERT_EQ(v.get("rcpts")->items.size(), 1u);
  EXPECT_EQ(v.get("rcpts")->items[0].str, "a@b.test");
  ASSERT_NE(v.get("tls"), nullptr);
  EXPECT_EQ(v.get("tls")->kind, Kind::kNull);
}

TEST(Json, DuplicateKeysAreKeptInOrderAndGetReturnsTheFirst) {
  const JsonValue v = ok(R"({"z":1,"a":2,"z":3})");
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].first, "z");
  EXPECT_EQ(v.members[1].first, "a");
  EXPECT_EQ(v.members[2].first, "z");
  EXPECT_EQ(v.members[2].second.i, 3);
  EXPECT_EQ(v.get_int("z"), 1);
  EXPECT_EQ(v.get("z"), &v.members[0].second);
}

TEST(Json, EveryEscape) {
  EXPECT_EQ(str(R"("\"")"), "\"");
  EXPECT_EQ(str(R"("\\")"), "\\");
  EXPECT_EQ(str(R"("\/")"), "/");
  EXPECT_EQ(str(R"("\b")"), "\b");
  EXPECT_EQ(str(R"("\f")"), "\f");
  EXPECT_EQ(str(R"("\n")"), "\n");
  EXPECT_EQ(str(R"("\r")"), "\r");
  EXPECT_EQ(str(R"("\t")"), "\t");
  EXPECT_EQ(str(R"("\u0041\u00e9\u00E9\u20ac\uFFFF")"), "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
  EXPECT_EQ(str(R"("\u0000")"), std::string("\0", 1));
  EXPECT_EQ(str(R"("\u007f\u0080\u07ff\u0800")"), "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80");
  EXPECT_EQ(str(R"("a\"b\\c\/d\b\f\n\r\te")"), "a\"b\\c/d\b\f\n\r\te");
  // Escaped keys are decoded too.
  const JsonValue v = ok(R"({"k\u0065y":1})");
  EXPECT_EQ(v.get_int("key"), 1);
}

TEST(Json, SurrogatePairsDecodeToOneCodePoint) {
  EXPECT_EQ(str(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(str(R"("\uD834\uDD1E")"), "\xf0\x9d\x84\x9e");  // U+1D11E
  EXPECT_EQ(str(R"("\ud800\udc00")"), "\xf0\x90\x80\x80");  // U+10000
  EXPECT_EQ(str(R"("\udbff\udfff")"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
  EXPECT_EQ(str(R"("x\ud83d\ude00y")"), "x\xf0\x9f\x98\x80y");
}

TEST(Json, UnpairedSurrogatesAreRefused) {
  EXPECT_EQ(err(R"("\ud800")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err(R"("ab\ud800x")"), "offset 3: unpaired surrogate");
  EXPECT_EQ(err(R"("\ud800\u0041")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err(R"("\ud800\ud800")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err(R"("\ud800\n")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err(R"("\udc00")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err(R"("\ude00\ud83d")"), "offset 1: unpaired surrogate");  // reversed
  EXPECT_EQ(err(R"("\udfff")"), "offset 1: unpaired surrogate");
  EXPECT_EQ(err("\"\\ud800\\u"), "offset 1: unpaired surrogate");  // the low half cut short
}

TEST(Json, InvalidEscapesAreRefused) {
  EXPECT_EQ(err(R"("\x41")"), "offset 1: invalid escape");
  EXPECT_EQ(err(R"("ab\'")"), "offset 3: invalid escape");
  EXPECT_EQ(err(R"("\a")"), "offset 1: invalid escape");
  EXPECT_EQ(err(R"("\U0041")"), "offset 1: invalid escape");
  EXPECT_EQ(err("\"\\\x01\""), "offset 1: invalid escape");
  EXPECT_EQ(err(R"("\u12")"), "offset 1: invalid \\u escape (four hex digits expected)");
  EXPECT_EQ(err(R"("\u12g4")"), "offset 1: invalid \\u escape (four hex digits expected)");
  EXPECT_EQ(err(R"("\u-123")"), "offset 1: invalid \\u escape (four hex digits expected)");
  EXPECT_EQ(err("\"\\u12"), "offset 1: invalid \\u escape (four hex digits expected)");
  EXPECT_EQ(err("\"abc\\"), "offset 4: unterminated escape");
}

TEST(Json, RawControlCharactersInStringsAreRefused) {
  EXPECT_EQ(err("\"a\tb\""), "offset 2: raw control character in string");
  EXPECT_EQ(err("\"a\nb\""), "offset 2: raw control character in string");
  EXPECT_EQ(err(std::string("\"ab\0\"", 5)), "offset 3: raw control character in string");
  EXPECT_EQ(err("[\"\x1f\"]"), "offset 2: raw control character in string");
  EXPECT_EQ(err("{\"k\x01\":1}"), "offset 3: raw control character in string");  // in a key too
  EXPECT_EQ(str("\"\x7f \x20\""), "\x7f  ");  // DEL and space are not control characters here
}

TEST(Json, Utf8InStringsIsValidated) {
  // Valid: the edges of every sequence length, kept as they are.
  for (const std::string_view s :
       {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}) {
    EXPECT_EQ(str("\"" + std::string(s) + "\""), s);
  }
  // Invalid, each reported at the first byte of the bad sequence.
  for (const std::string_view s : {
           "\x80",              // lone continuation byte
           "\xbf",              // lone continuation byte
           "\xc0\xaf",          // overlong (2 bytes)
           "\xc1\xbf",          // overlong (2 bytes)
           "\xe0\x80\xaf",      // overlong (3 bytes)
           "\xe0\x9f\xbf",      // overlong (3 bytes)
           "\xf0\x8f\xbf\xbf",  // overlong (4 bytes)
           "\xed\xa0\x80",      // surrogate U+D800
           "\xed\xbf\xbf",      // surrogate U+DFFF
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80",  // lead byte beyond RFC 3629
           "\xff",              // never UTF-8
           "\xfe",              // never UTF-8
           "\xe2\x82",          // truncated before the quote
           "\xe2\x82x",         // continuation missing
           "\xc3\xa9\xc3",      // valid, then truncated
       }) {
    const std::string doc = "\"ab" + std::string(s) + "\"";
    const size_t bad = std::string_view(s).starts_with("\xc3\xa9") ? 5 : 3;
    EXPECT_EQ(err(doc), "offset " + std::to_string(bad) + ": invalid UTF-8 in string") << doc;
  }
  EXPECT_EQ(err("\"\xe2\x82"), "offset 1: invalid UTF-8 in string");  // cut by the end of the text
  EXPECT_EQ(err("{\"\xff\":1}"), "offset 2: invalid UTF-8 in string");  // in a key too
  // Outside strings non-ASCII bytes are simply not JSON.
  EXPECT_EQ(err("\xc3\xa9"), "offset 0: expected a value");
  EXPECT_EQ(err("\xef\xbb\xbf{}"), "offset 0: expected a value");  // no BOM
}

TEST(Json, IntegersAndDoubles) {
  const JsonValue zero = ok("0");
  EXPECT_TRUE(zero.is_int);
  EXPECT_EQ(zero.i, 0);
  EXPECT_FALSE(std::signbit(zero.num));

  const JsonValue neg_zero = ok("-0");  // integral and fits: an int 0, while num keeps the sign
  EXPECT_TRUE(neg_zero.is_int);
  EXPECT_EQ(neg_zero.i, 0);
  EXPECT_EQ(neg_zero.num, 0.0);
  EXPECT_TRUE(std::signbit(neg_zero.num));

  const JsonValue neg_zero_d = ok("-0.0");
  EXPECT_FALSE(neg_zero_d.is_int);
  EXPECT_TRUE(std::signbit(neg_zero_d.num));

  const JsonValue big = ok("9007199254740993");  // 2^53 + 1: exact as int, not as double
  EXPECT_TRUE(big.is_int);
  EXPECT_EQ(big.i, INT64_C(9007199254740993));
  EXPECT_EQ(big.num, 9007199254740992.0);

  const JsonValue e3 = ok("1e3");
  EXPECT_EQ(e3.kind, Kind::kNumber);
  EXPECT_FALSE(e3.is_int);
  EXPECT_EQ(e3.num, 1000.0);

  const JsonValue one = ok("1.0");
  EXPECT_FALSE(one.is_int);
  EXPECT_EQ(one.num, 1.0);

  const JsonValue max = ok("9223372036854775807");
  EXPECT_TRUE(max.is_int);
  EXPECT_EQ(max.i, std::numeric_limits<int64_t>::max());
  const JsonValue min = ok("-9223372036854775808");
  EXPECT_TRUE(min.is_int);
  EXPECT_EQ(min.i, std::numeric_limits<int64_t>::min());
  const JsonValue over = ok("9223372036854775808");  // one past int64: a double only
  EXPECT_FALSE(over.is_int);
  EXPECT_EQ(over.num, 9223372036854775808.0);
  const JsonValue under = ok("-9223372036854775809");
  EXPECT_FALSE(under.is_int);
  EXPECT_EQ(under.num, -9223372036854775808.0);

  EXPECT_EQ(ok("-42").i, -42);
  EXPECT_EQ(ok("0.1").num, 0.1);
  EXPECT_EQ(ok("-1.5e-3").num, -1.5e-3);
  EXPECT_EQ(ok("1E+2").num, 100.0);
  EXPECT_EQ(ok("1e-2").num, 0.01);
  EXPECT_EQ(ok("2.5E2").num, 250.0);
  EXPECT_EQ(ok("1.7976931348623157e308").num, std::numeric_limits<double>::max());
  EXPECT_EQ(ok("4.9e-324").num, std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(ok("0.00001e313").num, 1e308);
  EXPECT_EQ(ok("0e99999999999999999999").num, 0.0);
  EXPECT_EQ(ok(std::string(400, '1').insert(0, "0.")).num, 1.0 / 9.0);
}

TEST(Json, TooSmallNumbersRoundToZero) {
  for (const std::string_view s : {"1e-400", "123e-330", "0.0001e-320", "1e-99999999999999999999"}) {
    const JsonValue v = ok(s);
    EXPECT_EQ(v.num, 0.0) << s;
    EXPECT_FALSE(v.is_int) << s;
    EXPECT_FALSE(std::signbit(v.num)) << s;
  }
  EXPECT_TRUE(std::signbit(ok("-1e-400").num));
  EXPECT_EQ(ok("0." + std::string(1000, '0') + "1").num, 0.0);
}

TEST(Json, NumberErrors) {
  EXPECT_EQ(err("01"), "offset 0: leading zero in number");
  EXPECT_EQ(err("-01"), "offset 1: leading zero in number");
  EXPECT_EQ(err("[1,00]"), "offset 3: leading zero in number");
  EXPECT_EQ(err("-"), "offset 1: expected a digit after '-'");
  EXPECT_EQ(err("[-]"), "offset 2: expected a digit after '-'");
  EXPECT_EQ(err("-a"), "offset 1: expected a digit after '-'");
  EXPECT_EQ(err("1."), "offset 2: expected a digit after '.'");
  EXPECT_EQ(err("1.e5"), "offset 2: expected a digit after '.'");
  EXPECT_EQ(err(".5"), "offset 0: expected a value");
  EXPECT_EQ(err("+1"), "offset 0: expected a value");
  EXPECT_EQ(err("1e"), "offset 2: expected a digit in the exponent");
  EXPECT_EQ(err("1e+"), "offset 3: expected a digit in the exponent");
  EXPECT_EQ(err("1E-x"), "offset 3: expected a digit in the exponent");
  EXPECT_EQ(err("0x10"), "offset 1: unexpected data after the value");
  EXPECT_EQ(err("1.5.2"), "offset 3: unexpected data after the value");
  // NaN and Infinity.
  EXPECT_EQ(err("NaN"), "offset 0: NaN and Infinity are not JSON");
  EXPECT_EQ(err("Infinity"), "offset 0: NaN and Infinity are not JSON");
  EXPECT_EQ(err("-Infinity"), "offset 0: NaN and Infinity are not JSON");
  EXPECT_EQ(err("[1, NaN]"), "offset 4: NaN and Infinity are not JSON");
  EXPECT_EQ(err("nan"), "offset 0: invalid literal");
  // Overflowing a double.
  EXPECT_EQ(err("1e309"), "offset 0: number out of range");
  EXPECT_EQ(err("-1e309"), "offset 0: number out of range");
  EXPECT_EQ(err("1.7976931348623159e308"), "offset 0: number out of range");
  EXPECT_EQ(err("[1,1e400]"), "offset 3: number out of range");
  EXPECT_EQ(err("0.0001e313"), "offset 0: number out of range");
  EXPECT_EQ(err("1e99999999999999999999"), "offset 0: number out of range");
  EXPECT_EQ(err(std::string(400, '9')), "offset 0: number out of range");
  EXPECT_EQ(err("{\"n\":-" + std::string(400, '9') + "}"), "offset 5: number out of range");
}

TEST(Json, LiteralErrors) {
  EXPECT_EQ(err("tru"), "offset 0: invalid literal");
  EXPECT_EQ(err("nul"), "offset 0: invalid literal");
  EXPECT_EQ(err("[fals]"), "offset 1: invalid literal");
  EXPECT_EQ(err("True"), "offset 0: expected a value");
  EXPECT_EQ(err("truex"), "offset 4: unexpected data after the value");
  EXPECT_EQ(err("undefined"), "offset 0: expected a value");
}

TEST(Json, SyntaxErrorsNameTheOffset) {
  EXPECT_EQ(err(R"({"a":12,"cd"})"), "offset 12: expected ':'");
  EXPECT_EQ(err(R"({"a" 1})"), "offset 5: expected ':'");
  EXPECT_EQ(err(R"({"a":1 "b":2})"), "offset 7: expected ',' or '}'");
  EXPECT_EQ(err(R"({"a":1)"), "offset 6: expected ',' or '}'");
  EXPECT_EQ(err(R"({a:1})"), "offset 1: expected a member name (a string)");
  EXPECT_EQ(err(R"({"a":1,})"), "offset 7: expected a member name (a string)");
  EXPECT_EQ(err(R"({1:2})"), "offset 1: expected a member name (a string)");
  EXPECT_EQ(err(R"({"a":})"), "offset 5: expected a value");
  EXPECT_EQ(err("[1 2]"), "offset 3: expected ',' or ']'");
  EXPECT_EQ(err("[1,]"), "offset 3: expected a value");
  EXPECT_EQ(err("[,1]"), "offset 1: expected a value");
  EXPECT_EQ(err("[1"), "offset 2: expected ',' or ']'");
  EXPECT_EQ(err("["), "offset 1: expected a value");
  EXPECT_EQ(err("{"), "offset 1: expected a member name (a string)");
  EXPECT_EQ(err("]"), "offset 0: expected a value");
  EXPECT_EQ(err(""), "offset 0: expected a value");
  EXPECT_EQ(err(" \n "), "offset 3: expected a value");
  EXPECT_EQ(err("\"abc"), "offset 0: unterminated string");
  EXPECT_EQ(err("[\"a\",\"b]"), "offset 5: unterminated string");
  // Trailing garbage.
  EXPECT_EQ(err("1 2"), "offset 2: unexpected data after the value");
  EXPECT_EQ(err("{}}"), "offset 2: unexpected data after the value");
  EXPECT_EQ(err("[] []"), "offset 3: unexpected data after the value");
  EXPECT_EQ(err(std::string("{}\0", 3)), "offset 2: unexpected data after the value");
  // Only RFC 8259's four whitespace characters; no comments.
  EXPECT_EQ(err("\f1"), "offset 0: expected a value");
  EXPECT_EQ(err("1\v"), "offset 1: unexpected data after the value");
  EXPECT_EQ(err("/*x*/1"), "offset 0: expected a value");
  EXPECT_EQ(err("[1]//"), "offset 3: unexpected data after the value");
  EXPECT_EQ(err("{'a':1}"), "offset 1: expected a member name (a string)");
}

TEST(Json, DepthLimitIsExactly64) {
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  const JsonValue v = ok(at_limit);
  size_t depth = 0;  // arrays down to the innermost, empty one
  for (const JsonValue* p = &v; p != nullptr; p = p->items.empty() ? nullptr : &p->items[0]) ++depth;
  EXPECT_EQ(depth, kMaxJsonDepth);
  const std::string over = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_EQ(err(over), "offset 64: nesting deeper than 64");

  // Objects count the same, and mixed nesting too.
  std::string obj_ok, obj_over;
  for (size_t k = 0; k < kMaxJsonDepth; ++k) obj_ok += "{\"a\":";
  obj_ok += "1" + std::string(kMaxJsonDepth, '}');
  EXPECT_EQ(err(obj_ok), "<ok>");
  for (size_t k = 0; k < kMaxJsonDepth + 1; ++k) obj_over += "{\"a\":";
  obj_over += "1" + std::string(kMaxJsonDepth + 1, '}');
  EXPECT_EQ(err(obj_over), "offset " + std::to_string(5 * kMaxJsonDepth) + ": nesting deeper than 64");
  std::string mixed;
  for (size_t k = 0; k < kMaxJsonDepth / 2; ++k) mixed += "[{\"a\":";
  std::string closing;
  for (size_t k = 0; k < kMaxJsonDepth / 2; ++k) closing += "}]";
  EXPECT_EQ(err(mixed + "0" + closing), "<ok>");
  EXPECT_EQ(err(mixed + "[]"), "offset " + std::to_string(mixed.size()) + ": nesting deeper than 64");

  // Far deeper input fails at the limit without recursing further.
  EXPECT_EQ(err(std::string(1'000'000, '[')), "offset 64: nesting deeper than 64");
  std::string deep_obj;
  for (size_t k = 0; k < 200'000; ++k) deep_obj += "{\"a\":";
  EXPECT_EQ(err(deep_obj), "offset 320: nesting deeper than 64");
}

TEST(Json, MaxBytes) {
  EXPECT_EQ(err("[1,2]", 5), "<ok>");
  EXPECT_EQ(err("[1,2]", 4), "offset 4: document longer than 4 bytes");
  EXPECT_EQ(err("[1,2] ", 5), "offset 5: document longer than 5 bytes");  // whitespace counts
  EXPECT_EQ(err("", 0), "offset 0: expected a value");
  EXPECT_EQ(err("1", 0), "offset 0: document longer than 0 bytes");
  // The default limit.
  std::string big(kMaxJsonBytes, ' ');
  big[0] = '1';
  EXPECT_EQ(err(big), "<ok>");
  big += ' ';
  EXPECT_EQ(err(big), "offset " + std::to_string(kMaxJsonBytes) + ": document longer than " +
                          std::to_string(kMaxJsonBytes) + " bytes");
}

TEST(Json, ItemLimitCountsEveryValue) {
  // The array and kMaxJsonItems - 1 numbers: exactly the limit.
  std::string doc = "[0";
  doc.reserve(2 * kMaxJsonItems + 4);
  for (size_t k = 1; k < kMaxJsonItems - 1; ++k) doc += ",0";
  doc += ']';
  const JsonValue v = ok(doc);
  EXPECT_EQ(v.items.size(), kMaxJsonItems - 1);
  // One more number: the last one is refused, at its offset.
  doc.back() = ',';
  doc += "0]";
  EXPECT_EQ(err(doc), "offset " + std::to_string(doc.size() - 2) + ": more than 1048576 values");
  // Containers count, member names do not: {"a":[]} is two values.
  std::string objs = "[";
  for (size_t k = 0; k < (kMaxJsonItems - 1) / 2; ++k) objs += "{\"a\":[]},";
  objs.back() = ']';
  EXPECT_EQ(err(objs), "<ok>");  // 1 + 2 * 524287 = kMaxJsonItems - 1 values
  objs.back() = ',';
  objs += "{\"a\":[]}]";
  EXPECT_EQ(err(objs), "offset " + std::to_string(objs.size() - 4) + ": more than 1048576 values");
}

TEST(Json, Getters) {
  const JsonValue v = ok(R"({"name":"mx","n":42,"neg":-7,"f":1.5,"e":1e3,"t":true,"no":false,"nil":null,
                             "arr":[1],"obj":{"inner":"x"},"name":"second"})");
  ASSERT_NE(v.get("name"), nullptr);
  EXPECT_EQ(v.get("name")->str, "mx");
  EXPECT_EQ(v.get("missing"), nullptr);
  EXPECT_EQ(v.get(""), nullptr);
  ASSERT_NE(v.get("nil"), nullptr);
  EXPECT_EQ(v.get("nil")->kind, Kind::kNull);

  EXPECT_EQ(v.get_str("name"), "mx");
  EXPECT_EQ(v.get_str("missing"), "");
  EXPECT_EQ(v.get_str("missing", "fb"), "fb");
  EXPECT_EQ(v.get_str("n", "fb"), "fb");    // a number is not a string
  EXPECT_EQ(v.get_str("nil", "fb"), "fb");

  EXPECT_EQ(v.get_int("n"), 42);
  EXPECT_EQ(v.get_int("neg"), -7);
  EXPECT_EQ(v.get_int("missing"), 0);
  EXPECT_EQ(v.get_int("missing", -1), -1);
  EXPECT_EQ(v.get_int("f", -1), -1);     // not an integer
  EXPECT_EQ(v.get_int("e", -1), -1);     // 1e3 is not written as an integer
  EXPECT_EQ(v.get_int("name", -1), -1);  // a string
  EXPECT_EQ(v.get_int("t", -1), -1);

  EXPECT_TRUE(v.get_bool("t"));
  EXPECT_FALSE(v.get_bool("no", true));
  EXPECT_FALSE(v.get_bool("missing"));
  EXPECT_TRUE(v.get_bool("missing", true));
  EXPECT_TRUE(v.get_bool("n", true));  // a number is not a bool
  EXPECT_TRUE(v.get_bool("nil", true));

  ASSERT_NE(v.get("obj"), nullptr);
  EXPECT_EQ(v.get("obj")->get_str("inner"), "x");
  EXPECT_EQ(v.get("inner"), nullptr);  // no search into nested objects

  // Not an object: nothing to get.
  const JsonValue arr = ok(R"([{"name":"mx"}])");
  EXPECT_EQ(arr.get("name"), nullptr);
  EXPECT_EQ(arr.get_str("name", "fb"), "fb");
  EXPECT_EQ(arr.get_int("name", 5), 5);
  EXPECT_TRUE(arr.get_bool("name", true));
  const JsonValue s = ok(R"("name")");
  EXPECT_EQ(s.get("name"), nullptr);
  EXPECT_EQ(JsonValue{}.get("x"), nullptr);
}

}  // namespace
}  // namespace mx::ipc
