// ipc/json.h — a small, bounded JSON reader: a whole document into a tree of JsonValue (the
// transaction-log records, the control API's bodies). Writing JSON is json_string (ipc/txlog.h)
// and the caller's own punctuation.
//
// SECURITY: the text is untrusted (it crosses the IPC channel or comes from an API client), so
// every resource is bounded before it is used: the document's size (max_bytes, checked before
// any parsing), the nesting of arrays and objects (kMaxJsonDepth, checked before descending, so
// the recursion never goes deeper), the number of values (kMaxJsonItems, which bounds the tree:
// nodes of 112 bytes, 144 as object members, so some 300 MB at worst with the vectors' spare
// capacity, plus the strings' bytes, which are at most the document's). Strings come out as valid UTF-8 (raw bytes checked, \u escapes decoded, lone
// surrogates refused); numbers are finite doubles. The first error stops the parse; its message
// gives the byte offset and never echoes the input. Duplicate member names are kept, in order
// (get() sees the first): a caller for whom a duplicate matters must look at members itself.
// STANDARDS: RFC 8259 (JSON), strictly: no comments, no trailing commas, no BOM, no NaN or
// Infinity, no leading zeros; RFC 3629 (UTF-8: no overlongs, no surrogates, at most U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace mx::ipc {

constexpr size_t kMaxJsonDepth = 64;         // nesting of arrays/objects ("[[1]]" is 2)
constexpr size_t kMaxJsonBytes = 64u << 20;  // a document (the default max_bytes)
constexpr size_t kMaxJsonItems = 1u << 20;   // values in a document (containers count; keys do not)

struct JsonValue {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool b = false;          // kBool
  double num = 0;          // every number
  bool is_int = false;     // the number was written without fraction/exponent and fits int64
  int64_t i = 0;           // valid when is_int
  std::string str;         // kString (decoded, valid UTF-8; may contain NUL from \u0000)
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in document order

  // Declared here, defaulted in json.cc: the members hold vectors of this still-incomplete type,
  // and clang (with libstdc++) cannot instantiate pair<string, JsonValue> against the implicit
  // special members. Copies and moves are member-wise as the implicit ones would be.
  JsonValue();
  JsonValue(const JsonValue&);
  JsonValue(JsonValue&&) noexcept;
  JsonValue& operator=(const JsonValue&);
  JsonValue& operator=(JsonValue&&) noexcept;
  ~JsonValue();

  // The first member with that key, or nullptr (also nullptr when not an object).
  const JsonValue* get(std::string_view key) const;
  // Convenience: the member's string / integer (is_int only: 3.0 and 1e3 are not) / bool, or
  // the fallback when absent or of another kind. get_str's view lives as long as this value.
  std::string_view get_str(std::string_view key, std::string_view fallback = {}) const;
  int64_t get_int(std::string_view key, int64_t fallback = 0) const;
  bool get_bool(std::string_view key, bool fallback = false) const;
};

// Parses a whole document (RFC 8259): exactly one value surrounded by optional whitespace.
// Errors read "offset N: reason", N the byte offset of the offending character (max_bytes for a
// document that is too long). max_bytes may be set above kMaxJsonBytes by a caller that bounds
// its input otherwise; depth and item limits apply regardless.
Expected<JsonValue> parse_json(std::string_view text, size_t max_bytes = kMaxJsonBytes);

}  // namespace mx::ipc
