// ipc/toml_reader.h — typed, range-checked access to one TOML table (ipc/toml.h) for
// the config and tenant-snapshot schemas; every error names file:line, section and key.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "common/net_types.h"
#include "ipc/toml.h"

namespace mx::cfg {

// "a.b.c.d:port", or "a.b.c.d" when default_port is not 0 (then that port). Nothing else.
inline std::optional<std::pair<Ipv4Addr, uint16_t>> parse_ipv4_port(std::string_view s, uint16_t default_port) {
  if (s.find_first_not_of("0123456789.:") != std::string_view::npos) return std::nullopt;
  const size_t colon = s.rfind(':');
  auto ip = Ipv4Addr::parse(s.substr(0, colon == std::string_view::npos ? s.size() : colon));
  if (!ip) return std::nullopt;
  if (colon == std::string_view::npos) {
    if (default_port == 0) return std::nullopt;
    return std::pair{*ip, default_port};
  }
  std::string_view digits = s.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : digits) port = port * 10 + static_cast<uint32_t>(c - '0');
  if (port < 1 || port > 65535) return std::nullopt;
  return std::pair{*ip, static_cast<uint16_t>(port)};
}

class TomlReader {
 public:
  using Kind = TomlValue::Kind;
  TomlReader(const std::string& src, const TomlTable& t) : src_(src), t_(t) {}

  std::string where(const TomlValue& v, const std::string& key) const {
    return src_ + ":" + std::to_string(v.line) + ": " + section() + "key '" + key + "': ";
  }
  std::string section() const { return t_.name.empty() ? "" : "[" + t_.name + "] "; }

  // Every key of the table must be one of `known`.
  std::optional<Error> unknown_keys(std::initializer_list<const char*> known) const {
    for (const auto& entry : t_.entries) {
      const std::string& key = entry.first;
      bool ok = std::any_of(known.begin(), known.end(), [&](const char* n) { return key == n; });
      if (!ok)
        return Error{src_ + ":" + std::to_string(entry.second.line) + ": " + section() + "unknown key '" + key + "'"};
    }
    return std::nullopt;
  }

  const TomlValue* get(const std::string& key, Kind kind, std::optional<Error>& err) const {
    const TomlValue* v = t_.find(key);
    if (!v || err) return nullptr;
    if (v->kind != kind) {
      err = Error{where(*v, key) + "expected " + kind_name(kind) + ", got " + kind_name(v->kind)};
      return nullptr;
    }
    return v;
  }

  void str(const std::string& key, std::string& out, std::optional<Error>& err) const {
    if (auto* v = get(key, Kind::kString, err)) out = v->str;
  }
  void boolean(const std::string& key, bool& out, std::optional<Error>& err) const {
    if (auto* v = get(key, Kind::kBool, err)) out = v->b;
  }
  template <typename T>
  void uint(const std::string& key, T& out, uint64_t lo, uint64_t hi, std::optional<Error>& err) const {
    auto* v = get(key, Kind::kInt, err);
    if (!v) return;
    if (v->i < 0 || static_cast<uint64_t>(v->i) < lo || static_cast<uint64_t>(v->i) > hi) {
      err = Error{where(*v, key) + std::to_string(v->i) + " is out of range " + std::to_string(lo) + ".." +
                  std::to_string(hi)};
      return;
    }
    out = static_cast<T>(v->i);
  }
  void uint_list(const std::string& key, std::vector<uint32_t>& out, uint64_t hi, std::optional<Error>& err) const {
    auto* v = get(key, Kind::kArray, err);
    if (!v) return;
    out.clear();
    for (const TomlValue& e : v->arr) {
      if (e.kind != Kind::kInt || e.i < 0 || static_cast<uint64_t>(e.i) > hi) {
        err = Error{where(e, key) + "expected integers 0.." + std::to_string(hi)};
        return;
      }
      if (std::find(out.begin(), out.end(), e.i) != out.end()) {
        err = Error{where(e, key) + std::to_string(e.i) + " listed twice"};
        return;
      }
      out.push_back(static_cast<uint32_t>(e.i));
    }
  }
  void str_list(const std::string& key, std::vector<std::string>& out, std::optional<Error>& err) const {
    auto* v = get(key, Kind::kArray, err);
    if (!v) return;
    for (const TomlValue& e : v->arr) {
      if (e.kind != Kind::kString) {
        err = Error{where(e, key) + "expected strings"};
        return;
      }
      out.push_back(e.str);
    }
  }
  std::optional<Error> missing(const std::string& key) const {
    if (t_.find(key)) return std::nullopt;
    return Error{src_ + ":" + std::to_string(t_.line) + ": " + section() + "missing key '" + key + "'"};
  }
  const TomlValue* raw(const std::string& key) const { return t_.find(key); }

 private:
  const std::string& src_;
  const TomlTable& t_;
};

}  // namespace mx::cfg
