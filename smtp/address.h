// smtp/address.h — RFC 5321 4.1.2 paths and ESMTP parameters of MAIL and RCPT.
//
// SECURITY: parses untrusted client input. The result carries the exact, normalised domain
// that the application uses for its relay decision; forms that try to route through us
// (`user%other@dom`, `other!user@dom`, `"user@other"@dom`, source routes `@a:user@b`) are
// flagged so that they can never make the gateway relay to anyone but the domain it checked.
// Anything that does not match the grammar (`user@dom@other`, CR, LF, NUL, unbalanced quotes)
// is a syntax error.
// STANDARDS: RFC 5321 4.1.2 and Appendix C (source routes), RFC 6531 (SMTPUTF8), RFC 1870
// (SIZE), RFC 6152 (BODY), RFC 3461 (DSN: RET, ENVID, NOTIFY, ORCPT).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx::smtp {

struct Mailbox {
  std::string local;        // as written, quotes removed from a quoted local part
  std::string domain;       // lowercased ASCII (UTF-8 bytes kept as they are) or "[literal]"
  bool quoted_local = false;
  bool domain_literal = false;
  bool utf8 = false;         // non-ASCII bytes somewhere (needs SMTPUTF8)
  bool routing_chars = false;  // '%' or '!' in the local part, or '@' inside a quoted one
  bool source_route = false;   // an A-d-l ("@a,@b:") was given and ignored (RFC 5321 App. C)
  bool null_path = false;      // "<>" (MAIL only)
  std::string address() const;  // local@domain with quotes restored where needed
};

enum class PathError : uint8_t {
  kOk,
  kSyntax,         // 501 5.1.7 / 5.1.3
  kTooLong,        // 501 5.5.4 (local part > 64, domain > 255, path > 256)
  kNeedsUtf8,      // 553 5.6.7: non-ASCII without SMTPUTF8
};

// Parses "<...>" at the start of `s` (the text after "MAIL FROM:" or "RCPT TO:"); on success
// `rest` is what follows the closing '>'. `allow_null` accepts "<>".
PathError parse_path(std::string_view s, bool allow_null, bool utf8_allowed, Mailbox& out, std::string_view& rest);

// True for RFC 5321 Domain syntax (LDH labels; UTF-8 labels when utf8_allowed) or an
// address literal; used for HELO/EHLO too (with underscores tolerated there).
bool valid_domain(std::string_view d, bool utf8_allowed, bool allow_underscore = false);
bool valid_address_literal(std::string_view d);

enum class Body : uint8_t { kUnspecified, k7Bit, k8BitMime };
enum class DsnRet : uint8_t { kUnspecified, kFull, kHdrs };
enum DsnNotify : uint8_t { kNotifyNone = 0, kNotifyNever = 1, kNotifySuccess = 2, kNotifyFailure = 4, kNotifyDelay = 8 };

struct MailParams {
  std::optional<uint64_t> size;
  Body body = Body::kUnspecified;
  bool smtputf8 = false;
  DsnRet ret = DsnRet::kUnspecified;
  std::string envid;  // xtext as received (RFC 3461 4.4), passed through to the relay
};

struct RcptParams {
  uint8_t notify = kNotifyNone;
  std::string orcpt;  // "rfc822;xtext" as received
};

enum class ParamError : uint8_t {
  kOk,
  kSyntax,       // 501 5.5.4
  kUnknown,      // 555 5.5.4 unrecognised parameter
  kBadValue,     // 501 5.5.4
  kDuplicate,    // 501 5.5.4
};

// Parses " KEY=VALUE KEY ..." after the path. `bad` names the offending parameter.
ParamError parse_mail_params(std::string_view s, MailParams& out, std::string& bad);
ParamError parse_rcpt_params(std::string_view s, RcptParams& out, std::string& bad);

}  // namespace mx::smtp
