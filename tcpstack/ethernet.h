// tcpstack/ethernet.h — Ethernet II framing (IEEE 802.3 with EtherType; RFC 894).
#pragma once

#include <cstdint>

#include "common/net_types.h"

namespace mx::net {

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

// Writes dst, src and type at the start of a frame buffer of at least kEthHeaderLen bytes.
void write_eth_header(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t type) noexcept;

}  // namespace mx::net
