// tests/unit/scan/qp_test.cc — quoted-printable (RFC 2045 6.7): escapes, soft breaks,
// transport padding, malformed escapes kept literally, any split.
#include "scan/qp.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/mime_types.h"

namespace mx::scan {
namespace {

std::pair<std::string, uint64_t> qp(const std::string& in, size_t piece = 0) {
  QpDecoder d;
  std::string out(QpDecoder::max_output(in.size()) + 8, '\0');
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  size_t pos = 0, n = 0;
  while (pos < in.size()) {
    size_t len = piece ? std::min(piece, in.size() - pos) : in.size();
    n += d.decode(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()) + pos, len), o + n);
    pos += len;
  }
  n += d.finish(o + n);
  return {out.substr(0, n), d.flags()};
}

TEST(Qp, Escapes) {
  EXPECT_EQ(qp("a=3Db=C3=A9"), std::make_pair(std::string("a=b\xC3\xA9"), uint64_t{0}));
  EXPECT_EQ(qp("lower =c3=a9"), std::make_pair(std::string("lower \xC3\xA9"), uint64_t{0}));
}

TEST(Qp, SoftLineBreaks) {
  EXPECT_EQ(qp("http://exam=\r\nple.com/").first, "http://example.com/");
  EXPECT_EQ(qp("bare=\nlf").first, "barelf");
  EXPECT_EQ(qp("padded= \t \r\nnext").first, "paddednext");  // 6.7(3): transport padding
  EXPECT_EQ(qp("end=").second, kInvalidQp);
}

TEST(Qp, TrailingWhitespaceRemovedInnerKept) {
  EXPECT_EQ(qp("a b  \t\r\nc d").first, "a b\r\nc d");
  EXPECT_EQ(qp("tail   ").first, "tail");
}

TEST(Qp, MalformedEscapesKeptLiterally) {
  EXPECT_EQ(qp("a=ZZb"), std::make_pair(std::string("a=ZZb"), uint64_t{kInvalidQp}));
  EXPECT_EQ(qp("a=4Gb"), std::make_pair(std::string("a=4Gb"), uint64_t{kInvalidQp}));
  EXPECT_EQ(qp("100% = x").first, "100% = x");
}

TEST(Qp, SplitAnywhere) {
  const std::string in = "Caf=C3=A9 =\r\nsoft  \r\n=3D=3d  x=\n=ZZ end= \r\n";
  const auto whole = qp(in);
  for (size_t piece = 1; piece < in.size(); ++piece) ASSERT_EQ(qp(in, piece), whole) << piece;
}

}  // namespace
}  // namespace mx::scan
