// tcpstack/icmp.h — ICMP for IPv4 (RFC 792).
#pragma once

#include <cstdint>

namespace mx::net {

constexpr uint32_t kIcmpHeaderLen = 8;
constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpDestUnreachable = 3;
constexpr uint8_t kIcmpEchoRequest = 8;

}  // namespace mx::net
