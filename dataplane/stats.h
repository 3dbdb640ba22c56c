// dataplane/stats.h — the counters mxgate prints when it stops (after every lcore returned).
#pragma once

#include <cstdio>
#include <memory>
#include <vector>

#include "dataplane/net_lcore.h"
#include "dataplane/port.h"

namespace mx::dp {

// One line per (lcore, port) with every non-zero stack counter as key=value, one line per
// lcore for the loop, and one line per port from the driver's statistics.
void print_counters(FILE* f, const std::vector<std::unique_ptr<NetLcore>>& lcores, const std::vector<Port>& ports);

}  // namespace mx::dp
