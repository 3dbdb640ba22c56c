// scan/engine_info.cc
#include "scan/engine_info.h"

#include <clamav.h>
#include <hs/hs.h>

namespace mx::scan {

std::string hyperscan_version() { return hs_version(); }
std::string clamav_version() { return cl_retver(); }

}  // namespace mx::scan
