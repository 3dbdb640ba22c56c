// smtp/smtp_limits.h — every limit of the SMTP engines, with the RFC that motivates it.
#pragma once

#include <cstdint>

#include "common/strong_id.h"

namespace mx::smtp {

// RFC 5321 4.5.3.1.4 allows 512 octets per command line; ESMTP parameters (SIZE, DSN's
// ORCPT/ENVID, SMTPUTF8) extend it (RFC 1870 section 3, RFC 3461 4.1). Longer: 500 5.5.2.
constexpr uint32_t kMaxCommandLine = 2048;
// RFC 5322 2.1.1 / RFC 5321 4.5.3.1.6: 998 characters + CRLF per text line. Longer: the
// message is rejected at end of data with 550 5.6.0 (never truncated or split).
constexpr uint32_t kMaxTextLine = 998;
// RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted. More: 452 4.5.3.
constexpr uint32_t kDefaultMaxRecipients = 100;
constexpr uint64_t kDefaultMaxMessageSize = 50ull << 20;
// Protocol errors (4xx/5xx replies to commands; 452, which is flow control, and 421 do not count).
// Past the soft limit every further error reply waits kErrorDelayNs (a tarpit that slows a
// client probing us, as Postfix's smtpd_soft_error_limit); at the hard limit, 421 4.7.0 and
// disconnect. The hard limit leaves room for a relay tester's probes (nmap smtp-open-relay: 16).
constexpr uint32_t kSoftErrorLimit = 10;
constexpr uint32_t kHardErrorLimit = 20;
constexpr uint64_t kErrorDelayNs = 1'000'000'000ull;
// Replies waiting to be sent (the peer is not reading, e.g. a zero receive window): beyond this
// the session stops reading commands until the output drains. With kMaxPipelineBytes this
// bounds what one session holds however the client behaves.
constexpr uint32_t kMaxOutputBacklog = 8 * 1024;
// Input held while a decision is pending (pipelined commands); beyond it the session stops
// taking input (backpressure on the connection) until the decision is made.
constexpr uint32_t kMaxPipelineBytes = 16 * 1024;
// Reverse-path / forward-path limits (RFC 5321 4.5.3.1.1-3).
constexpr uint32_t kMaxLocalPart = 64;
constexpr uint32_t kMaxDomain = 255;
constexpr uint32_t kMaxPath = 256;
// A HELO/EHLO argument longer than this is refused.
constexpr uint32_t kMaxHeloName = 255;
// Parameters per MAIL/RCPT command.
constexpr uint32_t kMaxParams = 16;
// DSN ENVID and ORCPT lengths (RFC 3461 4.2 / 4.4).
constexpr uint32_t kMaxEnvid = 100;
constexpr uint32_t kMaxOrcpt = 500;

// RFC 5321 4.5.3.2: server timeout of at least 5 minutes while awaiting a command, and 10
// minutes for the final dot of DATA (we apply 5 minutes between DATA chunks).
constexpr uint64_t kCommandTimeoutNs = 300 * kNsPerSec;
constexpr uint64_t kDataTimeoutNs = 300 * kNsPerSec;
// The whole session, however busy (slowloris defence).
constexpr uint64_t kSessionDeadlineNs = 3600 * kNsPerSec;

}  // namespace mx::smtp
