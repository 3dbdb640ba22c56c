// tcpstack/ethernet.cc
#include "tcpstack/ethernet.h"

#include <cstring>

namespace mx::net {

void write_eth_header(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t type) noexcept {
  std::memcpy(p, dst.b.data(), 6);
  std::memcpy(p + 6, src.b.data(), 6);
  store_be16(p + 12, type);
}

}  // namespace mx::net
