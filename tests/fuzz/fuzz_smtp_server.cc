// tests/fuzz/fuzz_smtp_server.cc — arbitrary client bytes into a server session, cut into
// segments by the input itself, with the application deferring and answering decisions.
// Invariants checked: every reply line is "DDD[ -]text" ending in CRLF with no bare CR/LF;
// input is only refused while a decision is pending; nothing is held beyond the limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "smtp/server.h"

namespace {

class FuzzHandler final : public mx::smtp::ServerHandler {
 public:
  uint8_t mode = 0;
  mx::smtp::Decision pick() {
    switch (mode++ % 4) {
      case 0: return mx::smtp::Decision::accept();
      case 1: return mx::smtp::Decision::defer();
      case 2: return mx::smtp::Decision::with(mx::smtp::reply(550, "5.7.1", "no\r\nthanks"));
      default: return mx::smtp::Decision::with(mx::smtp::reply(451, "4.3.0", "later"));
    }
  }
  mx::smtp::Decision on_helo(std::string_view, bool) override { return pick(); }
  mx::smtp::Decision on_mail(const mx::smtp::Mailbox&, const mx::smtp::MailParams&) override { return pick(); }
  mx::smtp::Decision on_rcpt(const mx::smtp::Mailbox& m, const mx::smtp::RcptParams&) override {
    if (m.domain.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
    return pick();
  }
  void on_data(mx::ByteSpan b) override { bytes += b.size(); }
  mx::smtp::Decision on_end_of_data(const mx::smtp::EndOfData&) override { return pick(); }
  uint64_t bytes = 0;
};

void check_output(std::string_view out) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t e = out.find("\r\n", pos);
    if (e == std::string_view::npos) std::abort();  // unterminated reply
    std::string_view line = out.substr(pos, e - pos);
    if (line.size() < 4 || line[0] < '2' || line[0] > '5' || (line[3] != ' ' && line[3] != '-')) std::abort();
    if (line.find_first_of("\r\n") != std::string_view::npos) std::abort();
    pos = e + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const mx::smtp::ServerConfig cfg{"mx.fuzz", 4096, 5};
  FuzzHandler h;
  mx::smtp::ServerSession s(cfg, h);
  uint64_t now = 1;
  s.start(mx::Tick{now});
  while (size > 0) {
    size_t len = (data[0] & 0x80) ? 64 + (data[0] & 0x7f) * 32 : 1 + data[0] % 64;  // up to ~4 KiB: block path too
    ++data;
    --size;
    if (len > size) len = size;
    size_t used = s.feed(mx::ByteSpan(data, len), mx::Tick{++now});
    if (used < len && !s.awaiting_decision()) std::abort();
    if (s.awaiting_decision()) s.resume(h.pick(), mx::Tick{++now});
    check_output(s.output());
    s.consume_output(s.output().size());
    data += used;
    size -= used;
    if (len && used == 0 && s.awaiting_decision()) break;
  }
  s.tick(mx::Tick{now + 3600 * mx::kNsPerSec});
  check_output(s.output());
  if (!s.wants_close()) std::abort();  // the session deadline always ends it
  return 0;
}
