// dataplane/port.h — bring DPDK ports up from the config: one rx/tx queue pair per net lcore.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/net_types.h"
#include "dataplane/config.h"
#include "tcpstack/packet.h"

namespace mx::dp {

struct Port {
  const cfg::PortConfig* cfg{nullptr};
  uint16_t id{0};
  MacAddr mac;
  std::string driver;
  uint32_t tx_caps{0};  // net::TxCap offloads enabled on the port
};

// Finds, configures and starts every configured port with `queues` queue pairs.
Expected<std::vector<Port>> start_ports(const cfg::Config& c, rte_mempool* pool, uint16_t queues);
// Stops and closes the ports (a net_tap port removes its kernel interface).
void close_ports(std::vector<Port>& ports);

}  // namespace mx::dp
