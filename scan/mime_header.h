// scan/mime_header.h — structured MIME header values: "type/subtype; name=value; ..." with
// RFC 2231 parameter continuations, charsets and languages.
//
// SECURITY: values are attacker-controlled. Parsing is lenient where readers are (unquoted
// values with spaces run to the next ';', a missing ';' after the type, unterminated quotes run
// to the end) and keeps every occurrence of a parameter: the caller decides what duplicates
// mean (scan/mime_part.cc keeps them all as candidates). Bounded: kMaxParams parameters
// (kCandidateLimit beyond), kMaxRfc2231Sections sections per parameter.
// STANDARDS: RFC 2045 5.1 (Content-Type syntax), RFC 2183 2 (Content-Disposition),
// RFC 5322 3.2.2-3.2.4 (CFWS, quoted-string), RFC 2231 3 (continuations), 4 (charset'lang').
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "scan/mime_limits.h"

namespace mx::scan {

class IconvCache;

constexpr size_t kMaxParams = 64;
constexpr size_t kMaxRfc2231Sections = 64;

struct HeaderParam {
  std::string_view name;   // lowercase, without an RFC 2231 "*N" or "*" suffix
  int section = -1;        // N of name*N (RFC 2231 3), -1 when absent
  bool extended = false;   // trailing "*": charset'lang'%XX (RFC 2231 4)
  std::string_view value;  // quotes and quoted-pairs removed
};

class ParsedHeader {
 public:
  void parse(std::string_view field_value);
  std::string_view value() const { return value_; }  // lowercase "type/subtype" or disposition
  std::span<const HeaderParam> params() const { return {params_, n_}; }
  uint64_t flags() const { return flags_; }

 private:
  std::string_view store(std::string_view s, bool lower);
  size_t parse_param(std::string_view v, size_t i);

  char arena_[2 * kMaxHeaderField + 64];
  size_t used_ = 0;
  std::string_view value_;
  HeaderParam params_[kMaxParams];
  size_t n_ = 0;
  uint64_t flags_ = 0;
};

// kRfc2231First: the value of section 0 alone, for a parameter in several sections (what a
// reader that does not join continuations may take).
enum class ParamForm : uint8_t { kPlain, kRfc2231, kRfc2231First };
struct ParamValue {
  std::string_view value;
  ParamForm form;
};

// Every value of parameter `name` (lowercase): each plain occurrence as written, then the RFC
// 2231 form if any (sections joined in order, %XX decoded, converted to UTF-8 from the charset
// of section 0), then section 0 alone when there are several sections. Values of the RFC 2231
// form live in `scratch`. Returns the count (<= max);
// sets kRfc2231Invalid for gaps, repeated sections and bad %XX, kCandidateLimit past max.
size_t param_values(const ParsedHeader& h, std::string_view name, IconvCache* cache, ParamValue* out, size_t max,
                    char* scratch, size_t scratch_cap, uint64_t& flags);

}  // namespace mx::scan
