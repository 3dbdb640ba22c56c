// scan/base64.h — streaming base64 decoder (RFC 2045 6.8) with an AVX2 block path.
//
// SECURITY: input is attacker-controlled. The decoder never stops early: characters outside the
// alphabet are skipped (kInvalidBase64), data after '=' padding starts a new quantum
// (kBase64AfterPadding) so nothing after a stray '=' is hidden, an incomplete final quantum is
// flagged (kBase64Truncated) and its whole bytes are still emitted. The output depends only on
// the byte sequence, never on how it was split into calls, nor on the code path: the AVX2 path
// decodes 32 alphabet characters at a time and hands anything else to the scalar path, and the
// two give identical bytes and flags (tests/unit/scan/base64_test.cc compares them).
// STANDARDS: RFC 2045 6.8 (alphabet, 76-character lines, ignored characters, padding).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace mx::scan {

enum class Base64Impl : uint8_t { kAuto, kScalar, kAvx2 };

bool base64_avx2_available() noexcept;

class Base64Decoder {
 public:
  // kAuto picks AVX2 when the CPU has it (__builtin_cpu_supports); kAvx2 on a CPU without it
  // falls back to scalar.
  explicit Base64Decoder(Base64Impl impl = Base64Impl::kAuto) noexcept;

  void reset() noexcept {
    acc_ = 0;
    nq_ = 0;
    padded_ = false;
    flags_ = 0;
  }
  // Decodes `in`; writes at most max_output(in.size()) bytes to `out`; returns bytes written.
  size_t decode(ByteSpan in, uint8_t* out) noexcept;
  // End of input: emits what an incomplete final quantum holds; returns bytes written (<= 2).
  size_t finish(uint8_t* out) noexcept;
  // MimeFlag bits seen so far.
  uint64_t flags() const noexcept { return flags_; }

  // Output room decode() needs for n input bytes (the vector path stores 4 bytes of slack).
  static constexpr size_t max_output(size_t n) { return n / 4 * 3 + 3 + 8; }

 private:
  size_t decode_scalar(const uint8_t* p, size_t n, uint8_t* out) noexcept;

  bool avx2_;
  uint32_t acc_ = 0;   // sextets of the current quantum
  uint8_t nq_ = 0;     // sextets in acc_ (0..3)
  bool padded_ = false;  // '=' seen; further alphabet characters start a new quantum
  uint64_t flags_ = 0;
};

}  // namespace mx::scan
