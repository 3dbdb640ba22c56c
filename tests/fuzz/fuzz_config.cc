// tests/fuzz/fuzz_config.cc — arbitrary bytes into the TOML reader and the config schema.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = mx::cfg::parse_config(text, "fuzz.toml");
  if (c) {
    // A config that parses satisfies the invariants the data plane relies on.
    if (c->ports.empty() || c->dataplane.net_lcores.empty() || c->eal.lcores.empty()) __builtin_trap();
  } else if (c.error().message.rfind("fuzz.toml", 0) != 0) {
    __builtin_trap();  // every error names the file
  }
  return 0;
}
