// ipc/toml.h — a strict reader for the subset of TOML v1.0 that mxgate configs use.
//
// Supported: comments, [table], [[array of tables]], bare keys, basic and literal strings,
// decimal integers (with '_' separators), booleans, arrays (may span lines). Anything else —
// dotted keys, inline tables, floats, dates, multi-line strings — is an error that names the
// line, never silently ignored. Duplicate keys and tables are errors.
//
// SECURITY: reads operator-supplied files; bounded by kTomlMaxBytes and kTomlMaxDepth.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace mx::cfg {

constexpr size_t kTomlMaxBytes = 1 << 20;
constexpr int kTomlMaxDepth = 8;

struct TomlValue {
  enum class Kind { kString, kInt, kBool, kArray };
  Kind kind{Kind::kString};
  std::string str;
  int64_t i{0};
  bool b{false};
  std::vector<TomlValue> arr;
  int line{0};
};

struct TomlTable {
  std::string name;     // "" for the root table
  bool array{false};    // declared with [[name]]
  int line{0};
  std::vector<std::pair<std::string, TomlValue>> entries;
  const TomlValue* find(std::string_view key) const;
};

struct TomlDoc {
  std::vector<TomlTable> tables;  // root first, then in file order
};

// `source` names the input in error messages ("file:line: ...").
// `max_bytes`: the document's bound (kTomlMaxBytes for config files; snapshots pushed by
// mxgate-control carry their rules inline and have their own, ipc/snapshot.h).
Expected<TomlDoc> parse_toml(std::string_view text, const std::string& source, size_t max_bytes = kTomlMaxBytes);

const char* kind_name(TomlValue::Kind k);

}  // namespace mx::cfg
