// tests/fuzz/fuzz_smtp_address.cc — arbitrary text into the path grammar and the MAIL/RCPT
// parameter parsers. Invariants: an accepted mailbox has no CR/LF/NUL anywhere, a lowercase
// ASCII domain that passes valid_domain (or is a literal), and limits that hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/address.h"
#include "smtp/smtp_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool utf8 = data[0] & 1, allow_null = data[0] & 2;
  std::string_view s(reinterpret_cast<const char*>(data + 1), size - 1);
  mx::smtp::Mailbox m;
  std::string_view rest;
  if (mx::smtp::parse_path(s, allow_null, utf8, m, rest) == mx::smtp::PathError::kOk) {
    std::string addr = m.address();
    if (addr.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
    if (!m.null_path) {
      if (m.local.size() > mx::smtp::kMaxLocalPart || m.domain.size() > mx::smtp::kMaxDomain) std::abort();
      for (char c : m.domain)
        if (c >= 'A' && c <= 'Z') std::abort();
      if (!m.domain_literal && !mx::smtp::valid_domain(m.domain, true)) std::abort();
      if (m.utf8 && !utf8) std::abort();
    }
    std::string bad;
    mx::smtp::MailParams mp;
    mx::smtp::RcptParams rp;
    (void)mx::smtp::parse_mail_params(rest, mp, bad);
    (void)mx::smtp::parse_rcpt_params(rest, rp, bad);
  }
  return 0;
}
