// tests/fuzz/fuzz_ipc_frame.cc — the IPC frame reader (ipc/frame.h) over arbitrary streams fed in
// arbitrary pieces: it never buffers more than a header plus the announced type's bound, every
// frame it yields re-encodes to the bytes it came from, and after an error it reads nothing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ipc/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  mx::ipc::FrameReader r;
  std::string again;
  size_t pos = 0;
  while (pos < in.size() && !r.failed()) {
    const size_t n = std::min(step, in.size() - pos);
    size_t used = 0;
    do {
      used += r.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(in.data()) + pos + used, n - used));
      if (r.buffered() > mx::ipc::kFrameHeaderBytes + mx::ipc::kMaxLogBatchBytes) __builtin_trap();
      mx::ipc::FrameHeader h;
      std::string_view p;
      while (r.next(h, p)) {
        if (p.size() != h.length || h.length > mx::ipc::max_payload(h.type)) __builtin_trap();
        again += mx::ipc::encode_frame(h.type, h.seq, p);
      }
    } while (used < n && !r.failed());
    pos += n;
  }
  if (r.failed()) {
    if (r.error().empty()) __builtin_trap();
    if (r.feed(mx::ByteSpan(data, size)) != 0) __builtin_trap();
  }
  // Whatever was decoded is a prefix of the input, byte for byte.
  if (in.substr(0, again.size()) != again) __builtin_trap();
  return 0;
}
