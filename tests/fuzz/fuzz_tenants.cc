// tests/fuzz/fuzz_tenants.cc — arbitrary bytes into the tenant snapshot reader (the format
// mxgate-control will push). Inputs naming a rules file are skipped: the reader would open it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipc/snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find("rules") != std::string_view::npos) return 0;
  auto s = mx::ipc::parse_snapshot(text, "fuzz.toml", 1);
  if (!s) {
    if (s.error().message.rfind("fuzz.toml", 0) != 0) __builtin_trap();  // every error names the file
    return 0;
  }
  // Every tenant owns its domains, and every user's tenant owns the user's domain.
  mx::ipc::PolicyKey k;
  for (const mx::ipc::Tenant& t : (*s)->tenants())
    for (const std::string& d : t.domains)
      if ((*s)->lookup("x", d, k) != &t || !t.rules) __builtin_trap();
  for (const mx::ipc::User& u : (*s)->users())
    if (u.tenant >= (*s)->tenants().size()) __builtin_trap();
  return 0;
}
