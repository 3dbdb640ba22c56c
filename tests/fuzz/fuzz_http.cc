// tests/fuzz/fuzz_http.cc — the API server's HTTP/1.1 parser (control/api/http.h) over arbitrary
// streams, split in two at a position taken from the first byte. Properties: feed() never
// consumes more than it is given, and consumes nothing after a bad request; a ready request's
// body is exactly its Content-Length; a bad request's status is one the parser may give; the
// stream parsed in one feed, in two, and (when short) a byte at a time yields the same requests
// and the same final state; and a response built from request bytes cannot be split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/api/http.h"

namespace {

using mx::control::HttpParser;
using mx::control::HttpRequest;

struct Outcome {
  HttpParser::State state;
  int status;
  std::string error;
  size_t consumed;  // stream offset after this outcome
  HttpRequest req;
};

bool same(const Outcome& a, const Outcome& b) {
  return a.state == b.state && a.status == b.status && a.error == b.error && a.consumed == b.consumed &&
         a.req.method == b.req.method && a.req.target == b.req.target && a.req.path == b.req.path &&
         a.req.query == b.req.query && a.req.headers == b.req.headers && a.req.body == b.req.body &&
         a.req.keep_alive == b.req.keep_alive;
}

bool digits_value(std::string_view v, size_t& out) {
  out = 0;
  for (const char c : v) {
    if (c < '0' || c > '9') return false;
    if (out > mx::control::kMaxBodyBytes) return false;
    out = out * 10 + static_cast<size_t>(c - '0');
  }
  return !v.empty();
}

void check_ready(const HttpRequest& req) {
  const std::string_view cl = req.header("content-length");
  size_t n = 0;
  if (cl.empty()) {
    if (!req.body.empty()) __builtin_trap();
  } else if (!digits_value(cl, n) || n != req.body.size() || n > mx::control::kMaxBodyBytes) {
    __builtin_trap();
  }
  if (!req.header("transfer-encoding").empty()) __builtin_trap();
  if (req.target.empty() || req.target[0] != '/' || req.path.empty() || req.path[0] != '/') __builtin_trap();
  if (req.path.find('\0') != std::string::npos) __builtin_trap();
  if (req.headers.size() > mx::control::kMaxHeaders) __builtin_trap();
  for (const auto& [name, value] : req.headers) {
    if (name.empty()) __builtin_trap();
    for (const char c : name)
      if (c >= 'A' && c <= 'Z') __builtin_trap();
    if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' || value.back() == '\t'))
      __builtin_trap();
  }

  // A response carrying request bytes in its headers still has exactly its own header lines.
  mx::control::HttpResponse r;
  r.content_type = req.target;
  r.body = req.body;
  r.headers = req.headers;
  r.headers.emplace_back("X-Body", req.body);
  const std::string out = mx::control::format_response(r, true);
  const size_t end = out.find("\r\n\r\n");
  if (end == std::string::npos || out.compare(end + 4, std::string::npos, req.body) != 0) __builtin_trap();
  size_t lines = 0;
  for (size_t i = 0; i < end; ++i) {
    // Every CR and LF is one of a CRLF pair (the status line starts with 'H', so i > 0 at a LF).
    if ((out[i] == '\n' && out[i - 1] != '\r') || (out[i] == '\r' && out[i + 1] != '\n')) __builtin_trap();
    if (out[i] == '\r') ++lines;
  }
  // status line, Content-Type, Content-Length, Cache-Control, X-Content-Type-Options (ended by
  // the blank line's first CRLF), then one per extra header.
  if (lines + 1 != 5 + r.headers.size()) __builtin_trap();
}

// Feeds `in` in the given pieces, taking every request; the outcomes in order, ending with the
// final state.
std::vector<Outcome> run(std::string_view in, const std::vector<size_t>& cuts) {
  std::vector<Outcome> out;
  HttpParser p;
  size_t pos = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : in.size();
    while (pos < end) {
      const std::string_view piece = in.substr(pos, end - pos);
      const size_t used = p.feed(piece);
      if (used > piece.size()) __builtin_trap();
      pos += used;
      if (p.state() == HttpParser::State::kReady) {
        if (p.feed(in.substr(pos)) != 0) __builtin_trap();  // nothing until take()
        HttpRequest req = p.take();
        check_ready(req);
        out.push_back(Outcome{HttpParser::State::kReady, 0, "", pos, std::move(req)});
        if (p.state() != HttpParser::State::kNeedMore) __builtin_trap();
      } else if (p.state() == HttpParser::State::kBad) {
        switch (p.status()) {
          case 400: case 411: case 413: case 414: case 431: case 501: case 505: break;
          default: __builtin_trap();
        }
        if (p.error().empty()) __builtin_trap();
        if (p.feed(in.substr(pos)) != 0 || p.feed("GET / HTTP/1.1\r\n") != 0) __builtin_trap();
        if (p.state() != HttpParser::State::kBad) __builtin_trap();
        out.push_back(Outcome{HttpParser::State::kBad, p.status(), p.error(), pos, {}});
        return out;
      } else if (used != piece.size()) {
        __builtin_trap();  // needing more, it takes all it is given
      }
    }
  }
  if (p.status() != 0 || !p.error().empty()) __builtin_trap();
  out.push_back(Outcome{p.state(), 0, "", pos, {}});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t split = in.size() * data[0] / 255;
  const std::vector<Outcome> one = run(in, {});
  const std::vector<Outcome> two = run(in, {split});
  if (one.size() != two.size()) __builtin_trap();
  for (size_t i = 0; i < one.size(); ++i)
    if (!same(one[i], two[i])) __builtin_trap();
  if (in.size() <= 1024) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
    const std::vector<Outcome> bytes = run(in, cuts);
    if (bytes.size() != one.size()) __builtin_trap();
    for (size_t i = 0; i < one.size(); ++i)
      if (!same(one[i], bytes[i])) __builtin_trap();
  }
  return 0;
}
