// tests/fuzz/fuzz_json.cc — the JSON reader (ipc/json.h) over arbitrary bytes: it never crashes
// or exceeds its bounds; every error names an offset; every document it accepts, written back as
// compact JSON, parses again to the same tree (strings byte for byte, numbers to the same double).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "ipc/json.h"
#include "ipc/txlog.h"

namespace {

using mx::ipc::JsonValue;
using Kind = JsonValue::Kind;

constexpr size_t kFuzzMaxBytes = 1u << 20;

void write(std::string& out, const JsonValue& v) {
  switch (v.kind) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += v.b ? "true" : "false"; return;
    case Kind::kNumber:
      if (v.is_int) {
        out += std::to_string(v.i);
      } else {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", v.num);
        out += buf;
      }
      return;
    case Kind::kString: mx::ipc::json_string(out, v.str); return;
    case Kind::kArray:
      out += '[';
      for (size_t k = 0; k < v.items.size(); ++k) {
        if (k) out += ',';
        write(out, v.items[k]);
      }
      out += ']';
      return;
    case Kind::kObject:
      out += '{';
      for (size_t k = 0; k < v.members.size(); ++k) {
        if (k) out += ',';
        mx::ipc::json_string(out, v.members[k].first);
        out += ':';
        write(out, v.members[k].second);
      }
      out += '}';
      return;
  }
}

// Equal trees. Numbers compare by value: 1.0 comes back as the integer 1, -0.0 as -0 (an int 0).
bool same(const JsonValue& a, const JsonValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kNull: return true;
    case Kind::kBool: return a.b == b.b;
    case Kind::kNumber:
      if (a.is_int && b.is_int) return a.i == b.i && a.num == b.num;
      return a.num == b.num && std::signbit(a.num) == std::signbit(b.num);
    case Kind::kString: return a.str == b.str;
    case Kind::kArray:
      if (a.items.size() != b.items.size()) return false;
      for (size_t k = 0; k < a.items.size(); ++k) {
        if (!same(a.items[k], b.items[k])) return false;
      }
      return true;
    case Kind::kObject:
      if (a.members.size() != b.members.size()) return false;
      for (size_t k = 0; k < a.members.size(); ++k) {
        if (a.members[k].first != b.members[k].first || !same(a.members[k].second, b.members[k].second)) return false;
      }
      return true;
  }
  return false;
}

// The tree's own invariants: depth and value count within bounds, consistent numbers.
bool sound(const JsonValue& v, size_t depth, size_t& values) {
  if (++values > mx::ipc::kMaxJsonItems) return false;
  if (v.kind == Kind::kNumber) {
    if (!std::isfinite(v.num)) return false;
    if (v.is_int && v.num != static_cast<double>(v.i)) return false;
  } else if (v.is_int) {
    return false;
  }
  if (v.kind != Kind::kArray && !v.items.empty()) return false;
  if (v.kind != Kind::kObject && !v.members.empty()) return false;
  if (v.kind == Kind::kArray || v.kind == Kind::kObject) {
    if (++depth > mx::ipc::kMaxJsonDepth) return false;
  }
  for (const auto& item : v.items) {
    if (!sound(item, depth, values)) return false;
  }
  for (const auto& member : v.members) {
    if (!sound(member.second, depth, values)) return false;
  }
  // get() finds the first of duplicate keys.
  if (!v.members.empty() && v.get(v.members[0].first) != &v.members[0].second) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = mx::ipc::parse_json(text, kFuzzMaxBytes);
  if (!first.ok()) {
    if (!first.error().message.starts_with("offset ")) __builtin_trap();
    return 0;
  }
  size_t values = 0;
  if (!sound(*first, 0, values)) __builtin_trap();
  std::string out;
  write(out, *first);
  // Escapes and "%.17g" may make the text longer than the input: re-read with the default bound.
  auto second = mx::ipc::parse_json(out);
  if (!second.ok()) __builtin_trap();
  if (!same(*first, *second)) __builtin_trap();
  // From the second writing on, the text is a fixed point (the first may still change: "-0.0"
  // is written "-0", which reads back as the integer 0 and is then written "0").
  std::string again;
  write(again, *second);
  auto third = mx::ipc::parse_json(again);
  if (!third.ok() || !same(*second, *third)) __builtin_trap();
  std::string last;
  write(last, *third);
  if (last != again) __builtin_trap();
  return 0;
}
