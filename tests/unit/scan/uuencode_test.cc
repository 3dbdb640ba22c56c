// tests/unit/scan/uuencode_test.cc — uuencoded blocks found and decoded in any split.
#include "scan/uuencode.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::scan {
namespace {

class Collect : public UuHandler {
 public:
  void uu_begin(uint32_t mode, std::string_view name) override {
    log += "begin " + std::to_string(mode) + " " + std::string(name) + ";";
  }
  void uu_data(ByteSpan d) override { data.append(reinterpret_cast<const char*>(d.data()), d.size()); }
  void uu_end(bool complete) override { log += complete ? "end;" : "incomplete;"; }
  std::string log, data;
};

Collect scan(const std::string& in, size_t piece = 0) {
  UuScanner s;
  Collect c;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t len = piece ? std::min(piece, in.size() - pos) : in.size();
    s.feed(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()) + pos, len), c);
    pos += len;
  }
  s.finish(c);
  return c;
}

// "Cat" uuencoded by uuencode(1): length character '#' (3), then "0V%T".
const std::string kBlock = "text before\r\nbegin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\ntext after\r\n";

TEST(Uuencode, DetectsAndDecodes) {
  Collect c = scan(kBlock);
  EXPECT_EQ(c.log, "begin 420 cat.txt;end;");
  EXPECT_EQ(c.data, "Cat");
}

TEST(Uuencode, UnterminatedAndInvalidBlocks) {
  EXPECT_EQ(scan("begin 755 a.sh\n#0V%T\n").log, "begin 493 a.sh;incomplete;");
  EXPECT_EQ(scan("begin 644 a\n#0V%T\nnot uu {data}\n").log, "begin 420 a;incomplete;");
  EXPECT_EQ(scan("begin 64 short-mode\nbegin 644\nbeginning 644 x\n").log, "");
}

TEST(Uuencode, SplitAnywhere) {
  const Collect whole = scan(kBlock + kBlock);
  for (size_t piece = 1; piece < 2 * kBlock.size(); ++piece) {
    Collect c = scan(kBlock + kBlock, piece);
    ASSERT_EQ(c.log, whole.log) << piece;
    ASSERT_EQ(c.data, whole.data) << piece;
  }
}

}  // namespace
}  // namespace mx::scan
