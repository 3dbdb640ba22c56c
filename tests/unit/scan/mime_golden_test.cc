// tests/unit/scan/mime_golden_test.cc — golden structure dumps of the MIME parser.
// Each tests/unit/scan/golden/NAME.eml is parsed and its dump (scan/mime_dump.h) compared with
// NAME.ref. With MX_UPDATE_GOLDEN=1 the .ref files are (re)written instead — review the diff
// before committing: the .ref files are the specification.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "tests/unit/scan/mime_test_util.h"

namespace mx::scan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = fs::path(MX_SOURCE_ROOT) / "tests/unit/scan/golden";

std::vector<std::string> golden_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.path().extension() == ".eml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class MimeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(MimeGolden, MatchesReference) {
  std::string got = dump_whole(slurp(kDir / (GetParam() + ".eml")));
  fs::path ref = kDir / (GetParam() + ".ref");
  if (std::getenv("MX_UPDATE_GOLDEN")) {
    std::ofstream(ref, std::ios::binary) << got;
    GTEST_SKIP() << "wrote " << ref;
  }
  ASSERT_TRUE(fs::exists(ref)) << "missing " << ref << " (run with MX_UPDATE_GOLDEN=1 and review)";
  EXPECT_EQ(got, slurp(ref));
}

// The property: however the message is split, the dump is the one of the whole message — one
// byte at a time, and at random cut points (fixed seeds), with the scalar and the AVX2 base64.
TEST_P(MimeGolden, SplitInvariant) {
  const std::string msg = slurp(kDir / (GetParam() + ".eml"));
  const std::string whole = dump_whole(msg);
  std::vector<size_t> every;
  for (size_t i = 1; i < msg.size(); ++i) every.push_back(i);
  EXPECT_EQ(dump_split(msg, every), whole) << "byte at a time";
  for (unsigned seed = 1; seed <= 60; ++seed) {
    auto cuts = random_cuts(msg.size(), seed, 1 + seed % 17);
    ASSERT_EQ(dump_split(msg, cuts, {}, seed % 2 ? Base64Impl::kScalar : Base64Impl::kAuto), whole)
        << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Messages, MimeGolden, ::testing::ValuesIn(golden_names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace mx::scan::test
