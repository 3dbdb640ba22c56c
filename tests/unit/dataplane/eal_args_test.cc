// tests/unit/dataplane/eal_args_test.cc
#include "dataplane/eal_args.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mx::dp {
namespace {

bool has_seq(const std::vector<std::string>& a, std::vector<std::string> seq) {
  return std::search(a.begin(), a.end(), seq.begin(), seq.end()) != a.end();
}

TEST(EalArgs, LabConfigRunsWithoutHugepagesOrPci) {
  auto c = cfg::load_config(MX_SOURCE_ROOT "/config/lab.toml");
  ASSERT_TRUE(c) << c.error().message;
  auto a = build_eal_args(*c, "mxgate");
  EXPECT_EQ(a[0], "mxgate");
  EXPECT_TRUE(has_seq(a, {"-l", "0,1"}));
  EXPECT_TRUE(has_seq(a, {"--main-lcore", "0"}));
  EXPECT_TRUE(has_seq(a, {"--vdev", "net_tap0,iface=mxtap0"}));
  EXPECT_TRUE(has_seq(a, {"-m", "256"}));
  EXPECT_TRUE(has_seq(a, {"--no-huge"}));
  EXPECT_TRUE(has_seq(a, {"--no-pci"}));
  EXPECT_TRUE(has_seq(a, {"--no-shconf"}));
  EXPECT_FALSE(has_seq(a, {"--in-memory"}));  // EAL refuses it with --no-huge
}

TEST(EalArgs, PciPortWithHugepages) {
  auto c = cfg::parse_config(R"([eal]
lcores = [0, 2, 3]
main_lcore = 0
hugepages = true
in_memory = false
file_prefix = "carrier1"
extra_args = ["--huge-unlink"]
[[port]]
name = "wan"
pci = "0000:01:00.0"
ipv4 = "198.18.0.2/24"
[dataplane]
net_lcores = [2, 3]
)",
                             "pci.toml");
  ASSERT_TRUE(c) << c.error().message;
  auto a = build_eal_args(*c, "mxgate");
  EXPECT_TRUE(has_seq(a, {"-l", "0,2,3"}));
  EXPECT_TRUE(has_seq(a, {"-a", "0000:01:00.0"}));
  EXPECT_TRUE(has_seq(a, {"--file-prefix", "carrier1"}));
  EXPECT_EQ(a.back(), "--huge-unlink");
  EXPECT_FALSE(has_seq(a, {"--no-huge"}));
  EXPECT_FALSE(has_seq(a, {"--no-pci"}));
  EXPECT_FALSE(has_seq(a, {"--in-memory"}));
}

}  // namespace
}  // namespace mx::dp
