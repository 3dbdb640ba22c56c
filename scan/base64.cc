// scan/base64.cc — scalar base64 quanta and the AVX2 32-character block path.
#include "scan/base64.h"

#include <array>

#include "scan/mime_types.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mx::scan {
namespace {

constexpr uint8_t kWs = 64, kPad = 65, kBad = 66;

constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (int i = 0; i < 26; ++i) {
    t[static_cast<size_t>('A' + i)] = static_cast<uint8_t>(i);
    t[static_cast<size_t>('a' + i)] = static_cast<uint8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t[static_cast<size_t>('0' + i)] = static_cast<uint8_t>(52 + i);
  t['+'] = 62;
  t['/'] = 63;
  t[' '] = t['\t'] = t['\r'] = t['\n'] = kWs;  // RFC 2045 6.8: line breaks and transport padding
  t['='] = kPad;
  return t;
}
constexpr std::array<uint8_t, 256> kTable = make_table();


#if defined(__x86_64__)
// Maps 32 ASCII characters to sextets; `valid` gets one bit per byte in the alphabet. Bytes
// >= 0x80 are negative as signed bytes and fall outside every range.
__attribute__((target("avx2"))) inline __m256i in_range_avx2(__m256i x, char lo, char hi) {
  return _mm256_and_si256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                          _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), x));
}

__attribute__((target("avx2"))) inline __m256i sextets_avx2(__m256i x, uint32_t& valid) {
  const __m256i upper = in_range_avx2(x, 'A', 'Z');
  const __m256i lower = in_range_avx2(x, 'a', 'z');
  const __m256i digit = in_range_avx2(x, '0', '9');
  const __m256i plus = _mm256_cmpeq_epi8(x, _mm256_set1_epi8('+'));
  const __m256i slash = _mm256_cmpeq_epi8(x, _mm256_set1_epi8('/'));
  const __m256i any = _mm256_or_si256(_mm256_or_si256(upper, lower), _mm256_or_si256(digit, _mm256_or_si256(plus, slash)));
  valid = static_cast<uint32_t>(_mm256_movemask_epi8(any));
  __m256i off = _mm256_and_si256(upper, _mm256_set1_epi8(-65));
  off = _mm256_or_si256(off, _mm256_and_si256(lower, _mm256_set1_epi8(-71)));
  off = _mm256_or_si256(off, _mm256_and_si256(digit, _mm256_set1_epi8(4)));
  off = _mm256_or_si256(off, _mm256_and_si256(plus, _mm256_set1_epi8(19)));
  off = _mm256_or_si256(off, _mm256_and_si256(slash, _mm256_set1_epi8(16)));
  return _mm256_add_epi8(x, off);
}

// Packs 4 sextets per 32-bit lane into 3 bytes, most significant first, and stores 24 bytes
// (writing 4 bytes of slack after them).
__attribute__((target("avx2"))) inline void pack_store_avx2(__m256i s, uint8_t* out) {
  // (a << 6 | b) per 16-bit pair, then (ab << 12 | cd) per 32-bit lane: 24 bits, bytes 2,1,0.
  const __m256i pairs = _mm256_maddubs_epi16(s, _mm256_set1_epi32(0x01400140));
  const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
  const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                         2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i bytes = _mm256_shuffle_epi8(quads, order);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(bytes));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 12), _mm256_extracti128_si256(bytes, 1));
}

// From a quantum boundary: whole 32-byte blocks, the whole quanta before a non-alphabet byte,
// and runs of whitespace that start at a quantum boundary (line breaks) — everything that needs
// no decoder state. Stops where the scalar path must take over (a non-whitespace byte, or one
// inside a quantum) or fewer than 32 bytes remain. Returns the bytes consumed; `produced` gets
// the bytes written. Stores write up to 4 bytes of slack past what they produce, and a block
// with a non-alphabet byte writes garbage past its whole quanta: later output overwrites both,
// and they stay within Base64Decoder::max_output.
__attribute__((target("avx2"))) size_t fast_avx2(const uint8_t* p, size_t n, uint8_t* out, size_t& produced) {
  size_t i = 0, o = 0;
  while (n - i >= 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    uint32_t valid = 0;
    const __m256i s = sextets_avx2(x, valid);
    pack_store_avx2(s, out + o);
    if (valid == 0xFFFFFFFFu) {
      i += 32;
      o += 24;
      continue;
    }
    const size_t bad = static_cast<size_t>(__builtin_ctz(~valid));
    const size_t q = bad / 4 * 4;
    i += q;
    o += q / 4 * 3;
    if (bad != q || kTable[p[i]] != kWs) break;
    while (i < n && kTable[p[i]] == kWs) ++i;
  }
  produced = o;
  return i;
}
#endif

}  // namespace

bool base64_avx2_available() noexcept {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

Base64Decoder::Base64Decoder(Base64Impl impl) noexcept
    : avx2_(impl != Base64Impl::kScalar && base64_avx2_available()) {}

// RFC 2045 6.8, one character at a time: alphabet characters fill 24-bit quanta; '=' ends the
// data of a quantum of 2 or 3 characters; whitespace is ignored; anything else is skipped and
// flagged.
size_t Base64Decoder::decode_scalar(const uint8_t* p, size_t n, uint8_t* out) noexcept {
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t v = kTable[p[i]];
    if (v < 64) {
      if (padded_) {
        flags_ |= kBase64AfterPadding;
        padded_ = false;
      }
      acc_ = (acc_ << 6) | v;
      if (++nq_ == 4) {
        out[o++] = static_cast<uint8_t>(acc_ >> 16);
        out[o++] = static_cast<uint8_t>(acc_ >> 8);
        out[o++] = static_cast<uint8_t>(acc_);
        acc_ = 0;
        nq_ = 0;
      }
    } else if (v == kPad) {
      if (padded_) continue;  // the second '=' of "xx=="
      if (nq_ == 2) {
        out[o++] = static_cast<uint8_t>(acc_ >> 4);
      } else if (nq_ == 3) {
        out[o++] = static_cast<uint8_t>(acc_ >> 10);
        out[o++] = static_cast<uint8_t>(acc_ >> 2);
      } else {
        flags_ |= kInvalidBase64;  // '=' where no padding can be: a lone sextet is dropped
      }
      acc_ = 0;
      nq_ = 0;
      padded_ = true;
    } else if (v == kBad) {
      flags_ |= kInvalidBase64;
    }
  }
  return o;
}

size_t Base64Decoder::decode(ByteSpan in, uint8_t* out) noexcept {
  const uint8_t* p = in.data();
  const size_t n = in.size();
  size_t i = 0, o = 0;
#if defined(__x86_64__)
  while (avx2_ && n - i >= 32) {
    if (nq_ == 0 && !padded_) {
      size_t produced = 0;
      const size_t consumed = fast_avx2(p + i, n - i, out + o, produced);
      i += consumed;
      o += produced;
      if (n - i < 32) break;
    }
    // A byte the vector path cannot take (mid-quantum, padding, invalid): one at a time until
    // the state is back at a quantum boundary.
    o += decode_scalar(p + i, 1, out + o);
    ++i;
  }
#endif
  o += decode_scalar(p + i, n - i, out + o);
  return o;
}

size_t Base64Decoder::finish(uint8_t* out) noexcept {
  size_t o = 0;
  if (nq_ != 0) {
    flags_ |= kBase64Truncated;
    if (nq_ == 2) out[o++] = static_cast<uint8_t>(acc_ >> 4);
    if (nq_ == 3) {
      out[o++] = static_cast<uint8_t>(acc_ >> 10);
      out[o++] = static_cast<uint8_t>(acc_ >> 2);
    }
  }
  acc_ = 0;
  nq_ = 0;
  padded_ = false;
  return o;
}

}  // namespace mx::scan
