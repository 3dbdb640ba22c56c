// control/build_info.cc
#include "control/build_info.h"

#include "scan/engine_info.h"

namespace mx::control {

std::string build_info() {
  return std::string("mxgate-control ") + MX_VERSION + " (rule compiler: Hyperscan " + scan::hyperscan_version() + ")";
}

}  // namespace mx::control
