// tests/fuzz/scan/fuzz_rules.cc — the rule-language parser (scan/rules.h) on arbitrary text:
// it must return a RuleSet or an error naming a line, never crash or hang. Small inputs that
// parse are also compiled with Hyperscan (scan/hs_rules.h), serialised and loaded again, and
// matched once against the input itself, so that the compiler's error path, the blob reader and
// the matcher see fuzzer-made rules too. ASan/UBSan watch every run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scan/hs_rules.h"
#include "scan/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = mx::scan::parse_rules(text);
  if (!set) {
    if (!set.error().message.starts_with("line ") && !set.error().message.starts_with("rule text"))
      abort();  // every error names its line
    return 0;
  }
  // Hyperscan compilation is slow for big sets; keep the fuzzer fast.
  if (size > 2048 || set->rules.size() > 16) return 0;
  auto rules = mx::scan::HsRules::compile(text);
  if (!rules) return 0;
  auto blob = rules->serialize();
  if (!blob) abort();
  auto loaded = mx::scan::HsRules::deserialize(
      mx::ByteSpan(reinterpret_cast<const uint8_t*>(blob->data()), blob->size()));
  if (!loaded) abort();  // what we wrote we must read
  auto scratch = loaded->make_scratch();
  if (!scratch) abort();
  auto m = mx::scan::RuleMatcher::create(*loaded, *scratch);
  if (!m) abort();
  mx::ByteSpan in(data, size);
  m->begin();
  m->header("Subject", in);
  m->field(mx::scan::RuleTarget::kUrl, in);
  m->attachment_size(size);
  m->body(in.subspan(0, size / 2));
  m->body(in.subspan(size / 2));
  m->rawbody(in);
  const auto& r = m->finish();
  if (r.scan_errors != 0) abort();
  return 0;
}
