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
  EXPECT_NE(f.find("Content-Type: message/rfc822\r\n\r\nFrom: alice"), std::string::npos);
  EXPECT_NE(f.find("secret body"), std::string::npos);
  EXPECT_NE(f.find("--mxgate-dsn-43--\r\n"), std::string::npos);
}

}  // namespace
}  // namespace mx::dp
