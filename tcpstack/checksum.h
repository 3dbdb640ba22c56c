// tcpstack/checksum.h — the Internet checksum (RFC 1071).
#pragma once

#include <cstdint>

#include "common/bytes.h"

namespace mx::net {

// Ones'-complement sum of the bytes as big-endian 16-bit words (odd tail padded with zero),
// added to `initial`, not folded.
uint64_t csum_partial(ByteSpan data, uint64_t initial = 0) noexcept;

// Folds a partial sum to 16 bits and complements it: the value to put in a checksum field.
uint16_t csum_fold(uint64_t sum) noexcept;

// Checksum of `data`; a header that includes a correct checksum field verifies to 0.
inline uint16_t inet_checksum(ByteSpan data) noexcept { return csum_fold(csum_partial(data)); }

}  // namespace mx::net
