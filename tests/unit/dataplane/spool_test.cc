// tests/unit/dataplane/spool_test.cc — the spool entry format, backoff, and RFC 3464 DSNs.
#include "dataplane/spool.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::dp {
namespace {

SpoolMeta sample() {
  SpoolMeta m;
  m.id = 123456789;
  m.tenant = "example";
  m.route_ip = *Ipv4Addr::parse("198.18.0.1");
  m.route_port = 2526;
  m.tls = smtp::TlsPolicy::kRequired;
  m.from = "alice@sender.test";
  m.params.body = smtp::Body::k8BitMime;
  m.params.smtputf8 = true;
  m.params.ret = smtp::DsnRet::kHdrs;
  m.params.envid = "QQ314159";
  m.rcpts.push_back(SpoolRcpt{"bob@example.test", {smtp::kNotifyFailure | smtp::kNotifyDelay, "rfc822;bob@example.test"}});
  m.rcpts.push_back(SpoolRcpt{"\"carol smith\"@example.test", {}});
  m.created = 1700000000;
  m.expires = 1700086400;
  m.attempts = 3;
  m.next = 1700000300;
  m.last = "451 4.3.0 busy (body)";
  return m;
}

TEST(Spool, MetaRoundTrips) {
  const SpoolMeta m = sample();
  const std::string text = format_spool_meta(m);
  auto back = parse_spool_meta(text);
  ASSERT_TRUE(back) << back.error().message << "\n" << text;
  EXPECT_EQ(format_spool_meta(*back), text);
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->route_port, 2526);
  EXPECT_EQ(back->tls, smtp::TlsPolicy::kRequired);
  ASSERT_EQ(back->rcpts.size(), 2u);
  EXPECT_EQ(back->rcpts[0].params.notify, smtp::kNotifyFailure | smtp::kNotifyDelay);
  EXPECT_EQ(back->rcpts[0].params.orcpt, "rfc822;bob@example.test");
  EXPECT_EQ(back->params.envid, "QQ314159");
  EXPECT_TRUE(back->params.smtputf8);
  EXPECT_EQ(back->last, m.last);
  SpoolMeta null_sender = m;
  null_sender.from.clear();
  null_sender.dsn = true;
  auto n = parse_spool_meta(format_spool_meta(null_sender));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->from, "");
  EXPECT_TRUE(n->dsn);
}

TEST(Spool, AMinimalEntryFormatsBackToItself) {
  // Found by fuzz_spool_meta: no tenant line (a DSN's entry may have none).
  const std::string text = "id 7\nroute 198.18.0.1:2526\ntls opportunistic\nfrom a@b\nrcpt 0 - \"c d\"@ex\nlast 451dy)\n";
  auto m = parse_spool_meta(text);
  ASSERT_TRUE(m) << m.error().message;
  auto again = parse_spool_meta(format_spool_meta(*m));
  ASSERT_TRUE(again) << again.error().message << "\n" << format_spool_meta(*m);
  EXPECT_EQ(format_spool_meta(*again), format_spool_meta(*m));
}

TEST(Spool, BadMetaIsRefusedWithTheLine) {
  const std::string good = format_spool_meta(sample());
  const struct {
    std::string text;
    const char* want;
  } cases[] = {
      {good.substr(0, good.size() - 1), "no newline"},
      {good + "colour red\n", "unknown or bad line"},
      {good + "rcpt 0 x@y\n", "bad rcpt"},
      {good + "rcpt 99 - x@y\n", "bad rcpt notify"},
      {good + "rcpt 0  x@y\n", "bad orcpt"},
      {"id 1\nroute 198.18.0.1:0\nfrom \nrcpt 0 - a@b\n", "bad route"},
      {"id 1\nroute 198.18.0.1:25\nfrom a\tb\nrcpt 0 - a@b\n", "bad characters"},
      {"id 1\nroute 198.18.0.1:25\nrcpt 0 - a@b\n", "incomplete"},
      {"id 1\nroute 198.18.0.1:25\nfrom \n", "incomplete"},
      {"id x\n", "unknown or bad line"},
      {std::string(kMaxSpoolMetaBytes + 1, 'a'), "larger than"},
      {"id 1\n" + std::string(kMaxSpoolLine + 1, 'a') + "\n", "too long"},
  };
  for (const auto& c : cases) {
    auto r = parse_spool_meta(c.text);
    ASSERT_FALSE(r) << c.text.substr(0, 80);
    EXPECT_NE(r.error().message.find(c.want), std::string::npos) << r.error().message;
  }
}

TEST(Spool, BackoffDoublesUpToTheMax) {
  EXPECT_EQ(spool_backoff(1, 60, 3600), 60u);
  EXPECT_EQ(spool_backoff(2, 60, 3600), 120u);
  EXPECT_EQ(spool_backoff(5, 60, 3600), 960u);
  EXPECT_EQ(spool_backoff(7, 60, 3600), 3600u);
  EXPECT_EQ(spool_backoff(1000, 60, 3600), 3600u);
  EXPECT_EQ(spool_backoff(0, 5, 60), 5u);
}

TEST(Spool, DsnIsAMultipartReportWithPerRecipientStatus) {
  const SpoolMeta m = sample();
  const std::string original = "From: alice@sender.test\r\nSubject: hi\r\n\r\nsecret body\r\n";
  std::vector<DsnFailure> failed{{m.rcpts[0], "5.1.1", "550 5.1.1 no such user", "198.18.0.1"}};
  const std::string d = build_dsn(m, failed, ByteSpan(reinterpret_cast<const uint8_t*>(original.data()), original.size()),
                                  "mx.lab.test", 1700000500, 42);
  EXPECT_NE(d.find("To: <alice@sender.test>\r\n"), std::string::npos);
  EXPECT_NE(d.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(d.find("Content-Type: message/delivery-status\r\n"), std::string::npos);
  EXPECT_NE(d.find("Reporting-MTA: dns; mx.lab.test\r\n"), std::string::npos);
  EXPECT_NE(d.find("Original-Envelope-Id: QQ314159\r\n"), std::string::npos);
  EXPECT_NE(d.find("Original-Recipient: rfc822;bob@example.test\r\n"), std::string::npos);
  EXPECT_NE(d.find("Final-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"), std::string::npos);
  EXPECT_NE(d.find("Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"), std::string::npos);
  // RET=HDRS: the original's header section only.
  EXPECT_NE(d.find("Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@sender.test\r\nSubject: hi\r\n"), std::string::npos);
  EXPECT_EQ(d.find("secret body"), std::string::npos);
  SpoolMeta full = m;
  full.params.ret = smtp::DsnRet::kFull;
  const std::string f = build_dsn(full, failed, ByteSpan(reinterpret_cast<const uint8_t*>(original.data()), original.size()),
                                  "mx.lab.test", 1700000500, 43);
  // RET=FULL too: the headers only (the sender address is not authenticated: no backscatter).
  EXPECT_NE(f.find("Content-Type: text/rfc822-headers\r\n\r\nFrom: alice"), std::string::npos);
  EXPECT_EQ(f.find("message/rfc822"), std::string::npos);
  EXPECT_EQ(f.find("secret body"), std::string::npos);
  EXPECT_NE(f.find("--mxgate-dsn-43--\r\n"), std::string::npos);
}

ByteSpan span_of(const std::string& s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// Every line ends in CRLF, and no line holds a control character but TAB.
void expect_clean_lines(const std::string& d) {
  for (size_t i = 0; i < d.size(); ++i) {
    const auto u = static_cast<unsigned char>(d[i]);
    if (d[i] == '\r') {
      ASSERT_TRUE(i + 1 < d.size() && d[i + 1] == '\n') << "bare CR at " << i;
      ++i;
    } else {
      ASSERT_FALSE(d[i] == '\n') << "bare LF at " << i;
      ASSERT_FALSE((u < 0x20 && d[i] != '\t') || u == 0x7f) << "control " << int(u) << " at " << i;
    }
  }
}

bool has_line_starting(const std::string& d, std::string_view prefix) {
  for (size_t p = 0; p < d.size(); p = d.find('\n', p) + 1) {
    if (d.compare(p, prefix.size(), prefix) == 0) return true;
    if (d.find('\n', p) == std::string::npos) break;
  }
  return false;
}

// Security review: the meta must always parse back, whatever text the downstream answered. A DEL
// in "last" used to make an entry already answered 250 unparsable (set aside as .bad).
TEST(Spool, MetaWithControlCharactersInFreeTextStillParses) {
  SpoolMeta m = sample();
  m.last = std::string("250 2.0.0 ok\x7f\x1b[31m\r\nX: y\tz\0!", 28);
  const std::string text = format_spool_meta(m);
  auto back = parse_spool_meta(text);
  ASSERT_TRUE(back) << back.error().message << "\n" << text;
  EXPECT_EQ(back->last, "250 2.0.0 ok??[31m??X: y?z?!");
  EXPECT_EQ(format_spool_meta(*back), text);
  // Entries written before the fix (DEL or TAB in "last") load too.
  auto old = parse_spool_meta("id 7\nroute 198.18.0.1:25\nfrom a@b\nrcpt 0 - c@d\nlast 451 busy\x7f\tx\n");
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->last, "451 busy??x");
}

TEST(Spool, EveryFieldTheFormatterWritesParsesBack) {
  SpoolMeta m = sample();
  m.tenant = "a b\x7f" + std::string(100, 't');
  m.route_port = 0;
  m.from = "x\r\ny@z" + std::string(600, 'f');
  m.params.envid = "E V\x01" + std::string(200, 'e');
  m.rcpts[0].params.notify = 0xff;
  m.rcpts[0].params.orcpt = "rfc822;a b\n" + std::string(600, 'o');
  m.rcpts[1].address = "c\x7f\r@d" + std::string(600, 'a');
  m.rcpts.push_back(SpoolRcpt{"", {}});
  m.last = std::string(2 * kMaxSpoolLine, 'l');
  m.id = UINT64_MAX;  // found by fuzz_spool_meta: 20 digits
  m.next = UINT64_MAX;
  const std::string text = format_spool_meta(m);
  auto back = parse_spool_meta(text);
  ASSERT_TRUE(back) << back.error().message << "\n" << text;
  EXPECT_EQ(format_spool_meta(*back), text);
  EXPECT_EQ(back->tenant.substr(0, 4), "a?b?");
  EXPECT_EQ(back->route_port, 25);
  EXPECT_EQ(back->from.substr(0, 5), "x??y@");
  EXPECT_EQ(back->params.envid.substr(0, 4), "E?V?");
  EXPECT_EQ(back->rcpts[0].params.notify, 15);
  EXPECT_EQ(back->rcpts[1].address.substr(0, 5), "c??@d");
  ASSERT_EQ(back->rcpts.size(), 3u);
  EXPECT_FALSE(back->rcpts[2].address.empty());
  EXPECT_EQ(back->last.size(), kMaxSpoolLast);
  EXPECT_EQ(back->id, UINT64_MAX);
  EXPECT_FALSE(parse_spool_meta("id 18446744073709551616\nroute 198.18.0.1:25\nfrom a@b\nrcpt 0 - c@d\n"));
}

// Security review: a remote reply must not inject header lines or MIME parts into the DSN.
TEST(Spool, DsnCarriesNoControlCharactersFromTheRemote) {
  const SpoolMeta m = sample();
  const std::string original = "From: alice@sender.test\r\nSubject: hi\r\n\r\nsecret body\r\n";
  const std::string evil = std::string("550 5.1.1 no\r\nX-Injected: 1\x1b[2J\r\n\r\n--mxgate-dsn-42\x7f") + '\0' + "end";
  std::vector<DsnFailure> failed{
      {m.rcpts[0], "5.1.1\r\nX-Injected: 2", evil, "198.18.0.1\r\nX-Injected: 3"},
      {m.rcpts[1], "4.4.7", "delivery time expired; last error: " + std::string(3000, 'x'), "198.18.0.1"}};
  const std::string d = build_dsn(m, failed, span_of(original), "mx.lab.test", 1700000500, 42);
  expect_clean_lines(d);
  EXPECT_FALSE(has_line_starting(d, "X-Injected")) << d;
  EXPECT_EQ(d.find('\x1b'), std::string::npos);
  EXPECT_EQ(d.find("--mxgate-dsn-42\r\n--mxgate-dsn-42"), std::string::npos);
  EXPECT_NE(d.find("Diagnostic-Code: smtp; 550 5.1.1 no??X-Injected: 1?[2J????" "--mxgate-dsn-42??end"), std::string::npos)
      << d;
  EXPECT_NE(d.find("Status: 5.0.0\r\n"), std::string::npos);  // not a status code: a generic one
  EXPECT_NE(d.find("Status: 4.4.7\r\n"), std::string::npos);
  for (size_t p = 0, e; p < d.size(); p = e + 2) {
    e = d.find("\r\n", p);
    ASSERT_NE(e, std::string::npos);
    EXPECT_LE(e - p, 998u) << "RFC 5322 2.1.1 line limit";
  }
}

TEST(Spool, DsnCarriesTheOriginalsHeadersOnlyWhateverItsLineEndings) {
  SpoolMeta m = sample();
  m.params.ret = smtp::DsnRet::kFull;
  std::vector<DsnFailure> failed{{m.rcpts[0], "5.1.1", "550 5.1.1 no such user", "198.18.0.1"}};
  const std::string originals[] = {
      "From: a@b\nSubject: lf only\n\nsecret body\n",                 // bare LF line ends
      "From: a@b\r\nSubject: no blank line\r\nsecret body\r\n",       // a body line without the empty line
      "From: a@b\r\nSubject: folded\r\n\tstill subject\r\n\r\nsecret body",
      "From: a@b\r\nX: \rsecret body\r\n\r\n",                       // bare CR inside a field
  };
  for (const std::string& o : originals) {
    const std::string d = build_dsn(m, failed, span_of(o), "mx.lab.test", 1700000500, 44);
    expect_clean_lines(d);
    EXPECT_NE(d.find("Content-Type: text/rfc822-headers\r\n\r\nFrom: a@b\r\n"), std::string::npos) << d;
    EXPECT_FALSE(has_line_starting(d, "secret body")) << d;
    EXPECT_EQ(d.find("message/rfc822"), std::string::npos);
  }
  const std::string folded = build_dsn(m, failed, span_of(originals[2]), "mx.lab.test", 1700000500, 44);
  EXPECT_NE(folded.find("Subject: folded\r\n\tstill subject\r\n"), std::string::npos);
  // A header field named like the DSN's closing boundary (a field name may hold '-', RFC 5322
  // 3.6.8) does not end the part early: the boundary changes.
  const std::string clash = "From: a@b\r\n--mxgate-dsn-45--: x\r\n\r\nbody\r\n";
  const std::string c = build_dsn(m, failed, span_of(clash), "mx.lab.test", 1700000500, 45);
  EXPECT_NE(c.find("\r\n--mxgate-dsn-45--: x\r\n"), std::string::npos) << c;
  const size_t b = c.find("boundary=\"");
  ASSERT_NE(b, std::string::npos);
  const std::string boundary = c.substr(b + 10, c.find('"', b + 10) - b - 10);
  EXPECT_EQ(clash.find(boundary), std::string::npos) << boundary;
  EXPECT_NE(c.find("\r\n--" + boundary + "--\r\n"), std::string::npos);
}

}  // namespace
}  // namespace mx::dp
