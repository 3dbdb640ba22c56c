// scan/qp.h — streaming quoted-printable decoder (RFC 2045 6.7).
//
// SECURITY: input is attacker-controlled. Malformed escapes are never dropped: '=' not followed
// by two hex digits or a line end is kept literally with what follows (kInvalidQp), which is
// what most readers show. Soft line breaks "=" CRLF (also "=" LF, and "=" followed by transport
// whitespace before the line end, rule 6.7(3)) join lines, so a word split across lines reaches
// body rules whole. Trailing whitespace before a line end is removed (rule 6.7(3)); a run of
// more than kMaxHeldSpace blanks is passed on in pieces so the state stays bounded. The output
// depends only on the byte sequence, not on how it was split into calls.
// STANDARDS: RFC 2045 6.7 (rules 1-5), lowercase hex accepted as 6.7(1) allows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace mx::scan {

class QpDecoder {
 public:
  static constexpr size_t kMaxHeldSpace = 64;

  void reset() noexcept {
    state_ = kText;
    held_ = 0;
    flags_ = 0;
  }
  // Writes at most max_output(in.size()) bytes to out; returns bytes written.
  size_t decode(ByteSpan in, uint8_t* out) noexcept;
  size_t finish(uint8_t* out) noexcept;
  uint64_t flags() const noexcept { return flags_; }
  static constexpr size_t max_output(size_t n) { return n + kMaxHeldSpace + 4; }

 private:
  enum State : uint8_t { kText, kEq, kEqHex, kEqSpace, kEqCr };
  size_t step(uint8_t c, uint8_t* out) noexcept;  // one byte; returns bytes written
  size_t flush_held(uint8_t* out) noexcept;

  State state_ = kText;
  uint8_t hex1_ = 0;
  uint32_t held_ = 0;  // blanks held (in kText: maybe trailing; in kEqSpace: after '=')
  uint8_t held_bytes_[kMaxHeldSpace];
  uint64_t flags_ = 0;
};

}  // namespace mx::scan
