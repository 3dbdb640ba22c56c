// smtp/data_scanner.cc — the vectorised search for line-structure bytes.
#include "smtp/data_scanner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
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

}  // namespace mx::smtp
