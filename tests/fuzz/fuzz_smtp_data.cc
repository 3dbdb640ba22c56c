// tests/fuzz/fuzz_smtp_data.cc — differential: the DATA scanner over the whole input (the
// 64-byte block path) against the same input one byte at a time (the byte path). Body, flags,
// consumed count and end detection must agree, in DATA and in BDAT mode, in both policies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "smtp/data_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool dot_mode = data[0] & 1;
  const auto policy = (data[0] & 2) ? mx::smtp::BareNewlines::kNormalize : mx::smtp::BareNewlines::kReject;
  const uint64_t max = (data[0] & 4) ? 100 : (1u << 20);
  ++data;
  --size;
  mx::smtp::DataScanner whole(max, policy), bytes(max, policy);
  whole.begin(dot_mode);
  bytes.begin(dot_mode);
  std::string a, b;
  size_t na = whole.scan(mx::ByteSpan(data, size), [&](mx::ByteSpan x) { a.append(reinterpret_cast<const char*>(x.data()), x.size()); });
  size_t nb = 0;
  while (nb < size && !bytes.done())
    nb += bytes.scan(mx::ByteSpan(data + nb, 1), [&](mx::ByteSpan x) { b.append(reinterpret_cast<const char*>(x.data()), x.size()); });
  const auto& fa = whole.flags();
  const auto& fb = bytes.flags();
  if (na != nb || a != b || whole.done() != bytes.done() || fa.bare_lf != fb.bare_lf || fa.bare_cr != fb.bare_cr ||
      fa.nul != fb.nul || fa.long_line != fb.long_line || fa.oversize != fb.oversize)
    std::abort();
  if (a.size() > max) std::abort();
  return 0;
}
