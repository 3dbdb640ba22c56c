// dataplane/eal_args.h — the EAL command line derived from the config (no DPDK calls, so it is
// unit-tested without EAL).
#pragma once

#include <string>
#include <vector>

#include "dataplane/config.h"

namespace mx::dp {

std::vector<std::string> build_eal_args(const cfg::Config& c, const std::string& argv0);

}  // namespace mx::dp
