// control/api/http.cc — the bounded HTTP/1.1 request parser and response writer
// (control/api/http.h).
#include "control/api/http.h"

#include <algorithm>

namespace mx::control {
namespace {

// tchar (RFC 9110 5.6.2).
bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// The characters of an origin-form request-target (RFC 3986: unreserved, sub-delims, ":", "@",
// "/", "?" and "%" of pct-encoded, whose digits are checked when decoding).
bool is_target_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                                          // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':  // sub-delims
    case ',': case ';': case '=':
    case ':': case '@': case '/': case '?': case '%':
      return true;
    default:
      return false;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` into `out` ('+' as a space when `plus_is_space`). nullptr, or why not.
const char* percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      const int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return "invalid percent-encoding in the request target";
      if (hi == 0 && lo == 0) return "%00 in the request target";
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    }
  }
  return nullptr;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive, RFC 9110 5.6.1).
bool list_has(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void add_header(std::string& o, std::string_view name, std::string_view value) {
  o += name;
  o += ": ";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    o += (u < 0x20 && u != '\t') || u == 0x7f ? ' ' : c;  // no CR/LF: the response cannot be split
  }
  o += "\r\n";
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

std::string_view HttpRequest::param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return {};
}

void HttpParser::fail(int status, const char* why) {
  state_ = State::kBad;
  status_ = status;
  error_ = why;
}

size_t HttpParser::feed(std::string_view in) {
  size_t used = 0;
  while (used < in.size() && state_ == State::kNeedMore) {
    if (phase_ == Phase::kBody) {
      const size_t n = std::min(body_left_, in.size() - used);
      req_.body.append(in.data() + used, n);
      used += n;
      body_left_ -= n;
      if (body_left_ == 0) state_ = State::kReady;
      continue;
    }
    // The request line and header section, a byte at a time: every decision depends only on
    // the bytes before it, so the outcome does not depend on how the stream was split.
    const auto c = static_cast<unsigned char>(in[used++]);
    if (!line_.empty() && line_.back() == '\r' && c != '\n') {
      fail(400, "bare CR in the request line or header section");
    } else if (c == '\n') {
      end_line();
    } else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
      fail(400, c == 0 ? "NUL in the request line or header section"
                       : "control character in the request line or header section");
    } else {
      line_ += static_cast<char>(c);
      if (c == '\r') continue;  // a line end, or a bare CR caught by the next byte
      if (phase_ == Phase::kRequestLine) {
        if (line_.size() > kMaxRequestLine) fail(414, "request line too long");
      } else if (++header_bytes_ > kMaxHeaderBytes) {
        fail(431, "header section too large");
      }
    }
  }
  return used;
}

void HttpParser::end_line() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (phase_ == Phase::kRequestLine) {
    request_line(line);
  } else {
    header_line(line);
  }
  line_.clear();
}

void HttpParser::request_line(std::string_view line) {
  if (line.empty()) {  // RFC 9112 2.2: ignore (a few) empty lines before a request line
    if (++empty_lines_ > kMaxEmptyLinesBefore) fail(400, "too many empty lines before the request line");
    return;
  }
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "method is not a token");
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) || version[6] != '.' ||
      !digit(version[7]))
    return fail(400, "malformed HTTP version");
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
    return fail(505, "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)");
  if (target.empty() || target[0] != '/') return fail(400, "request target is not origin-form (\"/path?query\")");
  if (!std::all_of(target.begin(), target.end(), [](char c) { return is_target_char(static_cast<unsigned char>(c)); }))
    return fail(400, "invalid character in the request target");

  const size_t q = target.find('?');
  if (const char* why = percent_decode(target.substr(0, q), false, req_.path)) return fail(400, why);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    std::string name, value;
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      if (const char* why = percent_decode(pair.substr(0, eq), true, name)) return fail(400, why);
      if (const char* why = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                                           true, value))
        return fail(400, why);
      req_.query.emplace_back(std::move(name), std::move(value));
    }
  }
  req_.method = method;
  req_.target = target;
  req_.version_minor = version[7] - '0';
  phase_ = Phase::kHeaders;
}

void HttpParser::header_line(std::string_view line) {
  if (line.empty()) return end_headers();
  if (line[0] == ' ' || line[0] == '\t') return fail(400, "obs-fold (a header line starting with whitespace)");
  if (req_.headers.size() >= kMaxHeaders) return fail(431, "too many header lines");
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(400, "header line without a colon");
  const std::string_view name = line.substr(0, colon);
  if (!is_token(name)) return fail(400, "header name is not a token (or whitespace before the colon)");
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
  req_.headers.emplace_back(std::move(lower), std::string(trim_ows(line.substr(colon + 1))));
}

void HttpParser::end_headers() {
  size_t hosts = 0;
  bool transfer_encoding = false, have_length = false;
  std::string_view length;  // Content-Length, without leading zeros
  for (const auto& [name, value] : req_.headers) {
    if (name == "host") {
      ++hosts;
    } else if (name == "transfer-encoding") {
      transfer_encoding = true;
    } else if (name == "content-length") {
      std::string_view v = value;
      if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(400, "malformed Content-Length");
      while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
      if (have_length && v != length) return fail(400, "conflicting Content-Length headers");
      have_length = true;
      length = v;
    }
  }
  // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without a Host header or
  // with more than one.
  if (hosts == 0 && req_.version_minor == 1) return fail(400, "missing Host header");
  if (hosts > 1) return fail(400, "more than one Host header");
  if (transfer_encoding) return fail(501, "Transfer-Encoding is not supported (send Content-Length)");
  size_t body = 0;
  if (have_length) {
    if (length.size() > 9) return fail(413, "request body too large");  // kMaxBodyBytes has 8 digits
    for (const char c : length) body = body * 10 + static_cast<size_t>(c - '0');
    if (body > kMaxBodyBytes) return fail(413, "request body too large");
  } else if (req_.method == "POST" || req_.method == "PUT" || req_.method == "PATCH") {
    return fail(411, "Content-Length required");
  }
  bool close = false, keep = false;
  for (const auto& [name, value] : req_.headers) {
    if (name != "connection") continue;
    close = close || list_has(value, "close");
    keep = keep || list_has(value, "keep-alive");
  }
  req_.keep_alive = !close && (req_.version_minor == 1 || keep);
  body_left_ = body;
  phase_ = Phase::kBody;
  if (body_left_ == 0) state_ = State::kReady;
}

HttpRequest HttpParser::take() {
  if (state_ != State::kReady) return {};
  HttpRequest out = std::move(req_);
  req_ = HttpRequest{};
  state_ = State::kNeedMore;
  phase_ = Phase::kRequestLine;
  line_.clear();
  empty_lines_ = 0;
  header_bytes_ = 0;
  body_left_ = 0;
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

std::string format_response(const HttpResponse& r, bool keep_alive) {
  const int status = r.status >= 100 && r.status <= 599 ? r.status : 500;
  const bool no_body = status < 200 || status == 204;
  std::string o;
  o.reserve(192 + r.body.size());
  o += "HTTP/1.1 ";
  o += std::to_string(status);
  o += ' ';
  o += reason_phrase(status);
  o += "\r\n";
  if (!no_body) {
    if (!r.content_type.empty()) add_header(o, "Content-Type", r.content_type);
    add_header(o, "Content-Length", std::to_string(r.body.size()));
  }
  if (!keep_alive) add_header(o, "Connection", "close");
  add_header(o, "Cache-Control", "no-store");
  add_header(o, "X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : r.headers)
    if (is_token(name)) add_header(o, name, value);
  o += "\r\n";
  if (!no_body) o += r.body;
  return o;
}

}  // namespace mx::control
