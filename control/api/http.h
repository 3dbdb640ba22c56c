// control/api/http.h — a small, bounded HTTP/1.1 request parser and response writer for the
// control plane's API server (control/api/api_server.h), which listens on a local Unix socket.
//
// HttpParser is incremental: feed() the bytes as they arrive; it consumes at most one request
// (request line, header section, body of exactly Content-Length bytes) and stops there, so
// pipelined requests stay with the caller until take() has moved the complete one out. A bad
// request stops the parser for good: status() is what to answer (then close the connection),
// error() a short reason, and feed() consumes nothing more.
//
// What is accepted, deliberately narrow:
//   - request line "METHOD SP origin-form SP HTTP/1.0|HTTP/1.1"; lines end in CRLF or bare LF;
//     up to kMaxEmptyLinesBefore empty lines before the request line are ignored (RFC 9112 2.2);
//   - header lines "name: value" (name a token, no whitespace before the colon), no obs-fold;
//   - a body only by Content-Length (digits only); Transfer-Encoding of any kind is 501;
//   - HTTP/1.1 requires exactly one Host header (clients on the socket send "Host: localhost").
//
// SECURITY: every byte is untrusted. Nothing grows without a bound: the request line is at
// most kMaxRequestLine bytes (414), the header section kMaxHeaderBytes bytes not counting line
// ends and kMaxHeaders lines (431), the body kMaxBodyBytes (413, decided from Content-Length
// before any of it is buffered; the body is not pre-allocated from the announced length).
// NUL, a bare CR and other control characters anywhere in the request line or header section
// are 400, as is obs-fold, whitespace before a header colon, a malformed or conflicting
// Content-Length, and a percent-decoded NUL in the path or query. No exceptions on bad input.
// format_response() writes only token header names, and replaces control characters in header
// values with spaces, so a value carrying user data cannot split the response.
// STANDARDS: RFC 9112 (HTTP/1.1 message syntax), RFC 9110 (HTTP semantics), RFC 3986 (the
// request-target's characters and percent-encoding); the query's '+' as a space follows
// application/x-www-form-urlencoded (WHATWG URL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx::control {

constexpr size_t kMaxRequestLine = 8192;       // request line, without its line end
constexpr size_t kMaxHeaderBytes = 32768;      // all header lines together, without line ends
constexpr size_t kMaxHeaders = 100;            // header lines
constexpr size_t kMaxBodyBytes = 64u << 20;    // a request body (a snapshot upload)
constexpr size_t kMaxEmptyLinesBefore = 8;     // empty lines ignored before a request line

struct HttpRequest {
  std::string method;  // as sent (case-sensitive tokens, RFC 9110 9.1)
  std::string target;  // origin-form: path plus optional ?query, as sent
  std::string path;    // target without the query, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;    // decoded name/value pairs, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed of OWS
  std::string body;
  int version_minor = 1;   // HTTP/1.<version_minor>
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"

  // The first value of the header `lower_name` (lower-case), or empty.
  std::string_view header(std::string_view lower_name) const;
  // The first value of the query parameter `name`, or empty.
  std::string_view param(std::string_view name) const;
};

class HttpParser {
 public:
  enum class State { kNeedMore, kReady, kBad };

  // Consumes bytes of one request; returns how many were taken (all, unless the request was
  // completed or found bad before the end of `bytes`). Takes nothing while a request is ready
  // (take() it first) or after a bad request.
  size_t feed(std::string_view bytes);
  State state() const noexcept { return state_; }
  // When kBad: the status to answer with (400, 411, 413, 414, 431, 501 or 505), else 0.
  int status() const noexcept { return status_; }
  // When kBad: a short reason (safe to echo: fixed text, no request bytes).
  const std::string& error() const noexcept { return error_; }
  // Moves the complete request out and gets ready for the next one. Outside kReady: an empty
  // request, and nothing changes.
  HttpRequest take();

 private:
  enum class Phase { kRequestLine, kHeaders, kBody };
  void fail(int status, const char* why);
  void end_line();
  void request_line(std::string_view line);
  void header_line(std::string_view line);
  void end_headers();

  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kRequestLine;
  int status_ = 0;
  std::string error_;
  std::string line_;          // the line being received (a trailing CR at most once, last)
  size_t empty_lines_ = 0;    // empty lines seen before this request line
  size_t header_bytes_ = 0;   // header section bytes so far, line ends excluded
  size_t body_left_ = 0;      // body bytes still to come
  HttpRequest req_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Serialises: "HTTP/1.1 <code> <reason>\r\n", Content-Type, Content-Length, "Connection: close"
// when !keep_alive, "Cache-Control: no-store", "X-Content-Type-Options: nosniff", the extra
// headers, a blank line, the body. A 1xx or 204 status carries neither Content-Length nor a
// body (RFC 9110 8.6, 15.3.5); a status outside 100..599 is written as 500. Extra headers
// whose name is not a token are left out.
std::string format_response(const HttpResponse& r, bool keep_alive);
// The reason phrase of the statuses this server uses ("" for others: RFC 9112 4 allows none).
const char* reason_phrase(int status);

}  // namespace mx::control
