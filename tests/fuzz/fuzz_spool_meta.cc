// tests/fuzz/fuzz_spool_meta.cc — arbitrary bytes into the spool entry reader; what parses must
// format and parse back to the same text (the runner rewrites entries after each attempt).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/spool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = mx::dp::parse_spool_meta(text);
  if (!m) return 0;
  if (m->rcpts.empty()) __builtin_trap();
  const std::string once = mx::dp::format_spool_meta(*m);
  auto again = mx::dp::parse_spool_meta(once);
  if (!again || mx::dp::format_spool_meta(*again) != once) __builtin_trap();
  return 0;
}
