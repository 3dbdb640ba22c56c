// tests/unit/scan/mime_test_util.h — helpers shared by the MIME tests: run the parser over a
// message split at given points and return the structure dump.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scan/mime_dump.h"
#include "scan/mime_parser.h"

namespace mx::scan::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline ByteSpan bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Parses `msg` fed in pieces ending at the sorted `cuts`; returns the dump.
inline std::string dump_split(std::string_view msg, const std::vector<size_t>& cuts, const MimeLimits& lim = {},
                              Base64Impl impl = Base64Impl::kAuto) {
  MimeDumpSink sink;
  MimeParser parser(sink, lim, impl);
  size_t pos = 0;
  for (size_t c : cuts) {
    if (c < pos || c > msg.size()) continue;
    parser.feed(bytes(msg.substr(pos, c - pos)));
    pos = c;
  }
  parser.feed(bytes(msg.substr(pos)));
  parser.finish();
  return sink.text();
}

inline std::string dump_whole(std::string_view msg, const MimeLimits& lim = {}) { return dump_split(msg, {}, lim); }

// `n` random cut points (sorted) from a seeded generator.
inline std::vector<size_t> random_cuts(size_t size, unsigned seed, size_t n) {
  std::mt19937 rng(seed);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < n && size; ++i) cuts.push_back(rng() % (size + 1));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

}  // namespace mx::scan::test
