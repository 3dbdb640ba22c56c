// control/build_info.h — what mxgate-control reports about itself (the control plane itself
// arrives with its own issue; this library is where it will live).
#pragma once

#include <string>

namespace mx::control {

// "mxgate-control VERSION (rule compiler: Hyperscan X)": the control plane compiles tenant
// rules with the same Hyperscan that the data plane loads them with.
std::string build_info();

}  // namespace mx::control
