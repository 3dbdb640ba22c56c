// tests/fuzz/fuzz_spool_meta.cc — arbitrary bytes into the spool entry reader; what parses must
// format and parse back to the same text (the runner rewrites entries after each attempt). And
// the other way: a SpoolMeta whose every field holds arbitrary bytes (a downstream reply in
// "last", anything in the addresses) must format to a text that parses, and is then stable —
// an entry the formatter wrote is never set aside as .bad.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/spool.h"

namespace {

void text_round_trips(std::string_view text) {
  auto m = mx::dp::parse_spool_meta(text);
  if (!m) return;
  if (m->rcpts.empty()) __builtin_trap();
  const std::string once = mx::dp::format_spool_meta(*m);
  auto again = mx::dp::parse_spool_meta(once);
  if (!again || mx::dp::format_spool_meta(*again) != once) __builtin_trap();
}

void any_meta_formats_to_a_parsable_text(FuzzedDataProvider& in) {
  mx::dp::SpoolMeta m;
  m.id = in.ConsumeIntegral<uint64_t>();
  m.tenant = in.ConsumeRandomLengthString(200);
  m.route_ip = mx::Ipv4Addr{in.ConsumeIntegral<uint32_t>()};
  m.route_port = in.ConsumeIntegral<uint16_t>();
  m.tls = static_cast<mx::smtp::TlsPolicy>(in.ConsumeIntegralInRange<int>(0, 3));
  m.from = in.ConsumeRandomLengthString(1000);
  m.params.body = static_cast<mx::smtp::Body>(in.ConsumeIntegralInRange<int>(0, 2));
  m.params.smtputf8 = in.ConsumeBool();
  m.params.ret = static_cast<mx::smtp::DsnRet>(in.ConsumeIntegralInRange<int>(0, 2));
  m.params.envid = in.ConsumeRandomLengthString(300);
  const size_t rcpts = in.ConsumeIntegralInRange<size_t>(1, 4);
  for (size_t i = 0; i < rcpts; ++i) {
    mx::dp::SpoolRcpt r;
    r.params.notify = in.ConsumeIntegral<uint8_t>();
    r.params.orcpt = in.ConsumeRandomLengthString(1000);
    r.address = in.ConsumeRandomLengthString(1000);
    m.rcpts.push_back(std::move(r));
  }
  m.created = in.ConsumeIntegral<uint64_t>();
  m.expires = in.ConsumeIntegral<uint64_t>();
  m.attempts = in.ConsumeIntegral<uint64_t>();
  m.next = in.ConsumeIntegral<uint64_t>();
  m.dsn = in.ConsumeBool();
  m.last = in.ConsumeRemainingBytesAsString();
  const std::string once = mx::dp::format_spool_meta(m);
  auto back = mx::dp::parse_spool_meta(once);
  if (!back || back->rcpts.size() != rcpts || mx::dp::format_spool_meta(*back) != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  text_round_trips(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  any_meta_formats_to_a_parsable_text(in);
  return 0;
}
