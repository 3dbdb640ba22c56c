// tests/fuzz/fuzz_node_stats.cc — the stats frame's text (ipc/node_stats.h) over arbitrary bytes:
// the checker never crashes; every error names its line; every text it accepts is canonical (its
// families and samples, written back, are the input byte for byte); merging it for two nodes
// leaves nothing out, gives each sample once per node with the node label first, and what
// remains once that label is taken away is again an accepted text with the same samples.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipc/node_stats.h"

namespace {

using mx::ipc::StatsFamily;

size_t samples_of(const std::vector<StatsFamily>& fams) {
  size_t n = 0;
  for (const StatsFamily& f : fams) n += f.samples.size();
  return n;
}

// The merged text without node="NAME": {node="NAME",  -> {   and {node="NAME"} -> nothing.
std::string without_node(std::string_view merged, std::string_view name) {
  const std::string first = "{node=\"" + std::string(name) + "\",", only = "{node=\"" + std::string(name) + "\"}";
  std::string out;
  size_t pos = 0;
  while (pos < merged.size()) {
    const size_t eol = merged.find('\n', pos);
    std::string line(merged.substr(pos, eol - pos));
    pos = eol + 1;
    if (line[0] != '#') {
      const size_t brace = line.find('{');
      if (brace == std::string::npos) __builtin_trap();
      if (line.compare(brace, first.size(), first) == 0) line.replace(brace, first.size(), "{");
      else if (line.compare(brace, only.size(), only) == 0) line.erase(brace, only.size());
      else __builtin_trap();
    }
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = mx::ipc::parse_node_stats(text);
  if (!p) {
    if (!p.error().message.starts_with("line ") && !p.error().message.starts_with("stats text of")) __builtin_trap();
    return 0;
  }
  std::string again;
  for (const StatsFamily& f : *p) {
    again += "# TYPE " + std::string(f.name) + " " + std::string(mx::ipc::metric_type_name(f.type)) + "\n";
    for (const auto& s : f.samples) {
      again += s.name;
      if (!s.labels.empty()) again += "{" + std::string(s.labels) + "}";
      again += " " + std::string(s.value) + "\n";
    }
  }
  if (again != text) __builtin_trap();
  std::string merged;
  if (mx::ipc::merge_node_stats(merged, {{"a", text}, {"b\"\\", text}}) != 0) __builtin_trap();
  size_t a = 0, b = 0;
  for (size_t at = merged.find("{node=\"a\""); at != std::string::npos; at = merged.find("{node=\"a\"", at + 1)) ++a;
  for (size_t at = merged.find("{node=\"b\\\"\\\\\""); at != std::string::npos;
       at = merged.find("{node=\"b\\\"\\\\\"", at + 1))
    ++b;
  const size_t n = samples_of(*p);
  if (a != n || b != n) __builtin_trap();
  std::string one;
  if (mx::ipc::merge_node_stats(one, {{"a", text}}) != 0) __builtin_trap();
  const std::string stripped = without_node(one, "a");
  auto q = mx::ipc::parse_node_stats(stripped);
  if (!q || samples_of(*q) != n || q->size() != p->size()) __builtin_trap();
  return 0;
}
