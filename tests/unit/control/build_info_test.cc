// tests/unit/control/build_info_test.cc
#include "control/build_info.h"

#include <gtest/gtest.h>
#include <hs/hs.h>

namespace mx::control {
namespace {

TEST(BuildInfo, NamesTheLinkedHyperscan) {
  std::string s = build_info();
  EXPECT_EQ(s.rfind("mxgate-control " MX_VERSION, 0), 0u) << s;
  EXPECT_NE(s.find(hs_version()), std::string::npos) << s;
}

}  // namespace
}  // namespace mx::control
