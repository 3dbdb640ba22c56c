// tests/fuzz/scan/fuzz_sa_cf.cc — the SpamAssassin .cf reader (scan/sa_cf.h) on arbitrary text:
// the input is split at NUL bytes into files (the first is named init.pre, so loadplugin lines
// and conditionals interact); translation must succeed or fail with an error naming a file,
// never crash or hang; its output must always be accepted by the rule-language parser, and
// every rule defined is either translated or listed with a reason. Small translations are also
// compiled with Hyperscan and matched against the input. ASan/UBSan watch every run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "scan/rules.h"
#include "scan/sa_cf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<mx::scan::SaFile> files;
  for (size_t pos = 0; files.size() < 8;) {
    size_t nul = text.find('\0', pos);
    std::string_view part = text.substr(pos, nul == std::string_view::npos ? text.size() - pos : nul - pos);
    files.push_back({files.empty() ? "init.pre" : "f" + std::to_string(files.size()) + ".cf", std::string(part)});
    if (nul == std::string_view::npos) break;
    pos = nul + 1;
  }
  auto t = mx::scan::translate_sa_cf(files);
  if (!t) {
    const std::string& m = t.error().message;
    if (!m.starts_with("init.pre") && !m.starts_with("f") && !m.starts_with("translated rules refused") &&
        !m.starts_with("more than") && !m.starts_with("rule files larger"))
      abort();
    return 0;
  }
  if (t->rules_translated + t->unsupported.size() != t->rules_defined) abort();
  for (const auto& u : t->unsupported)
    if (u.reason.empty()) abort();
  auto set = mx::scan::parse_rules(t->rules_text);
  if (!set) abort();  // the translation is always valid rule language
  if (set->rules.size() != t->rules_translated) abort();
  if (size > 1024 || set->rules.size() > 8) return 0;  // Hyperscan compiles are slow
  auto c = mx::scan::compile_sa_cf(files);
  if (!c) return 0;
  auto scratch = c->rules.make_scratch();
  if (!scratch) abort();
  auto m = mx::scan::RuleMatcher::create(c->rules, *scratch);
  if (!m) abort();
  mx::ByteSpan in(data, size);
  m->begin();
  m->header("Subject", in);
  m->header("all", in);
  m->body(in);
  m->full(in);
  m->field(mx::scan::RuleTarget::kUrl, in);
  if (m->finish().scan_errors != 0) abort();
  return 0;
}
