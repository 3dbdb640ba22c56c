// smtp/reply.cc
#include "smtp/reply.h"

namespace mx::smtp {
namespace {

void append_safe(std::string& out, std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 32 || u == 127) ? '?' : c;
  }
}

void append_code(std::string& out, uint16_t code, char sep) {
  out += static_cast<char>('0' + code / 100 % 10);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += sep;
}

}  // namespace

void append_reply(std::string& out, const Reply& r) {
  append_code(out, r.code, ' ');
  if (!r.enhanced.empty()) {
    append_safe(out, r.enhanced);
    out += ' ';
  }
  append_safe(out, r.text);
  out += "\r\n";
}

void append_multiline(std::string& out, uint16_t code, const std::string_view* lines, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    append_code(out, code, i + 1 < n ? '-' : ' ');
    append_safe(out, lines[i]);
    out += "\r\n";
  }
}

}  // namespace mx::smtp
