// tcpstack/checksum.cc — RFC 1071 Internet checksum, summing 32 bits at a time.
#include "tcpstack/checksum.h"

namespace mx::net {

uint64_t csum_partial(ByteSpan data, uint64_t initial) noexcept {
  uint64_t sum = initial;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 4) {
    sum += load_be32(p);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum += load_be16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += uint64_t{p[0]} << 8;
  return sum;
}

uint16_t csum_fold(uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

uint16_t csum_update16(uint16_t old_csum, uint16_t old_word, uint16_t new_word) noexcept {
  uint64_t sum = uint64_t{static_cast<uint16_t>(~old_csum)} + static_cast<uint16_t>(~old_word) + new_word;
  return csum_fold(sum);
}

}  // namespace mx::net
