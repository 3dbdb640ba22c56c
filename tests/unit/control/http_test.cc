// tests/unit/control/http_test.cc — the API server's HTTP/1.1 parser and response writer
// (control/api/http.h): requests whole and a byte at a time, pipelining, query and percent
// decoding, every error status with a request that causes it (and nothing read past it), the
// keep-alive rules, and a response byte for byte.
#include "control/api/http.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx::control {
namespace {

using State = HttpParser::State;
using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Parsed {
  State state = State::kNeedMore;
  int status = 0;
  std::string error;
  size_t used = 0;  // bytes consumed
  HttpRequest req;
};

Parsed finish(HttpParser& p, size_t used) {
  Parsed r;
  r.state = p.state();
  r.status = p.status();
  r.error = p.error();
  r.used = used;
  if (r.state == State::kReady) r.req = p.take();
  return r;
}

// One feed() of all of `s`.
Parsed whole(std::string_view s) {
  HttpParser p;
  const size_t used = p.feed(s);
  return finish(p, used);
}

// A byte at a time, until the parser takes no more.
Parsed bytewise(std::string_view s) {
  HttpParser p;
  size_t used = 0;
  while (used < s.size()) {
    const size_t n = p.feed(s.substr(used, 1));
    if (n == 0) break;
    EXPECT_EQ(n, 1u);
    used += n;
  }
  return finish(p, used);
}

// Both ways, which must agree; returns the whole-feed result.
Parsed parse(std::string_view s) {
  Parsed a = whole(s), b = bytewise(s);
  EXPECT_EQ(a.state, b.state) << s;
  EXPECT_EQ(a.status, b.status) << s;
  EXPECT_EQ(a.error, b.error) << s;
  EXPECT_EQ(a.used, b.used) << s;
  EXPECT_EQ(a.req.method, b.req.method);
  EXPECT_EQ(a.req.target, b.req.target);
  EXPECT_EQ(a.req.path, b.req.path);
  EXPECT_EQ(a.req.query, b.req.query);
  EXPECT_EQ(a.req.headers, b.req.headers);
  EXPECT_EQ(a.req.body, b.req.body);
  EXPECT_EQ(a.req.keep_alive, b.req.keep_alive);
  return a;
}

const std::string kGet =
    "GET /v1/status HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "User-Agent: \t mxgatectl/1.0  \r\n"
    "Accept:*/*\r\n"
    "\r\n";

const std::string kPost =
    "POST /v1/snapshot?actor=ops&comment=first%20import HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Content-Type: application/toml\r\n"
    "Content-Length: 24\r\n"
    "\r\n"
    "[[tenant]]\nname = \"x\"\r\n\n";

TEST(HttpParser, ParsesAGet) {
  const Parsed r = parse(kGet);
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.used, kGet.size());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.req.method, "GET");
  EXPECT_EQ(r.req.target, "/v1/status");
  EXPECT_EQ(r.req.path, "/v1/status");
  EXPECT_TRUE(r.req.query.empty());
  EXPECT_EQ(r.req.headers, (Pairs{{"host", "localhost"}, {"user-agent", "mxgatectl/1.0"}, {"accept", "*/*"}}));
  EXPECT_EQ(r.req.header("user-agent"), "mxgatectl/1.0");
  EXPECT_EQ(r.req.header("content-length"), "");
  EXPECT_EQ(r.req.body, "");
  EXPECT_TRUE(r.req.keep_alive);
}

TEST(HttpParser, ParsesAPostWithItsBody) {
  const Parsed r = parse(kPost);
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.used, kPost.size());
  EXPECT_EQ(r.req.method, "POST");
  EXPECT_EQ(r.req.target, "/v1/snapshot?actor=ops&comment=first%20import");
  EXPECT_EQ(r.req.path, "/v1/snapshot");
  EXPECT_EQ(r.req.param("actor"), "ops");
  EXPECT_EQ(r.req.param("comment"), "first import");
  EXPECT_EQ(r.req.header("content-type"), "application/toml");
  EXPECT_EQ(r.req.body, "[[tenant]]\nname = \"x\"\r\n\n");  // the body's bytes are not lines
}

TEST(HttpParser, WaitsForTheWholeBody) {
  HttpParser p;
  const std::string head = kPost.substr(0, kPost.size() - 5);
  EXPECT_EQ(p.feed(head), head.size());
  EXPECT_EQ(p.state(), State::kNeedMore);
  EXPECT_EQ(p.take().method, "");  // nothing to take yet
  EXPECT_EQ(p.feed(std::string_view(kPost).substr(head.size())), 5u);
  ASSERT_EQ(p.state(), State::kReady);
  EXPECT_EQ(p.take().body.size(), 24u);
}

TEST(HttpParser, AcceptsBareLfAndEmptyLinesBeforeTheRequestLine) {
  const Parsed r = parse("\r\n\nGET /a HTTP/1.1\nHost: localhost\n\n");
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.req.path, "/a");
  EXPECT_EQ(r.req.header("host"), "localhost");
  EXPECT_EQ(parse(std::string(kMaxEmptyLinesBefore + 1, '\n') + kGet).status, 400);
}

TEST(HttpParser, PipelinedRequestsOneAtATime) {
  const std::string stream = kPost + kGet + "GET /b";
  HttpParser p;
  std::string_view in = stream;
  in.remove_prefix(p.feed(in));
  ASSERT_EQ(p.state(), State::kReady);
  EXPECT_EQ(in.size(), kGet.size() + 6);  // stopped at the end of the first request
  EXPECT_EQ(p.feed(in), 0u);              // nothing more until take()
  const HttpRequest first = p.take();
  EXPECT_EQ(first.method, "POST");
  EXPECT_EQ(first.body.size(), 24u);
  EXPECT_EQ(p.state(), State::kNeedMore);
  in.remove_prefix(p.feed(in));
  ASSERT_EQ(p.state(), State::kReady);
  EXPECT_EQ(in, "GET /b");
  const HttpRequest second = p.take();
  EXPECT_EQ(second.method, "GET");
  EXPECT_EQ(second.path, "/v1/status");
  EXPECT_EQ(second.headers.size(), 3u);  // nothing carried over from the first
  EXPECT_EQ(second.body, "");
  EXPECT_EQ(p.feed(in), 6u);
  EXPECT_EQ(p.state(), State::kNeedMore);
}

TEST(HttpParser, PipelinedRequestsFedAByteAtATime) {
  const std::string stream = kGet + kPost + kGet;
  HttpParser p;
  std::vector<HttpRequest> got;
  for (const char c : stream) {
    ASSERT_EQ(p.feed(std::string_view(&c, 1)), 1u);
    if (p.state() == State::kReady) got.push_back(p.take());
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].method, "GET");
  EXPECT_EQ(got[1].method, "POST");
  EXPECT_EQ(got[1].param("comment"), "first import");
  EXPECT_EQ(got[2].method, "GET");
  EXPECT_TRUE(got[2].query.empty());
}

TEST(HttpParser, DecodesTheQuery) {
  const Parsed r = parse(
      "GET /v1/generations?limit=5&actor=a+b%2Bc&comment=caf%C3%a9%20%26%3D&flag&&empty=&eq=x=y&limit=7 HTTP/1.1\r\n"
      "Host: localhost\r\n\r\n");
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.req.path, "/v1/generations");
  EXPECT_EQ(r.req.query, (Pairs{{"limit", "5"},
                                {"actor", "a b+c"},
                                {"comment", "caf\xc3\xa9 &="},
                                {"flag", ""},
                                {"empty", ""},
                                {"eq", "x=y"},
                                {"limit", "7"}}));
  EXPECT_EQ(r.req.param("limit"), "5");  // the first
  EXPECT_EQ(r.req.param("flag"), "");
  EXPECT_EQ(r.req.param("absent"), "");
}

TEST(HttpParser, PercentDecodesThePath) {
  const Parsed r = parse("GET /v1/a%2Fb/c+d/%7e%41 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.req.target, "/v1/a%2Fb/c+d/%7e%41");
  EXPECT_EQ(r.req.path, "/v1/a/b/c+d/~A");  // '+' is a space only in the query
  const Parsed q = parse("GET /x? HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_EQ(q.state, State::kReady) << q.error;
  EXPECT_EQ(q.req.path, "/x");
  EXPECT_TRUE(q.req.query.empty());
}

TEST(HttpParser, RejectsBadPercentEncoding) {
  for (const char* target : {"/a%00b", "/a%zz", "/a%4", "/a%", "/a%g1", "/a?x=%00", "/a?%0=1", "/a?x=1%"}) {
    const Parsed r = parse(std::string("GET ") + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(r.state, State::kBad) << target;
    EXPECT_EQ(r.status, 400) << target;
  }
}

// A bad request: the status, and that the parser read nothing past the bad request (here
// followed by a good one) and takes nothing afterwards.
void expect_bad(const std::string& request, int status, size_t read_at_most = 0) {
  const std::string stream = request + kGet;
  for (const Parsed& r : {whole(stream), bytewise(stream)}) {
    EXPECT_EQ(r.state, State::kBad) << request;
    EXPECT_EQ(r.status, status) << request << " -> " << r.error;
    EXPECT_FALSE(r.error.empty());
    EXPECT_LE(r.used, read_at_most ? read_at_most : request.size()) << request;
  }
  HttpParser p;
  const size_t used = p.feed(stream);
  EXPECT_EQ(p.feed(std::string_view(stream).substr(used)), 0u);
  EXPECT_EQ(p.feed(kGet), 0u);
  EXPECT_EQ(p.state(), State::kBad);
  EXPECT_EQ(p.take().method, "");
  EXPECT_EQ(p.state(), State::kBad);
}

TEST(HttpParser, Status400) {
  const std::string host = "Host: localhost\r\n";
  expect_bad("GET / HTTP/1.1\rHost: localhost\r\n\r\n", 400);             // bare CR
  expect_bad("GET /a\rb HTTP/1.1\r\n" + host + "\r\n", 400);              // bare CR in the line
  expect_bad(std::string("GET /\0 HTTP/1.1\r\n", 17) + host + "\r\n", 400);  // NUL in the line
  expect_bad("GET / HTTP/1.1\r\n" + host + std::string("X-A: a\0b\r\n\r\n", 11), 400);  // NUL in a value
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A: a\x01" "b\r\n\r\n", 400);  // control in a value
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A: a\x7f\r\n\r\n", 400);      // DEL
  expect_bad("GET / HTTP/1.1\r\n" + host + "X\x1b" "A: a\r\n\r\n", 400);    // control in a name
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", 400);    // obs-fold
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A: a\r\n\tb\r\n\r\n", 400);   // obs-fold, HT
  expect_bad("GET / HTTP/1.1\r\n Host: localhost\r\n\r\n", 400);            // first line folded
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A : a\r\n\r\n", 400);         // space before colon
  expect_bad("GET / HTTP/1.1\r\n" + host + "X-A\t: a\r\n\r\n", 400);        // HT before colon
  expect_bad("GET / HTTP/1.1\r\n" + host + ": a\r\n\r\n", 400);             // empty name
  expect_bad("GET / HTTP/1.1\r\n" + host + "X(A): a\r\n\r\n", 400);         // name not a token
  expect_bad("GET / HTTP/1.1\r\n" + host + "no colon\r\n\r\n", 400);
  expect_bad("G@T / HTTP/1.1\r\n" + host + "\r\n", 400);                    // method not a token
  expect_bad(" GET / HTTP/1.1\r\n" + host + "\r\n", 400);                   // empty method
  expect_bad("GET  / HTTP/1.1\r\n" + host + "\r\n", 400);                   // two spaces
  expect_bad("GET / HTTP/1.1 \r\n" + host + "\r\n", 400);                   // trailing space
  expect_bad("GET /\r\n" + host + "\r\n", 400);                             // HTTP/0.9 form
  expect_bad("GET / HTTP/1\r\n" + host + "\r\n", 400);                      // malformed version
  expect_bad("GET / http/1.1\r\n" + host + "\r\n", 400);                    // HTTP-name is case-sensitive
  expect_bad("GET / HTTP/1.10\r\n" + host + "\r\n", 400);
  expect_bad("GET\t/ HTTP/1.1\r\n" + host + "\r\n", 400);
  expect_bad("GET http://localhost/ HTTP/1.1\r\n" + host + "\r\n", 400);    // absolute-form
  expect_bad("OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 400);                // asterisk-form
  expect_bad("GET a/b HTTP/1.1\r\n" + host + "\r\n", 400);
  expect_bad("GET /a#frag HTTP/1.1\r\n" + host + "\r\n", 400);              // not a target char
  expect_bad("GET /a\"b HTTP/1.1\r\n" + host + "\r\n", 400);
  expect_bad("GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", 400);         // raw non-ASCII
  expect_bad("GET / HTTP/1.1\r\n\r\n", 400);                                // no Host
  expect_bad("GET / HTTP/1.1\r\n" + host + host + "\r\n", 400);             // two Hosts
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: 1a\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: +1\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: 1 2\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 1\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400);
  expect_bad("POST / HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400);
}

TEST(HttpParser, Status411) {
  expect_bad("POST /v1/snapshot HTTP/1.1\r\nHost: localhost\r\n\r\n", 411);
  expect_bad("PUT /x HTTP/1.1\r\nHost: localhost\r\n\r\n", 411);
  expect_bad("PATCH /x HTTP/1.1\r\nHost: localhost\r\n\r\n", 411);
  // Other methods without one have no body.
  EXPECT_EQ(parse("DELETE /x HTTP/1.1\r\nHost: localhost\r\n\r\n").state, State::kReady);
}

TEST(HttpParser, Status413) {
  expect_bad("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(kMaxBodyBytes + 1) +
                 "\r\n\r\n",
             413);
  expect_bad("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413);
  // The limit itself is fine (and nothing is allocated up front).
  HttpParser p;
  const std::string head =
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 00" + std::to_string(kMaxBodyBytes) + "\r\n\r\n";
  EXPECT_EQ(p.feed(head), head.size());
  EXPECT_EQ(p.state(), State::kNeedMore);
}

TEST(HttpParser, Status414) {
  const std::string target = "/" + std::string(kMaxRequestLine - 14, 'a');  // "GET /" + " HTTP/1.1": 14
  const std::string ok_line = "GET " + target + " HTTP/1.1";
  ASSERT_EQ(ok_line.size(), kMaxRequestLine);
  EXPECT_EQ(parse(ok_line + "\r\nHost: localhost\r\n\r\n").state, State::kReady);
  const std::string long_line = "GET " + target + "a HTTP/1.1";
  expect_bad(long_line + "\r\nHost: localhost\r\n\r\n", 414);
  // Decided as soon as the line is too long, without waiting for its end.
  expect_bad(std::string(kMaxRequestLine + 1, 'G'), 414, kMaxRequestLine + 1);
}

TEST(HttpParser, Status431) {
  std::string many = "GET / HTTP/1.1\r\nHost: localhost\r\n";
  for (size_t i = 1; i < kMaxHeaders; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  const Parsed ok = parse(many + "\r\n");
  ASSERT_EQ(ok.state, State::kReady) << ok.error;
  EXPECT_EQ(ok.req.headers.size(), kMaxHeaders);
  expect_bad(many + "X-101: v\r\n\r\n", 431);

  // kMaxHeaderBytes of header lines (line ends not counted) pass; one more byte does not.
  const std::string host = "Host: localhost";
  const std::string fill = "X-Fill: " + std::string(kMaxHeaderBytes - host.size() - 8, 'f');
  const Parsed full = parse("GET / HTTP/1.1\r\n" + host + "\r\n" + fill + "\r\n\r\n");
  ASSERT_EQ(full.state, State::kReady) << full.error;
  expect_bad("GET / HTTP/1.1\r\n" + host + "\r\n" + fill + "f\r\n\r\n", 431);
  expect_bad("GET / HTTP/1.1\r\nX-Long: " + std::string(kMaxHeaderBytes, 'x'), 431,
             16 + kMaxHeaderBytes + 1);  // decided without the line end
}

TEST(HttpParser, Status501) {
  // Decided at the end of the header section: none of the body is read.
  const std::string chunked = "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_bad(chunked + "5\r\nhello\r\n0\r\n\r\n", 501, chunked.size());
  const std::string both = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\n";
  expect_bad(both + "abc", 501, both.size());
}

TEST(HttpParser, Status505) {
  expect_bad("GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505);
  expect_bad("GET / HTTP/1.2\r\nHost: localhost\r\n\r\n", 505);
  expect_bad("GET / HTTP/0.9\r\nHost: localhost\r\n\r\n", 505);
  expect_bad("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);  // the HTTP/2 preface
}

TEST(HttpParser, DuplicateEqualContentLengthsAreOne) {
  const Parsed r = parse("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\ncontent-length: 003\r\n\r\nabc");
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.req.body, "abc");
  const Parsed z = parse("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(z.state, State::kReady) << z.error;
  EXPECT_EQ(z.req.body, "");
}

bool keep_alive(const std::string& version, const std::string& headers) {
  const Parsed r = parse("GET / " + version + "\r\nHost: localhost\r\n" + headers + "\r\n");
  EXPECT_EQ(r.state, State::kReady) << r.error;
  return r.req.keep_alive;
}

TEST(HttpParser, KeepAliveRules) {
  EXPECT_TRUE(keep_alive("HTTP/1.1", ""));
  EXPECT_FALSE(keep_alive("HTTP/1.1", "Connection: close\r\n"));
  EXPECT_FALSE(keep_alive("HTTP/1.1", "Connection: Keep-Alive, CLOSE\r\n"));
  EXPECT_FALSE(keep_alive("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n"));
  EXPECT_TRUE(keep_alive("HTTP/1.1", "Connection: keep-alive\r\n"));
  EXPECT_TRUE(keep_alive("HTTP/1.1", "Connection: closed\r\n"));  // not the token "close"
  EXPECT_FALSE(keep_alive("HTTP/1.0", ""));
  EXPECT_TRUE(keep_alive("HTTP/1.0", "Connection: keep-alive\r\n"));
  EXPECT_TRUE(keep_alive("HTTP/1.0", "Connection: Upgrade ,\tKeep-Alive\r\n"));
  EXPECT_FALSE(keep_alive("HTTP/1.0", "Connection: keep-alive, close\r\n"));
  // HTTP/1.0 does not need a Host.
  const Parsed r = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.state, State::kReady) << r.error;
  EXPECT_EQ(r.req.version_minor, 0);
  EXPECT_FALSE(r.req.keep_alive);
}

TEST(HttpResponse, ExactBytes) {
  HttpResponse r;
  r.status = 405;
  r.body = "{\"error\":\"method not allowed\"}\n";
  r.headers.emplace_back("Allow", "GET");
  EXPECT_EQ(format_response(r, false),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 31\r\n"
            "Connection: close\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Allow: GET\r\n"
            "\r\n"
            "{\"error\":\"method not allowed\"}\n");
  HttpResponse ok;
  ok.body = "{}";
  EXPECT_EQ(format_response(ok, true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n{}");
}

TEST(HttpResponse, CannotBeSplitAndHasNoBodyWhenItMustNot) {
  HttpResponse r;
  r.status = 204;
  r.body = "ignored";
  r.headers.emplace_back("X-Note", "a\r\nSet-Cookie: x=1");
  r.headers.emplace_back("Bad Name", "v");
  EXPECT_EQ(format_response(r, true),
            "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            "X-Note: a  Set-Cookie: x=1\r\n\r\n");
  HttpResponse odd;
  odd.status = 42;
  odd.content_type.clear();
  EXPECT_EQ(format_response(odd, true).rfind("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n", 0), 0u);
  EXPECT_STREQ(reason_phrase(413), "Content Too Large");
  EXPECT_STREQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(reason_phrase(299), "");
}

}  // namespace
}  // namespace mx::control
