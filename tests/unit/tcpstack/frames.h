// tests/unit/tcpstack/frames.h — frame builders and a capturing Netif for stack tests.
#pragma once

#include <cstdint>
#include <vector>

#include "common/net_types.h"
#include "tcpstack/packet.h"
#include "tcpstack/stack.h"

namespace mx::test {

using Bytes = std::vector<uint8_t>;

// A Netif whose transmitted frames are kept in `sent`; buffers are plain memory.
class CaptureNetif final : public net::Netif {
 public:
  explicit CaptureNetif(MacAddr mac) : mac_(mac) {}
  MacAddr mac() const override { return mac_; }
  uint16_t mtu() const override { return 1500; }
  bool tx_alloc(uint32_t len, net::TxFrame& out) override;
  void tx_submit(net::TxFrame& frame) override;
  void rx_hold(void*) override {}
  void rx_release(void*) override {}

  std::vector<Bytes> sent;
  bool fail_alloc = false;
  static constexpr uint32_t kBufSize = 2048;

 private:
  MacAddr mac_;
  std::vector<Bytes> buffers_;
};

inline const MacAddr kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline const MacAddr kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline const Ipv4Addr kOurIp{0xC6120002};   // 198.18.0.2
inline const Ipv4Addr kPeerIp{0xC6120001};  // 198.18.0.1

net::StackConfig lab_stack_config();

Bytes eth_frame(const MacAddr& dst, const MacAddr& src, uint16_t type, const Bytes& payload);
Bytes arp_payload(uint16_t op, const MacAddr& sha, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa);
// A valid IPv4 datagram (checksum set). `options` must be a multiple of 4 bytes.
Bytes ipv4_datagram(Ipv4Addr src, Ipv4Addr dst, uint8_t proto, const Bytes& payload, const Bytes& options = {},
                    uint16_t frag_field = 0);
// An ICMP message with a valid checksum.
Bytes icmp_message(uint8_t type, uint8_t code, uint16_t id, uint16_t seq, const Bytes& data);
// Recomputes the IPv4 header checksum of an Ethernet frame in place.
void fix_ipv4_checksum(Bytes& frame);
// A complete echo request frame from the peer to us.
Bytes echo_request_frame(uint16_t id, uint16_t seq, const Bytes& data);

inline net::PacketView view(const Bytes& b, uint32_t flags = 0) {
  return net::PacketView{b.data(), static_cast<uint32_t>(b.size()), flags};
}

}  // namespace mx::test
