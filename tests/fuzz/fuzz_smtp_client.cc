// tests/fuzz/fuzz_smtp_client.cc — arbitrary server replies into the client engine, cut into
// segments by the input. Invariants: the message body never leaves before the server said
// 354 (or accepted BDAT), a required-TLS route never sends MAIL in clear, and the session
// always ends (deadline) with a decided outcome.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "smtp/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static auto tls = mx::smtp::TlsClientContext::create();
  mx::smtp::ClientConfig cfg;
  const uint8_t mode = data[0];
  cfg.tls = (mode & 1) ? mx::smtp::TlsPolicy::kRequired : mx::smtp::TlsPolicy::kOpportunistic;
  cfg.use_pipelining = mode & 2;
  cfg.use_chunking = mode & 4;
  cfg.bdat_chunk = 7;
  ++data;
  --size;
  static const std::string body = "Subject: x\r\n\r\nBODYMARK line\r\n.dot\r\n";
  mx::smtp::ClientMessage msg;
  msg.from = "a@example.net";
  msg.rcpts = {{"b@example.test", {}}, {"c@example.test", {}}};
  msg.body = mx::ByteSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  mx::smtp::ClientSession s(cfg, tls ? *tls : nullptr, msg);
  uint64_t now = 1;
  s.start(mx::Tick{now});
  std::string sent, seen;
  while (size > 0 && !s.wants_close()) {
    size_t len = 1 + data[0] % 96;
    ++data;
    --size;
    if (len > size) len = size;
    seen.append(reinterpret_cast<const char*>(data), len);
    s.feed(mx::ByteSpan(data, len), mx::Tick{++now});
    sent.append(s.output());
    s.consume_output(s.output().size());
    data += len;
    size -= len;
  }
  // The body only goes out after a 354 or inside BDAT (whose chunks follow accepted RCPTs).
  size_t body_at = sent.find("BODYMARK");
  if (body_at != std::string::npos && seen.find("354") == std::string::npos && sent.find("BDAT") == std::string::npos)
    std::abort();
  // Required TLS: no MAIL command in clear (TLS output is ciphertext, never "MAIL FROM").
  if ((mode & 1) && sent.find("MAIL FROM") != std::string::npos) std::abort();
  s.tick(mx::Tick{now + 3600 * mx::kNsPerSec});
  if (s.result().outcome == mx::smtp::ClientResult::Outcome::kPending) std::abort();
  return 0;
}
