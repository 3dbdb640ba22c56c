// dataplane/spool.cc
#include "dataplane/spool.h"

#include <algorithm>
#include <ctime>
#include <iterator>

#include "dataplane/ipc_use.h"
#include "ipc/toml_reader.h"
#include "smtp/smtp_limits.h"

namespace mx::dp {

// What the SMTP engine accepts fits the meta format without cutting.
static_assert(smtp::kMaxEnvid <= kMaxSpoolEnvid && smtp::kMaxOrcpt <= kMaxSpoolOrcpt);
static_assert(smtp::kMaxPath <= kMaxSpoolAddress && smtp::kDefaultMaxRecipients <= kMaxSpoolRcpts);
static_assert(kMaxSpoolAddress + kMaxSpoolOrcpt + 16 < kMaxSpoolLine && kMaxSpoolLast + 8 < kMaxSpoolLine);

namespace {

const char* tls_name(smtp::TlsPolicy p) {
  switch (p) {
    case smtp::TlsPolicy::kNone: return "none";
    case smtp::TlsPolicy::kOpportunistic: return "opportunistic";
    case smtp::TlsPolicy::kRequired: return "required";
    case smtp::TlsPolicy::kRequiredVerify: return "required-verify";
  }
  return "opportunistic";
}

// Decimal, every uint64_t that std::to_string writes (up to 20 digits), nothing that overflows.
bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// C0 controls (CR, LF, TAB included) and DEL: never in a meta line nor a DSN line.
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// A value from the network that went through the SMTP parser: printable, no spaces except where
// the format allows, no CR/LF. Anything else makes the entry bad.
bool clean(std::string_view v, bool spaces) {
  for (char c : v)
    if (is_control(c) || (!spaces && c == ' ')) return false;
  return true;
}

// v as clean() accepts it: at most `max` bytes, controls (and spaces where the field has none)
// replaced by '?'.
std::string meta_value(std::string_view v, size_t max, bool spaces) {
  std::string o(v.substr(0, max));
  for (char& c : o)
    if (is_control(c) || (!spaces && c == ' ')) c = '?';
  return o;
}

std::string rfc822_date(uint64_t t) {
  time_t tt = static_cast<time_t>(t);
  tm g{};
  gmtime_r(&tt, &g);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &g);
  return buf;
}

}  // namespace

// Each field as parse_spool_meta accepts it (see SECURITY in spool.h): the runner rewrites the
// meta after every attempt, and a meta that does not parse is never delivered.
std::string format_spool_meta(const SpoolMeta& m) {
  std::string o;
  o += "id " + std::to_string(m.id) + "\n";
  if (!m.tenant.empty()) o += "tenant " + meta_value(m.tenant, kMaxSpoolTenant, false) + "\n";
  const uint16_t port = m.route_port ? m.route_port : kSpoolDefaultPort;
  o += "route " + m.route_ip.to_string() + ":" + std::to_string(port) + "\n";
  o += std::string("tls ") + tls_name(m.tls) + "\n";
  o += "from " + meta_value(m.from, kMaxSpoolAddress, true) + "\n";
  if (m.params.body == smtp::Body::k7Bit) o += "body 7BIT\n";
  if (m.params.body == smtp::Body::k8BitMime) o += "body 8BITMIME\n";
  if (m.params.smtputf8) o += "smtputf8\n";
  if (m.params.ret == smtp::DsnRet::kFull) o += "ret FULL\n";
  if (m.params.ret == smtp::DsnRet::kHdrs) o += "ret HDRS\n";
  if (!m.params.envid.empty()) o += "envid " + meta_value(m.params.envid, kMaxSpoolEnvid, false) + "\n";
  for (const SpoolRcpt& r : m.rcpts) {
    const std::string orcpt = r.params.orcpt.empty() ? "-" : meta_value(r.params.orcpt, kMaxSpoolOrcpt, false);
    // An empty address cannot come from RCPT; "?" keeps the line (and the entry) readable.
    const std::string address = r.address.empty() ? "?" : meta_value(r.address, kMaxSpoolAddress, true);
    o += "rcpt " + std::to_string(r.params.notify & kSpoolNotifyBits) + " " + orcpt + " " + address + "\n";
  }
  o += "created " + std::to_string(m.created) + "\n";
  o += "expires " + std::to_string(m.expires) + "\n";
  o += "attempts " + std::to_string(m.attempts) + "\n";
  o += "next " + std::to_string(m.next) + "\n";
  if (!m.last.empty()) o += "last " + meta_value(m.last, kMaxSpoolLast, true) + "\n";
  if (m.dsn) o += "dsn\n";
  return o;
}

Expected<SpoolMeta> parse_spool_meta(std::string_view text) {
  if (text.size() > kMaxSpoolMetaBytes) return Error{"meta larger than " + std::to_string(kMaxSpoolMetaBytes)};
  SpoolMeta m;
  bool have_id = false, have_route = false, have_from = false;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return Error{"line " + std::to_string(line_no + 1) + ": no newline"};
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.size() > kMaxSpoolLine) return Error{where + "too long"};
    const size_t sp = line.find(' ');
    std::string_view key = line.substr(0, sp);
    std::string_view val = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    // "last" is free text for the log and the DSN: controls become '?' (see SECURITY).
    if (key != "last" && !clean(val, key == "from" || key == "rcpt"))
      return Error{where + "bad characters in '" + std::string(key) + "'"};
    uint64_t n = 0;
    if (key == "id" && parse_u64(val, n)) {
      m.id = n;
      have_id = true;
    } else if (key == "tenant" && !val.empty() && val.size() <= kMaxSpoolTenant) {
      m.tenant = val;
    } else if (key == "route") {
      auto ep = cfg::parse_ipv4_port(val, 0);
      if (!ep) return Error{where + "bad route"};
      m.route_ip = ep->first;
      m.route_port = ep->second;
      have_route = true;
    } else if (key == "tls") {
      if (val == "none") m.tls = smtp::TlsPolicy::kNone;
      else if (val == "opportunistic") m.tls = smtp::TlsPolicy::kOpportunistic;
      else if (val == "required") m.tls = smtp::TlsPolicy::kRequired;
      else if (val == "required-verify") m.tls = smtp::TlsPolicy::kRequiredVerify;
      else return Error{where + "bad tls"};
    } else if (key == "from" && val.size() <= kMaxSpoolAddress) {
      m.from = val;
      have_from = true;
    } else if (key == "body" && (val == "7BIT" || val == "8BITMIME")) {
      m.params.body = val == "7BIT" ? smtp::Body::k7Bit : smtp::Body::k8BitMime;
    } else if (key == "smtputf8" && val.empty()) {
      m.params.smtputf8 = true;
    } else if (key == "ret" && (val == "FULL" || val == "HDRS")) {
      m.params.ret = val == "FULL" ? smtp::DsnRet::kFull : smtp::DsnRet::kHdrs;
    } else if (key == "envid" && !val.empty() && val.size() <= kMaxSpoolEnvid) {
      m.params.envid = val;
    } else if (key == "rcpt") {
      if (m.rcpts.size() >= kMaxSpoolRcpts) return Error{where + "more than " + std::to_string(kMaxSpoolRcpts) + " recipients"};
      SpoolRcpt r;
      const size_t s1 = val.find(' ');
      const size_t s2 = s1 == std::string_view::npos ? s1 : val.find(' ', s1 + 1);
      if (s2 == std::string_view::npos) return Error{where + "bad rcpt"};
      if (!parse_u64(val.substr(0, s1), n) || n > kSpoolNotifyBits) return Error{where + "bad rcpt notify"};
      r.params.notify = static_cast<uint8_t>(n);
      std::string_view orcpt = val.substr(s1 + 1, s2 - s1 - 1);
      if (orcpt.empty() || orcpt.size() > kMaxSpoolOrcpt || orcpt.find(' ') != std::string_view::npos) return Error{where + "bad orcpt"};
      if (orcpt != "-") r.params.orcpt = orcpt;
      r.address = val.substr(s2 + 1);
      if (r.address.empty() || r.address.size() > kMaxSpoolAddress) return Error{where + "bad rcpt"};
      m.rcpts.push_back(std::move(r));
    } else if (key == "created" && parse_u64(val, n)) {
      m.created = n;
    } else if (key == "expires" && parse_u64(val, n)) {
      m.expires = n;
    } else if (key == "attempts" && parse_u64(val, n)) {
      m.attempts = n;
    } else if (key == "next" && parse_u64(val, n)) {
      m.next = n;
    } else if (key == "last") {
      m.last = meta_value(val, kMaxSpoolLast, true);
    } else if (key == "dsn" && val.empty()) {
      m.dsn = true;
    } else {
      return Error{where + "unknown or bad line '" + std::string(line.substr(0, 40)) + "'"};
    }
  }
  if (!have_id || !have_route || !have_from || m.rcpts.empty()) return Error{"incomplete entry (id, route, from, rcpt)"};
  return m;
}

uint64_t spool_backoff(uint64_t attempts, uint64_t min_s, uint64_t max_s) {
  uint64_t d = min_s;
  for (uint64_t i = 1; i < attempts && d < max_s; ++i) d *= 2;
  return std::min(d, max_s);
}

namespace {

// v for a DSN line: at most `max` bytes, controls as '?', and with `ascii` (text from a remote;
// RFC 3464 fields are US-ASCII) every byte outside printable ASCII too. Nothing in it can end
// the line, so no header field or MIME part can be injected through it.
std::string dsn_text(std::string_view v, size_t max, bool ascii) {
  std::string o(v.substr(0, max));
  for (char& c : o)
    if (is_control(c) || (ascii && static_cast<unsigned char>(c) >= 0x80)) c = '?';
  return o;
}

// prefix + value + CRLF, at most kMaxDsnLine before the CRLF.
void dsn_line(std::string& o, std::string_view prefix, std::string_view value, bool ascii) {
  o += prefix;
  o += dsn_text(value, kMaxDsnLine - std::min(prefix.size(), kMaxDsnLine), ascii);
  o += "\r\n";
}

// RFC 3463 2: class "." subject "." detail, 1-3 digits each.
bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  size_t digits = 0, dots = 0;
  for (char c : s.substr(2)) {
    if (c == '.' && digits > 0 && ++dots == 1) digits = 0;
    else if (c >= '0' && c <= '9' && ++digits <= 3) continue;
    else return false;
  }
  return dots == 1 && digits > 0;
}

// A line of an RFC 5322 header section (3.6.8): "name:" with name of printable ASCII but ':',
// or, after the first line, a continuation that starts with a space or a tab (2.2.3).
bool header_line(std::string_view line, bool first) {
  if (line.empty()) return false;
  if (line[0] == ' ' || line[0] == '\t') return !first;
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (char c : line.substr(0, colon))
    if (c < 33 || c > 126) return false;
  return true;
}

// The original's header section with CRLF line ends, controls but TAB as '?', lines cut to
// kMaxDsnLine, ending before the first line that is not a header line (the empty line, or a body
// line of a message without one) and before kMaxDsnOriginalHeaders. Bare LF ends a line too.
std::string original_headers(std::string_view msg) {
  std::string o;
  size_t pos = 0;
  while (pos < msg.size()) {
    const size_t nl = msg.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? msg.size() : nl;
    std::string_view line = msg.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = line.substr(0, kMaxDsnLine);
    if (!header_line(line, o.empty()) || o.size() + line.size() + 2 > kMaxDsnOriginalHeaders) break;
    for (char c : line) o += is_control(c) && c != '\t' ? '?' : c;
    o += "\r\n";
    pos = end + 1;
  }
  return o;
}

std::string dsn_human_part(const std::vector<DsnFailure>& failed, std::string_view hostname) {
  std::string o = "This is the mail system at " + std::string(hostname) + ".\r\n\r\n";
  o += "Your message could not be delivered to one or more recipients:\r\n\r\n";
  for (const DsnFailure& f : failed)
    dsn_line(o, "<" + dsn_text(f.rcpt.address, kMaxSpoolAddress, false) + ">: ", f.diagnostic, true);
  return o;
}

// RFC 3464 2.2 (per message) and 2.3 (per recipient) fields.
std::string dsn_status_part(const SpoolMeta& m, const std::vector<DsnFailure>& failed, std::string_view hostname) {
  std::string o = "Reporting-MTA: dns; " + std::string(hostname) + "\r\n";
  if (!m.params.envid.empty()) dsn_line(o, "Original-Envelope-Id: ", m.params.envid, true);
  o += "Arrival-Date: " + rfc822_date(m.created) + "\r\n";
  for (const DsnFailure& f : failed) {
    o += "\r\n";
    if (!f.rcpt.params.orcpt.empty()) dsn_line(o, "Original-Recipient: ", f.rcpt.params.orcpt, false);
    dsn_line(o, "Final-Recipient: rfc822; ", f.rcpt.address, false);
    o += "Action: failed\r\n";
    o += "Status: " + (valid_status(f.status) ? f.status : std::string("5.0.0")) + "\r\n";
    if (!f.remote.empty()) dsn_line(o, "Remote-MTA: dns; ", f.remote, true);
    dsn_line(o, "Diagnostic-Code: smtp; ", f.diagnostic, true);
  }
  return o;
}

}  // namespace

std::string build_dsn(const SpoolMeta& m, const std::vector<DsnFailure>& failed, ByteSpan original,
                      std::string_view hostname, uint64_t now_unix, uint64_t dsn_id) {
  const std::string parts[] = {
      dsn_human_part(failed, hostname),
      dsn_status_part(m, failed, hostname),
      // RET=FULL is served as RET=HDRS (RFC 3461 4.3 lets an MTA return less): see spool.h.
      original_headers(std::string_view(reinterpret_cast<const char*>(original.data()), original.size())),
  };
  const char* types[] = {"text/plain; charset=us-ascii", "message/delivery-status", "text/rfc822-headers"};
  // RFC 2046 5.1.1: the boundary must not occur in any part.
  const std::string base = "mxgate-dsn-" + std::to_string(dsn_id);
  std::string boundary = base;
  for (uint64_t n = 0; std::any_of(std::begin(parts), std::end(parts),
                                   [&](const std::string& p) { return p.find(boundary) != std::string::npos; });
       ++n)
    boundary = base + "." + std::to_string(n);
  std::string o;
  o += "From: Mail Delivery System <MAILER-DAEMON@" + std::string(hostname) + ">\r\n";
  o += "To: <" + dsn_text(m.from, kMaxSpoolAddress, false) + ">\r\n";
  o += "Subject: Undelivered Mail Returned to Sender\r\n";
  o += "Date: " + rfc822_date(now_unix) + "\r\n";
  o += "Message-ID: <dsn." + std::to_string(dsn_id) + "@" + std::string(hostname) + ">\r\n";
  o += "Auto-Submitted: auto-replied\r\n";
  o += "MIME-Version: 1.0\r\n";
  o += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n\r\n";
  o += "This is a MIME-encapsulated message.\r\n";
  for (size_t i = 0; i < std::size(parts); ++i) {
    o += "\r\n--" + boundary + "\r\n";
    o += "Content-Type: " + std::string(types[i]) + "\r\n\r\n";
    o += parts[i];
  }
  o += "\r\n--" + boundary + "--\r\n";
  return o;
}

}  // namespace mx::dp
