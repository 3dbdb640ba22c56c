// common/ascii.h — ASCII case folding for protocol tokens (SMTP verbs, header field names,
// domains). Locale-free on purpose: only A-Z/a-z fold; bytes >= 0x80 compare as they are.
#pragma once

#include <string>
#include <string_view>

namespace mx {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = ascii_lower(c);
  return o;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// `s` starts with `prefix`, ignoring ASCII case on both sides.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace mx
