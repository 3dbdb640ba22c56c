// tests/unit/ipc/txlog_test.cc — the log record's JSON strings and header lookup.
#include "ipc/txlog.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::ipc {
namespace {

std::string js(std::string_view s) {
  std::string o;
  json_string(o, s);
  return o;
}

ByteSpan bytes(const std::string& s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(TxLog, JsonStringEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(js("plain"), "\"plain\"");
  EXPECT_EQ(js("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(js(std::string("x\r\ny\t\0z\x7f", 8)), "\"x\\u000d\\u000ay\\u0009\\u0000z\\u007f\"");
}

TEST(TxLog, JsonStringKeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(js("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(js("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(js("\xc0\xaf"), "\"\\ufffd\\ufffd\"");           // overlong
  EXPECT_EQ(js("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(js("\xe2\x82"), "\"\\ufffd\\ufffd\"");           // truncated
  EXPECT_EQ(js("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
}

TEST(TxLog, HeaderValueFindsTheFirstFieldUnfolded) {
  const std::string m =
      "Received: from x\r\nSUBJECT: hello\r\n  world\r\nSubject: second\r\nMessage-ID: <a@b>\r\n\r\nSubject: body\r\n";
  EXPECT_EQ(header_value(bytes(m), "subject", 256), "hello  world");
  EXPECT_EQ(header_value(bytes(m), "message-id", 256), "<a@b>");
  EXPECT_EQ(header_value(bytes(m), "x-none", 256), "");
  EXPECT_EQ(header_value(bytes(m), "subject", 3), "hel");
  // A continuation line is not a field; nothing after the header section counts.
  EXPECT_EQ(header_value(bytes(std::string("A: 1\n subject: no\n\nSubject: body\n")), "subject", 256), "");
  EXPECT_EQ(header_value(bytes(std::string("Subject:\r\n\r\n")), "subject", 256), "");
  EXPECT_EQ(header_value(bytes(std::string("Subject: tail")), "subject", 256), "tail");
}

// Security review: `mxgate-quarantine show` printed a message's bytes to the operator's terminal,
// escape sequences included.
TEST(TxLog, TerminalTextShowsControlsAsEscapes) {
  EXPECT_EQ(terminal_text("Subject: hi\r\n\r\nline\tone\nline two\r\n"), "Subject: hi\n\nline\tone\nline two\n");
  EXPECT_EQ(terminal_text("a\x1b]0;owned\x07" "b\x1b[2J"), "a\\x1b]0;owned\\x07b\\x1b[2J");
  EXPECT_EQ(terminal_text(std::string("over\rwrite\0\x7f\x08\x0c", 14)), "over\\x0dwrite\\x00\\x7f\\x08\\x0c");
  EXPECT_EQ(terminal_text("end\r"), "end\\x0d");
  // UTF-8 text stays readable; C1 controls (U+009B is CSI) and bytes that are not UTF-8 do not.
  EXPECT_EQ(terminal_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(terminal_text("\xc2\x9b" "2J \x9b" "2J \xff \xc2\xa0"), "\\xc2\\x9b" "2J \\x9b" "2J \\xff \xc2\xa0");
  EXPECT_EQ(terminal_text("\xe2\x82"), "\\xe2\\x82");  // truncated sequence
  for (int c = 0; c < 256; ++c) {
    const std::string out = terminal_text(std::string(1, static_cast<char>(c)));
    for (char o : out) {
      const auto u = static_cast<unsigned char>(o);
      EXPECT_TRUE(o == '\t' || o == '\n' || (u >= 0x20 && u < 0x7f)) << "byte " << c;
    }
  }
}

}  // namespace
}  // namespace mx::ipc
