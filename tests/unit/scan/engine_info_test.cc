// Engine versions: the scan library links the real Hyperscan and libclamav.
#include "scan/engine_info.h"

#include <gtest/gtest.h>

namespace mx::scan {
namespace {

TEST(EngineInfo, ReportsRealLibraryVersions) {
  EXPECT_EQ(hyperscan_version().rfind("5.", 0), 0u) << hyperscan_version();
  EXPECT_EQ(clamav_version().rfind("1.", 0), 0u) << clamav_version();
}

}  // namespace
}  // namespace mx::scan
