// control/sa_rules_main.cc — mxgate-sarules: SpamAssassin rule directories in, a compiled rule
// blob out (scan/sa_cf.h), with the rules that could not be translated listed and counted.
//
//   mxgate-sarules [--out BLOB] [--text FILE] [--unsupported] DIR...
//     DIR...          SpamAssassin rule directories, read in SpamAssassin's order
//                     (e.g. /usr/share/spamassassin /etc/spamassassin)
//     --out BLOB      write the serialised rule blob the data plane loads
//     --text FILE     write the translated rule-language text
//     --unsupported   list every rule not translated: file:line NAME: reason
// Prints a summary; exit 0 on success, 1 on an error (message on stderr), 2 on bad usage.
// SECURITY: the directories' files are operator input, bounded by scan/sa_cf.h.
// STANDARDS: none.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "scan/sa_cf.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: mxgate-sarules [--out BLOB] [--text FILE] [--unsupported] DIR...\n");
  return 2;
}

bool write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out.flush());
}

// "regex modifier 'x'" and Hyperscan's messages grouped by their start, for the summary.
std::string reason_class(const std::string& r) {
  if (r.starts_with("hyperscan: ")) {
    std::string h = r.substr(11);
    if (size_t p = h.find(" at index"); p != std::string::npos) h.resize(p);
    if (size_t p = h.find('.'); p != std::string::npos) h.resize(p);
    return "hyperscan: " + h;
  }
  if (r.starts_with("meta refers to undefined rule")) return "meta refers to undefined rule";
  if (r.starts_with("pseudo-header")) return "pseudo-header (relay parser)";
  if (r.starts_with("rule type")) return r;
  return r.size() > 60 ? r.substr(0, 60) : r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path, text_path;
  bool list = false;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else if (a == "--text" && i + 1 < argc) text_path = argv[++i];
    else if (a == "--unsupported") list = true;
    else if (a.starts_with("-")) return usage();
    else dirs.push_back(a);
  }
  if (dirs.empty()) return usage();
  auto files = mx::scan::read_sa_dirs(dirs);
  if (!files) {
    std::fprintf(stderr, "mxgate-sarules: %s\n", files.error().message.c_str());
    return 1;
  }
  auto compiled = mx::scan::compile_sa_cf(*files);
  if (!compiled) {
    std::fprintf(stderr, "mxgate-sarules: %s\n", compiled.error().message.c_str());
    return 1;
  }
  const mx::scan::SaTranslation& t = compiled->translation;
  if (!text_path.empty() && !write_file(text_path, t.rules_text)) {
    std::fprintf(stderr, "mxgate-sarules: cannot write %s\n", text_path.c_str());
    return 1;
  }
  if (!out_path.empty()) {
    auto blob = compiled->rules.serialize();
    if (!blob || !write_file(out_path, *blob)) {
      std::fprintf(stderr, "mxgate-sarules: cannot write %s\n", out_path.c_str());
      return 1;
    }
  }
  std::map<std::string, size_t> classes;
  for (const auto& u : t.unsupported) ++classes[reason_class(u.reason)];
  std::printf("files %zu, lines %zu, rules defined %zu, translated %zu, unsupported %zu, "
              "metas with dropped terms %zu, Hyperscan databases %zu\n",
              files->size(), t.lines_read, t.rules_defined, t.rules_translated, t.unsupported.size(),
              t.metas_with_dropped_terms.size(), compiled->rules.database_count());
  for (const auto& [reason, n] : classes) std::printf("  unsupported %5zu  %s\n", n, reason.c_str());
  if (list)
    for (const auto& u : t.unsupported)
      std::printf("%s:%u %s: %s\n", u.file.c_str(), u.line, u.rule.c_str(), u.reason.c_str());
  return 0;
}
