// smtp/reply.h — SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 2034, RFC 3463).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mx::smtp {

struct Reply {
  uint16_t code = 250;
  std::string enhanced;  // "2.1.0"; empty for the greeting and HELO/EHLO replies (RFC 2034)
  std::string text;

  bool positive() const { return code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
};

inline Reply reply(uint16_t code, std::string enhanced, std::string text) {
  return Reply{code, std::move(enhanced), std::move(text)};
}

// Appends the wire form ("550 5.7.1 text\r\n"). Text is sanitised: CR, LF and other control
// characters become '?', so no reply can inject a line.
void append_reply(std::string& out, const Reply& r);
// A multi-line reply: every line but the last uses "code-".
void append_multiline(std::string& out, uint16_t code, const std::string_view* lines, size_t n);

}  // namespace mx::smtp
