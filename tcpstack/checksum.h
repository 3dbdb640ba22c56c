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

// RFC 1624 eqn. 3: the checksum field after one 16-bit word of the covered data changed from
// old_word to new_word, without summing the data again.
uint16_t csum_update16(uint16_t old_csum, uint16_t old_word, uint16_t new_word) noexcept;

// Checksum of `data`; a header that includes a correct checksum field verifies to 0.
inline uint16_t inet_checksum(ByteSpan data) noexcept { return csum_fold(csum_partial(data)); }

}  // namespace mx::net
