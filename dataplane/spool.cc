// dataplane/spool.cc
#include "dataplane/spool.h"

#include <ctime>

#include "dataplane/tenants.h"
#include "dataplane/toml_reader.h"

namespace mx::dp {
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

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// A value from the network that went through the SMTP parser: printable, no spaces except where
// the format allows, no CR/LF. Anything else makes the entry bad.
bool clean(std::string_view v, bool spaces) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || (!spaces && c == ' ')) return false;
  }
  return true;
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

std::string format_spool_meta(const SpoolMeta& m) {
  std::string o;
  o += "id " + std::to_string(m.id) + "\n";
  if (!m.tenant.empty()) o += "tenant " + m.tenant + "\n";
  o += "route " + m.route_ip.to_string() + ":" + std::to_string(m.route_port) + "\n";
  o += std::string("tls ") + tls_name(m.tls) + "\n";
  o += "from " + m.from + "\n";
  if (m.params.body == smtp::Body::k7Bit) o += "body 7BIT\n";
  if (m.params.body == smtp::Body::k8BitMime) o += "body 8BITMIME\n";
  if (m.params.smtputf8) o += "smtputf8\n";
  if (m.params.ret == smtp::DsnRet::kFull) o += "ret FULL\n";
  if (m.params.ret == smtp::DsnRet::kHdrs) o += "ret HDRS\n";
  if (!m.params.envid.empty()) o += "envid " + m.params.envid + "\n";
  for (const SpoolRcpt& r : m.rcpts) {
    o += "rcpt " + std::to_string(r.params.notify) + " " + (r.params.orcpt.empty() ? "-" : r.params.orcpt) + " " +
         r.address + "\n";
  }
  o += "created " + std::to_string(m.created) + "\n";
  o += "expires " + std::to_string(m.expires) + "\n";
  o += "attempts " + std::to_string(m.attempts) + "\n";
  o += "next " + std::to_string(m.next) + "\n";
  if (!m.last.empty()) {
    std::string l = m.last;
    for (char& c : l)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    o += "last " + l + "\n";
  }
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
    if (!clean(val, key == "last" || key == "from" || key == "rcpt")) return Error{where + "bad characters in '" + std::string(key) + "'"};
    uint64_t n = 0;
    if (key == "id" && parse_u64(val, n)) {
      m.id = n;
      have_id = true;
    } else if (key == "tenant" && !val.empty() && val.size() <= 64) {
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
    } else if (key == "from" && val.size() <= 512) {
      m.from = val;
      have_from = true;
    } else if (key == "body" && (val == "7BIT" || val == "8BITMIME")) {
      m.params.body = val == "7BIT" ? smtp::Body::k7Bit : smtp::Body::k8BitMime;
    } else if (key == "smtputf8" && val.empty()) {
      m.params.smtputf8 = true;
    } else if (key == "ret" && (val == "FULL" || val == "HDRS")) {
      m.params.ret = val == "FULL" ? smtp::DsnRet::kFull : smtp::DsnRet::kHdrs;
    } else if (key == "envid" && !val.empty() && val.size() <= 100) {
      m.params.envid = val;
    } else if (key == "rcpt") {
      if (m.rcpts.size() >= kMaxSpoolRcpts) return Error{where + "more than " + std::to_string(kMaxSpoolRcpts) + " recipients"};
      SpoolRcpt r;
      const size_t s1 = val.find(' ');
      const size_t s2 = s1 == std::string_view::npos ? s1 : val.find(' ', s1 + 1);
      if (s2 == std::string_view::npos) return Error{where + "bad rcpt"};
      if (!parse_u64(val.substr(0, s1), n) || n > 15) return Error{where + "bad rcpt notify"};
      r.params.notify = static_cast<uint8_t>(n);
      std::string_view orcpt = val.substr(s1 + 1, s2 - s1 - 1);
      if (orcpt.empty() || orcpt.size() > 500 || orcpt.find(' ') != std::string_view::npos) return Error{where + "bad orcpt"};
      if (orcpt != "-") r.params.orcpt = orcpt;
      r.address = val.substr(s2 + 1);
      if (r.address.empty() || r.address.size() > 512) return Error{where + "bad rcpt"};
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
      m.last = val.substr(0, 1024);
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

std::string build_dsn(const SpoolMeta& m, const std::vector<DsnFailure>& failed, ByteSpan original,
                      std::string_view hostname, uint64_t now_unix, uint64_t dsn_id) {
  const std::string boundary = "mxgate-dsn-" + std::to_string(dsn_id);
  std::string o;
  o += "From: Mail Delivery System <MAILER-DAEMON@" + std::string(hostname) + ">\r\n";
  o += "To: <" + m.from + ">\r\n";
  o += "Subject: Undelivered Mail Returned to Sender\r\n";
  o += "Date: " + rfc822_date(now_unix) + "\r\n";
  o += "Message-ID: <dsn." + std::to_string(dsn_id) + "@" + std::string(hostname) + ">\r\n";
  o += "Auto-Submitted: auto-replied\r\n";
  o += "MIME-Version: 1.0\r\n";
  o += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n\r\n";
  o += "This is a MIME-encapsulated message.\r\n\r\n--" + boundary + "\r\n";
  o += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  o += "This is the mail system at " + std::string(hostname) + ".\r\n\r\n";
  o += "Your message could not be delivered to one or more recipients:\r\n\r\n";
  for (const DsnFailure& f : failed) o += "<" + f.rcpt.address + ">: " + f.diagnostic + "\r\n";
  o += "\r\n--" + boundary + "\r\n";
  o += "Content-Type: message/delivery-status\r\n\r\n";
  o += "Reporting-MTA: dns; " + std::string(hostname) + "\r\n";
  if (!m.params.envid.empty()) o += "Original-Envelope-Id: " + m.params.envid + "\r\n";
  o += "Arrival-Date: " + rfc822_date(m.created) + "\r\n";
  for (const DsnFailure& f : failed) {
    o += "\r\n";
    if (!f.rcpt.params.orcpt.empty()) o += "Original-Recipient: " + f.rcpt.params.orcpt + "\r\n";
    o += "Final-Recipient: rfc822; " + f.rcpt.address + "\r\n";
    o += "Action: failed\r\n";
    o += "Status: " + f.status + "\r\n";
    if (!f.remote.empty()) o += "Remote-MTA: dns; " + f.remote + "\r\n";
    o += "Diagnostic-Code: smtp; " + f.diagnostic + "\r\n";
  }
  o += "\r\n--" + boundary + "\r\n";
  // RET=FULL asks for the whole message; otherwise the headers only (RFC 3461 4.3).
  const bool full = m.params.ret == smtp::DsnRet::kFull;
  std::string_view orig(reinterpret_cast<const char*>(original.data()), original.size());
  if (!full) {
    size_t end = orig.find("\r\n\r\n");
    orig = orig.substr(0, std::min(end == std::string_view::npos ? orig.size() : end + 2, kMaxDsnOriginalHeaders));
  }
  o += full ? "Content-Type: message/rfc822\r\n\r\n" : "Content-Type: text/rfc822-headers\r\n\r\n";
  o.append(orig);
  if (!orig.empty() && orig.back() != '\n') o += "\r\n";
  o += "\r\n--" + boundary + "--\r\n";
  return o;
}

}  // namespace mx::dp
