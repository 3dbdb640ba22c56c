// dataplane/spool.h — the spool's entry format and the delivery status notifications.
//
// A spooled message is two files in the spool directory, written durably by the I/O thread
// (file fsync, rename, directory fsync): <id>.eml, the message exactly as it is to be relayed,
// and <id>.meta, the envelope and the delivery state as "key value" lines (format below). The
// runner (in the I/O thread) reloads every entry at start, so spooled mail survives restarts.
//
// Meta format, one field per line, in this order where present:
//   id N | tenant NAME | route A.B.C.D:PORT | tls none|opportunistic|required|required-verify |
//   from ADDRESS (empty for <>) | body 7BIT|8BITMIME | smtputf8 | ret FULL|HDRS | envid XTEXT |
//   rcpt NOTIFY-BITS ORCPT|- ADDRESS (one per recipient; the address is the rest of the line) | created UNIX-S | expires UNIX-S |
//   attempts N | next UNIX-S | last REPLY | dsn (this entry is a notification: never bounced)
//
// SECURITY: entries are our own files, but they are parsed as untrusted anyway (bounded by
// kMaxSpoolMetaBytes and kMaxSpoolRcpts, every line checked); an entry that does not parse is
// moved aside (renamed *.bad) and logged, never delivered half-understood. So the formatter never
// writes what the parser refuses: control characters (DEL, CR, LF, TAB...) in any field become
// '?', every field is cut to the parser's bound. "last" is free text (a remote's reply): the
// parser also accepts control characters there, as '?', so entries written before this rule load.
// DSNs never go to the null sender and are never bounced themselves (RFC 3461 6.2, RFC 5321
// 4.5.5). A DSN carries no byte of a remote's reply that could end a line or start a header or
// MIME part (printable ASCII only), and only the original's header section, even for RET=FULL:
// the envelope sender is not authenticated, and the gateway never sends a message's content to
// an address it cannot trust (backscatter).
// STANDARDS: RFC 3464 (delivery status notifications), RFC 3462/6522 (multipart/report),
// RFC 3461 (NOTIFY, ORCPT, RET, ENVID), RFC 5321 4.5.4.1 (retry strategy), 6.1, 6.2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/expected.h"
#include "common/net_types.h"
#include "smtp/address.h"
#include "smtp/client.h"

namespace mx::dp {

constexpr size_t kMaxSpoolMetaBytes = 1 << 20;
constexpr size_t kMaxSpoolRcpts = 1000;
constexpr size_t kMaxSpoolLine = 4096;
// Field bounds of the meta format: parse_spool_meta refuses longer, format_spool_meta cuts.
constexpr size_t kMaxSpoolTenant = 64;
constexpr size_t kMaxSpoolAddress = 512;
constexpr size_t kMaxSpoolEnvid = 100;   // RFC 3461 4.4
constexpr size_t kMaxSpoolOrcpt = 500;   // RFC 3461 4.2
constexpr size_t kMaxSpoolLast = 1024;
constexpr uint8_t kSpoolNotifyBits = 15;  // smtp::DsnNotify's bits
constexpr uint16_t kSpoolDefaultPort = 25;  // written for a route without a port (port 0)
constexpr size_t kMaxDsnOriginalHeaders = 64 * 1024;  // RFC 3462 text/rfc822-headers part
constexpr size_t kMaxDsnLine = 998;  // RFC 5322 2.1.1, without the CRLF

struct SpoolRcpt {
  std::string address;
  smtp::RcptParams params;
};

struct SpoolMeta {
  uint64_t id = 0;
  std::string tenant;
  Ipv4Addr route_ip;
  uint16_t route_port = 25;
  smtp::TlsPolicy tls = smtp::TlsPolicy::kOpportunistic;
  std::string from;  // empty: null sender
  smtp::MailParams params;
  std::vector<SpoolRcpt> rcpts;
  uint64_t created = 0, expires = 0, attempts = 0, next = 0;
  std::string last;  // the last failure, for the log and the DSN
  bool dsn = false;
};

std::string format_spool_meta(const SpoolMeta& m);
Expected<SpoolMeta> parse_spool_meta(std::string_view text);

// Seconds until the next attempt after `attempts` failed ones: min doubling to max.
uint64_t spool_backoff(uint64_t attempts, uint64_t min_s, uint64_t max_s);

struct DsnFailure {
  SpoolRcpt rcpt;
  std::string status;      // "5.1.1"
  std::string diagnostic;  // the remote reply, "550 5.1.1 no such user"
  std::string remote;      // the server that answered, "198.18.0.1"
};

// The RFC 3464 notification for `failed` recipients of `original` (whose envelope is `m`),
// from reporting MTA `hostname`, as a complete message (header and body, CRLF lines). The caller
// sends it from <> to m.from (never when m.from is empty or m.dsn is set). The third part is the
// original's header section as text/rfc822-headers (RFC 6522 5) whatever m.params.ret says: the
// lines up to the first one that is neither a header field nor its continuation, at most
// kMaxDsnOriginalHeaders. Diagnostics, status and remote are printable ASCII ('?' for the rest),
// every line at most kMaxDsnLine; the MIME boundary is one that no part contains.
std::string build_dsn(const SpoolMeta& m, const std::vector<DsnFailure>& failed, ByteSpan original,
                      std::string_view hostname, uint64_t now_unix, uint64_t dsn_id);

}  // namespace mx::dp
