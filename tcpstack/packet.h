// tcpstack/packet.h — the device/queue split: protocol code sees frames only through
// PacketView (received) and TxFrame + Netif (to send). No DPDK here; dataplane/ implements
// Netif over mbufs without copying, and tests implement it over plain buffers.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/net_types.h"

namespace mx::net {

// What the port already verified for a received frame (DPDK's RX offload flags, mapped).
enum RxFlag : uint32_t {
  kRxIpCsumGood = 1u << 0,
  kRxIpCsumBad = 1u << 1,
  kRxL4CsumGood = 1u << 2,
  kRxL4CsumBad = 1u << 3,
};

// A received frame, starting at the Ethernet header. It is valid only while the caller's
// input() call runs, unless the stack holds it: TCP keeps received payload in place by calling
// Netif::rx_hold(handle) and later Netif::rx_release(handle). A null handle cannot be held (the
// stack copies instead).
struct PacketView {
  const uint8_t* data{nullptr};
  uint32_t len{0};
  uint32_t rx_flags{0};
  void* handle{nullptr};
  ByteSpan bytes() const noexcept { return {data, len}; }
};

// A frame buffer owned by the Netif until it is submitted. The stack writes `len` bytes at
// `data` (no more than `capacity`) and hands it back with Netif::tx_submit.
struct TxFrame {
  uint8_t* data{nullptr};
  uint32_t capacity{0};
  uint32_t len{0};
  void* handle{nullptr};
  uint32_t offload{0};  // TxCap bits the port must complete (checksums left to the NIC)
};

// Offloads that the port performs on transmit.
enum TxCap : uint32_t {
  kTxIpv4Csum = 1u << 0,
  kTxTcpCsum = 1u << 1,
  kTxUdpCsum = 1u << 2,
};

// One queue of one port, as the stack on one lcore sees it.
class Netif {
 public:
  virtual ~Netif() = default;
  virtual MacAddr mac() const = 0;
  virtual uint16_t mtu() const = 0;
  virtual uint32_t tx_caps() const { return 0; }
  // Gets a buffer for a frame of `len` bytes. False (and the caller counts a drop) when the
  // pool is empty or len is larger than a buffer.
  virtual bool tx_alloc(uint32_t len, TxFrame& out) = 0;
  // Takes ownership of a frame filled by the caller; it is sent at the next flush.
  virtual void tx_submit(TxFrame& frame) = 0;
  // Keeps a received frame's buffer alive after input() returns (one more reference), and
  // drops one reference. Only called with the non-null handle of a PacketView.
  virtual void rx_hold(void* handle) = 0;
  virtual void rx_release(void* handle) = 0;
};

}  // namespace mx::net
