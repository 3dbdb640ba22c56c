// smtp/data_scanner.cc — the vectorised search for line-structure bytes.
#include "smtp/data_scanner.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mx::smtp {

size_t find_line_special(const uint8_t* p, size_t n) noexcept {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)), _mm_cmpeq_epi8(v, zero));
    int bits = _mm_movemask_epi8(m);
    if (bits) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(bits)));
  }
#endif
  for (; i < n; ++i)
    if (p[i] == '\r' || p[i] == '\n' || p[i] == 0) return i;
  return n;
}

namespace {

// One 64-byte block is plain when: no NUL; every LF preceded by a CR and every CR followed by
// an LF inside the block (so no CR in the last byte); no '.' where a line starts; and the first
// line, continued from `line_len`, within kMaxTextLine. Updates line state when plain.
inline bool plain_block(uint64_t cr, uint64_t lf, uint64_t nul, uint64_t dot, bool& line_start,
                        uint64_t& line_len) noexcept {
  uint64_t starts = (lf << 1) | (line_start ? 1u : 0u);
  if (nul | (lf ^ (cr << 1)) | (cr >> 63) | (dot & starts)) return false;
  if (lf == 0) {
    if (line_len + 64 > kMaxTextLine) return false;
    line_len += 64;
    line_start = false;
    return true;
  }
  uint64_t first = static_cast<uint64_t>(__builtin_ctzll(lf));
  if (line_len + first - 1 > kMaxTextLine) return false;
  uint64_t last = 63 - static_cast<uint64_t>(__builtin_clzll(lf));
  line_len = 63 - last;
  line_start = last == 63;
  return true;
}

template <typename MaskFn>
inline size_t plain_loop(const uint8_t* p, size_t n, bool& line_start, uint64_t& line_len, MaskFn&& masks) {
  size_t done = 0;
  while (n - done >= 64) {
    uint64_t cr, lf, nul, dot;
    masks(p + done, cr, lf, nul, dot);
    if (!plain_block(cr, lf, nul, dot, line_start, line_len)) break;
    done += 64;
  }
  return done;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) inline uint64_t eq_mask_avx2(__m256i a, __m256i b, char c) {
  const __m256i v = _mm256_set1_epi8(c);
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, v)))) |
         static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, v)))) << 32;
}

__attribute__((target("avx2"))) size_t plain_blocks_avx2(const uint8_t* p, size_t n, bool& ls, uint64_t& ll) {
  size_t done = 0;
  while (n - done >= 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + done));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + done + 32));
    if (!plain_block(eq_mask_avx2(a, b, '\r'), eq_mask_avx2(a, b, '\n'), eq_mask_avx2(a, b, 0),
                     eq_mask_avx2(a, b, '.'), ls, ll))
      break;
    done += 64;
  }
  return done;
}
__attribute__((target("avx512bw"))) size_t plain_blocks_avx512(const uint8_t* p, size_t n, bool& ls, uint64_t& ll) {
  size_t done = 0;
  const __m512i cr = _mm512_set1_epi8('\r'), lf = _mm512_set1_epi8('\n'), zero = _mm512_setzero_si512(),
                dot = _mm512_set1_epi8('.');
  while (n - done >= 64) {
    const __m512i v = _mm512_loadu_si512(p + done);
    if (!plain_block(_mm512_cmpeq_epi8_mask(v, cr), _mm512_cmpeq_epi8_mask(v, lf), _mm512_cmpeq_epi8_mask(v, zero),
                     _mm512_cmpeq_epi8_mask(v, dot), ls, ll))
      break;
    done += 64;
  }
  return done;
}
#endif

size_t plain_blocks_generic(const uint8_t* p, size_t n, bool& ls, uint64_t& ll) {
  return plain_loop(p, n, ls, ll, [](const uint8_t* q, uint64_t& cr, uint64_t& lf, uint64_t& nul, uint64_t& dot) {
    cr = lf = nul = dot = 0;
    for (int k = 0; k < 64; ++k) {
      uint64_t bit = uint64_t{1} << k;
      cr |= q[k] == '\r' ? bit : 0;
      lf |= q[k] == '\n' ? bit : 0;
      nul |= q[k] == 0 ? bit : 0;
      dot |= q[k] == '.' ? bit : 0;
    }
  });
}

using PlainFn = size_t (*)(const uint8_t*, size_t, bool&, uint64_t&);
PlainFn pick_plain() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bw")) return plain_blocks_avx512;
  if (__builtin_cpu_supports("avx2")) return plain_blocks_avx2;
#endif
  return plain_blocks_generic;
}
const PlainFn kPlain = pick_plain();

}  // namespace

size_t plain_blocks(const uint8_t* p, size_t n, bool& line_start, uint64_t& line_len) noexcept {
  return kPlain(p, n, line_start, line_len);
}

}  // namespace mx::smtp
