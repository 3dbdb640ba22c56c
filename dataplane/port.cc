// dataplane/port.cc
#include "dataplane/port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>

#include <algorithm>

namespace mx::dp {
namespace {

std::string dev_name(const cfg::PortConfig& p) {
  if (!p.pci.empty()) return p.pci;
  return p.vdev.substr(0, p.vdev.find(','));
}

Error port_error(const cfg::PortConfig& p, const std::string& what, int rc) {
  return Error{"port '" + p.name + "': " + what + ": " + rte_strerror(rc < 0 ? -rc : rc)};
}

Expected<Port> start_port(const cfg::PortConfig& pc, rte_mempool* pool, uint16_t queues) {
  Port port;
  port.cfg = &pc;
  std::string name = dev_name(pc);
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port.id) != 0)
    return Error{"port '" + pc.name + "': no DPDK device named '" + name + "' (is the driver available?)"};
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port.id, &info); rc != 0) return port_error(pc, "dev_info_get", rc);
  port.driver = info.driver_name ? info.driver_name : "?";
  if (queues > info.max_rx_queues || queues > info.max_tx_queues)
    return Error{"port '" + pc.name + "': " + std::to_string(queues) + " net lcores need as many queues, driver " +
                 port.driver + " offers " + std::to_string(info.max_rx_queues)};

  rte_eth_conf conf{};
  // Checksum offloads when the port has them; the stack computes in software otherwise.
  conf.rxmode.offloads |= info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    port.tx_caps |= net::kTxIpv4Csum;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    port.tx_caps |= net::kTxTcpCsum;
  }
  if (int rc = rte_eth_dev_configure(port.id, queues, queues, &conf); rc != 0)
    return port_error(pc, "configure", rc);
  if (int rc = rte_eth_dev_set_mtu(port.id, pc.mtu); rc != 0 && rc != -ENOTSUP)
    return port_error(pc, "set MTU " + std::to_string(pc.mtu), rc);
  uint16_t rxd = pc.rx_desc, txd = pc.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rxd, &txd); rc != 0)
    return port_error(pc, "adjust descriptors", rc);
  int socket = rte_eth_dev_socket_id(port.id);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  for (uint16_t q = 0; q < queues; ++q) {
    rte_eth_rxconf rxc = info.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(port.id, q, rxd, static_cast<unsigned>(socket), &rxc, pool); rc != 0)
      return port_error(pc, "rx queue " + std::to_string(q), rc);
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(port.id, q, txd, static_cast<unsigned>(socket), &txc); rc != 0)
      return port_error(pc, "tx queue " + std::to_string(q), rc);
  }
  if (int rc = rte_eth_dev_start(port.id); rc != 0) return port_error(pc, "start", rc);
  if (port.driver == "net_tap") {
    // net_tap's PMD MAC is the kernel interface's own MAC: the stack must use another one, or
    // both ends of the tap would claim the same address. Frames from the tap reach us whatever
    // their destination, so no filter needs changing.
    port.mac = pc.mac ? *pc.mac : MacAddr{{0x02, 0x6d, 0x78, 0x67, 0x00, static_cast<uint8_t>(port.id + 1)}};
    return port;
  }
  if (pc.mac) {
    rte_ether_addr want{};
    std::copy(pc.mac->b.begin(), pc.mac->b.end(), want.addr_bytes);
    if (int rc = rte_eth_dev_default_mac_addr_set(port.id, &want); rc != 0) return port_error(pc, "set MAC", rc);
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(port.id, &mac);
  port.mac = MacAddr::from_bytes(mac.addr_bytes);
  return port;
}

}  // namespace

Expected<std::vector<Port>> start_ports(const cfg::Config& c, rte_mempool* pool, uint16_t queues) {
  std::vector<Port> ports;
  for (const cfg::PortConfig& pc : c.ports) {
    auto p = start_port(pc, pool, queues);
    if (!p) {
      close_ports(ports);
      return p.error();
    }
    ports.push_back(*p);
  }
  return ports;
}

void close_ports(std::vector<Port>& ports) {
  for (Port& p : ports) {
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
  }
  ports.clear();
}

}  // namespace mx::dp
