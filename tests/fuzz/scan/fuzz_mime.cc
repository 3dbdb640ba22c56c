// tests/fuzz/scan/fuzz_mime.cc — the MIME parser on arbitrary input, differential: the input
// parsed in one piece against the same input split at points derived from its bytes, with the
// scalar base64 in one run and the runtime-selected (AVX2) one in the other. The structure
// dumps must be identical (abort otherwise); ASan/UBSan watch every run.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "scan/mime_dump.h"
#include "scan/mime_parser.h"

namespace {

std::string dump(const uint8_t* data, size_t size, const std::vector<size_t>& cuts, mx::scan::Base64Impl impl) {
  static mx::scan::MimeDumpSink sink;
  static mx::scan::MimeParser scalar(sink, {}, mx::scan::Base64Impl::kScalar);
  static mx::scan::MimeParser fast(sink, {}, mx::scan::Base64Impl::kAuto);
  mx::scan::MimeParser& p = impl == mx::scan::Base64Impl::kScalar ? scalar : fast;
  sink.clear();
  p.reset();
  size_t pos = 0;
  for (size_t c : cuts) {
    p.feed(mx::ByteSpan(data + pos, c - pos));
    pos = c;
  }
  p.feed(mx::ByteSpan(data + pos, size - pos));
  p.finish();
  return sink.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Up to 8 cut points from a hash of the input, so that every input is split differently.
  std::vector<size_t> cuts;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
  if (size > 1) {
    for (int k = 0; k < 8; ++k) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      cuts.push_back(static_cast<size_t>(h >> 33) % size);
    }
    std::sort(cuts.begin(), cuts.end());
  }
  const std::string whole = dump(data, size, {}, mx::scan::Base64Impl::kScalar);
  const std::string split = dump(data, size, cuts, mx::scan::Base64Impl::kAuto);
  if (whole != split) std::abort();
  return 0;
}
