// tests/unit/smtp/client_test.cc — the client engine against scripted servers: multiline
// replies, per-recipient results, 4xx/5xx at each step, PIPELINING, CHUNKING, HELO fallback,
// 8BITMIME/SMTPUTF8/SIZE refusals, DSN parameters, timeouts, a dropped connection, malformed
// replies, and STARTTLS policies (stripped STARTTLS never leads to a message in clear).
#include "smtp/client.h"

#include <gtest/gtest.h>

#include "tests/unit/smtp/test_cert.h"

namespace mx::smtp {
namespace {

using Outcome = ClientResult::Outcome;

const char* kEhloPlain = "250-mx.down.test\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const char* kEhloPipe = "250-mx.down.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n";

class Scripted {
 public:
  explicit Scripted(ClientConfig cfg = {}, std::shared_ptr<const TlsClientContext> tls = nullptr)
      : session_(with_helo(std::move(cfg)), std::move(tls), msg) {}
  static ClientConfig with_helo(ClientConfig c) {
    c.helo_name = "relay.mxgate.test";
    return c;
  }
  // Sets the message (call before start()).
  void message(std::string from, std::vector<std::string> rcpts, std::string body) {
    msg.from = std::move(from);
    msg.rcpts.clear();
    for (auto& r : rcpts) msg.rcpts.push_back({std::move(r), {}});
    body_ = std::move(body);
    msg.body = ByteSpan(reinterpret_cast<const uint8_t*>(body_.data()), body_.size());
  }
  void start() { session_.start(Tick{now_}); }
  // The server says `s`; returns what the client sent in response.
  std::string server(const std::string& s) {
    session_.feed(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()), Tick{++now_});
    std::string out(session_.output());
    session_.consume_output(out.size());
    sent += out;
    return out;
  }
  ClientSession& session() { return session_; }
  const ClientResult& result() const { return session_.result(); }
  ClientMessage msg;
  std::string sent;
  uint64_t now_ = 1;

 private:
  std::string body_;
  ClientSession session_;
};

TEST(Client, OneCommandAtATimeWithPerRecipientResults) {
  Scripted s;
  s.message("alice@example.net", {"bob@example.test", "nobody@example.test", "carol@example.test"},
            "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
  s.start();
  EXPECT_EQ(s.server("220 mx.down.test ESMTP\r\n"), "EHLO relay.mxgate.test\r\n");
  EXPECT_EQ(s.server(kEhloPlain), "MAIL FROM:<alice@example.net> SIZE=35\r\n");
  EXPECT_EQ(s.server("250 2.1.0 Ok\r\n"), "RCPT TO:<bob@example.test>\r\n");
  EXPECT_EQ(s.server("250 2.1.5 Ok\r\n"), "RCPT TO:<nobody@example.test>\r\n");
  EXPECT_EQ(s.server("550-5.1.1 no such user\r\n550 5.1.1 really\r\n"), "RCPT TO:<carol@example.test>\r\n");
  EXPECT_EQ(s.server("250 2.1.5 Ok\r\n"), "DATA\r\n");
  EXPECT_EQ(s.server("354 go\r\n"), "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kPending);
  EXPECT_EQ(s.server("250 2.0.0 queued as X\r\n"), "QUIT\r\n");
  const ClientResult& r = s.result();
  EXPECT_EQ(r.outcome, Outcome::kDelivered);
  EXPECT_EQ(r.reply.code, 250);
  EXPECT_EQ(r.reply.enhanced, "2.0.0");
  EXPECT_EQ(r.reply.text, "queued as X");
  ASSERT_EQ(r.rcpt_replies.size(), 3u);
  EXPECT_TRUE(r.accepted(0));
  EXPECT_FALSE(r.accepted(1));
  EXPECT_EQ(r.rcpt_replies[1].code, 550);
  EXPECT_EQ(r.rcpt_replies[1].enhanced, "5.1.1");
  EXPECT_TRUE(r.accepted(2));
  s.server("221 bye\r\n");
  EXPECT_TRUE(s.session().wants_close());
}

// A recipient check (verify_only): MAIL and RCPT, then QUIT — never DATA, whatever the server
// offers; the outcome is the RCPT's answer.
TEST(Client, VerifyOnlyAsksForTheRecipientAndQuits) {
  ClientConfig cfg;
  cfg.verify_only = true;
  {  // without PIPELINING: one command at a time
    Scripted ok(cfg);
    ok.message("a@example.net", {"bob@example.test"}, "");
    ok.start();
    ok.server("220 hi\r\n");
    EXPECT_EQ(ok.server(kEhloPlain), "MAIL FROM:<a@example.net> SIZE=0\r\n");
    EXPECT_EQ(ok.server("250 2.1.0 ok\r\n"), "RCPT TO:<bob@example.test>\r\n");
    EXPECT_EQ(ok.server("250 2.1.5 ok\r\n"), "QUIT\r\n");
    EXPECT_EQ(ok.result().outcome, Outcome::kDelivered);
  }
  {  // with PIPELINING: MAIL and RCPT together, and still no DATA behind them
    Scripted ok(cfg);
    ok.message("a@example.net", {"bob@example.test"}, "");
    ok.start();
    ok.server("220 hi\r\n");
    EXPECT_EQ(ok.server(kEhloPipe), "MAIL FROM:<a@example.net> SIZE=0\r\nRCPT TO:<bob@example.test>\r\n");
    EXPECT_EQ(ok.server("250 2.1.0 ok\r\n250 2.1.5 ok\r\n"), "QUIT\r\n");
    EXPECT_EQ(ok.result().outcome, Outcome::kDelivered);
  }
  Scripted no(cfg);
  no.message("a@example.net", {"nobody@example.test"}, "");
  no.start();
  no.server("220 hi\r\n");
  no.server(kEhloPlain);
  no.server("250 2.1.0 ok\r\n");
  EXPECT_EQ(no.server("550 5.1.1 no such user\r\n"), "QUIT\r\n");
  EXPECT_EQ(no.result().outcome, Outcome::kPermFail);
  EXPECT_EQ(no.result().stage, "rcpt");
  EXPECT_EQ(no.result().rcpt_replies.at(0).code, 550);
  EXPECT_EQ(no.sent.find("DATA"), std::string::npos);
}

TEST(Client, PipelinesMailRcptsAndDataWhenOffered) {
  Scripted s;
  s.message("", {"bob@example.test", "x@example.test"}, "x\r\n");
  s.msg.params.ret = DsnRet::kHdrs;
  s.msg.params.envid = "QQ+2B1";
  s.msg.rcpts[0].params.notify = kNotifySuccess | kNotifyFailure;
  s.msg.rcpts[0].params.orcpt = "rfc822;bob@example.test";
  s.start();
  s.server("220 hi\r\n");
  EXPECT_EQ(s.server(kEhloPipe),
            "MAIL FROM:<> SIZE=3 RET=HDRS ENVID=QQ+2B1\r\n"
            "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test\r\n"
            "RCPT TO:<x@example.test>\r\nDATA\r\n");
  EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n451 4.3.0 later\r\n354 go\r\n"), "x\r\n.\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kDelivered);
  EXPECT_EQ(s.result().rcpt_replies[1].code, 451);
}

TEST(Client, AllRecipientsRefusedWhilePipelinedEndsTheDataWithALoneDot) {
  Scripted s;
  s.message("a@example.net", {"b@example.test"}, "body\r\n");
  s.start();
  s.server("220 hi\r\n");
  s.server(kEhloPipe);
  // RFC 2920: the server may still answer 354 to the pipelined DATA; the client ends it at once.
  EXPECT_EQ(s.server("250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n"), ".\r\n");
  EXPECT_EQ(s.server("554 5.5.1 no valid recipients\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kPermFail);
  EXPECT_EQ(s.result().reply.code, 550);
  EXPECT_EQ(s.result().stage, "rcpt");
  EXPECT_EQ(s.sent.find("body"), std::string::npos) << "the message was sent to nobody";
}

TEST(Client, ChunkingSendsBdatWithoutDotStuffing) {
  ClientConfig cfg;
  cfg.bdat_chunk = 10;
  Scripted s(cfg);
  s.message("a@example.net", {"b@example.test"}, ".a\r\n.b\r\nccccccc\r\n");  // 17 bytes
  s.start();
  s.server("220 hi\r\n");
  EXPECT_EQ(s.server("250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.test>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n"), "BDAT 10\r\n.a\r\n.b\r\ncc" "BDAT 7 LAST\r\nccccc\r\n");
  EXPECT_EQ(s.server("250 2.0.0 chunk\r\n250 2.0.0 done\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kDelivered);
  EXPECT_EQ(s.result().reply.text, "done");
}

TEST(Client, FallsBackToHeloAndRefusesEightBitWithout8BitMime) {
  Scripted s;
  s.message("a@example.net", {"b@example.test"}, "caf\xc3\xa9\r\n");
  s.start();
  s.server("220 old server\r\n");
  EXPECT_EQ(s.server("502 5.5.2 what?\r\n"), "HELO relay.mxgate.test\r\n");
  EXPECT_EQ(s.server("250 old.example\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kPermFail);
  EXPECT_EQ(s.result().reply.enhanced, "5.6.3");
  EXPECT_EQ(s.sent.find("MAIL"), std::string::npos);
}

TEST(Client, SevenBitMessageGoesThroughHelo) {
  Scripted s;
  s.message("a@example.net", {"b@example.test"}, "plain\r\n");
  s.start();
  s.server("220 old server\r\n");
  s.server("500 unrecognised\r\n");
  EXPECT_EQ(s.server("250 old.example\r\n"), "MAIL FROM:<a@example.net>\r\n");
}

TEST(Client, RefusesWhatTheServerCannotTake) {
  {
    Scripted s;
    s.message("j\xc3\xb6rg@example.net", {"b@example.test"}, "x\r\n");
    s.msg.params.smtputf8 = true;
    s.start();
    s.server("220 hi\r\n");
    s.server(kEhloPlain);  // no SMTPUTF8
    EXPECT_EQ(s.result().outcome, Outcome::kPermFail);
    EXPECT_EQ(s.result().reply.enhanced, "5.6.7");
  }
  {
    Scripted s;
    s.message("a@example.net", {"b@example.test"}, std::string(200000, 'x'));
    s.start();
    s.server("220 hi\r\n");
    s.server(kEhloPlain);  // SIZE 100000
    EXPECT_EQ(s.result().outcome, Outcome::kPermFail);
    EXPECT_EQ(s.result().reply.code, 552);
    EXPECT_EQ(s.sent.find("MAIL"), std::string::npos);
  }
}

struct StepFailure {
  const char* name;
  std::vector<std::string> replies;  // server replies in order, the last one fails
  Outcome outcome;
  const char* stage;
};

class ClientFailures : public ::testing::TestWithParam<StepFailure> {};

TEST_P(ClientFailures, FailAtEachStep) {
  Scripted s;
  s.message("a@example.net", {"b@example.test"}, "x\r\n");
  s.start();
  for (const std::string& r : GetParam().replies) s.server(r);
  EXPECT_EQ(s.result().outcome, GetParam().outcome);
  EXPECT_EQ(s.result().stage, GetParam().stage);
  EXPECT_NE(s.sent.rfind("QUIT\r\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, ClientFailures,
    ::testing::Values(
        StepFailure{"greeting4xx", {"421 busy\r\n"}, Outcome::kTempFail, "connect"},
        StepFailure{"greeting5xx", {"554 go away\r\n"}, Outcome::kPermFail, "connect"},
        StepFailure{"ehlo4xx", {"220 hi\r\n", "421 4.3.2 shutting down\r\n"}, Outcome::kTempFail, "ehlo"},
        StepFailure{"mail4xx", {"220 hi\r\n", kEhloPlain, "451 4.3.0 try later\r\n"}, Outcome::kTempFail, "mail"},
        StepFailure{"mail5xx", {"220 hi\r\n", kEhloPlain, "553 5.1.8 bad sender\r\n"}, Outcome::kPermFail, "mail"},
        StepFailure{"rcpt4xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "450 4.2.0 mailbox busy\r\n"}, Outcome::kTempFail, "rcpt"},
        StepFailure{"rcpt5xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "550 5.1.1 unknown\r\n"}, Outcome::kPermFail, "rcpt"},
        StepFailure{"data4xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "250 ok\r\n", "451 4.3.0 no\r\n"}, Outcome::kTempFail, "data"},
        StepFailure{"data5xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "250 ok\r\n", "554 5.3.0 no\r\n"}, Outcome::kPermFail, "data"},
        StepFailure{"dot4xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "452 4.3.1 full\r\n"}, Outcome::kTempFail, "body"},
        StepFailure{"dot5xx", {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "554 5.7.1 spam\r\n"}, Outcome::kPermFail, "body"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(Client, MalformedRepliesAreATemporaryFailure) {
  for (const char* bad : {"hello\r\n", "2500 x\r\n", "25\r\n", "250-a\r\n251 b\r\n", "650 x\r\n"}) {
    Scripted s;
    s.message("a@example.net", {"b@example.test"}, "x\r\n");
    s.start();
    s.server(bad);
    EXPECT_EQ(s.result().outcome, Outcome::kTempFail) << bad;
    EXPECT_TRUE(s.session().wants_close()) << bad;
  }
  Scripted s;
  s.message("a@example.net", {"b@example.test"}, "x\r\n");
  s.start();
  s.server(std::string(kMaxReplyLine + 10, '2'));  // no line end, too long
  EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
}

TEST(Client, TimeoutsAndDroppedConnections) {
  {
    Scripted s;
    s.message("a@example.net", {"b@example.test"}, "x\r\n");
    s.start();
    s.session().tick(Tick{1 + kClientGreetingTimeoutNs - 1});
    EXPECT_EQ(s.result().outcome, Outcome::kPending);
    s.session().tick(Tick{1 + kClientGreetingTimeoutNs});
    EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
    EXPECT_EQ(s.result().reply.enhanced, "4.4.2");
  }
  {
    // The server drops the connection after the final dot: the message may or may not have
    // arrived, so it is a temporary failure (kept and retried), never a delivery.
    Scripted s;
    s.message("a@example.net", {"b@example.test"}, "x\r\n");
    s.start();
    for (const char* r : {"220 hi\r\n", kEhloPlain, "250 ok\r\n", "250 ok\r\n", "354 go\r\n"}) s.server(r);
    s.session().on_closed(Tick{100});
    EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
    EXPECT_EQ(s.result().stage, "body");
  }
}

TEST(Client, RequiredTlsNeverSendsTheMessageInClear) {
  auto ctx = TlsClientContext::create();
  ASSERT_TRUE(ctx) << ctx.error().message;
  for (TlsPolicy policy : {TlsPolicy::kRequired, TlsPolicy::kRequiredVerify}) {
    ClientConfig cfg;
    cfg.tls = policy;
    {
      Scripted s(cfg, *ctx);  // STARTTLS stripped from the EHLO reply (a downgrade attack)
      s.message("a@example.net", {"b@example.test"}, "secret\r\n");
      s.start();
      s.server("220 hi\r\n");
      EXPECT_EQ(s.server(kEhloPipe), "QUIT\r\n");
      EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
      EXPECT_EQ(s.result().reply.enhanced, "4.7.10");
      EXPECT_EQ(s.sent.find("MAIL"), std::string::npos);
      EXPECT_EQ(s.sent.find("secret"), std::string::npos);
    }
    {
      Scripted s(cfg, *ctx);  // offered, then refused
      s.message("a@example.net", {"b@example.test"}, "secret\r\n");
      s.start();
      s.server("220 hi\r\n");
      EXPECT_EQ(s.server("250-x\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
      EXPECT_EQ(s.server("454 4.7.0 TLS not available\r\n"), "QUIT\r\n");
      EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
      EXPECT_EQ(s.sent.find("MAIL"), std::string::npos);
    }
  }
}

TEST(Client, OpportunisticTlsContinuesInClearWhenNotOffered) {
  auto ctx = TlsClientContext::create();
  ASSERT_TRUE(ctx);
  Scripted s(ClientConfig{}, *ctx);
  s.message("a@example.net", {"b@example.test"}, "x\r\n");
  s.start();
  s.server("220 hi\r\n");
  EXPECT_EQ(s.server(kEhloPlain).rfind("MAIL FROM:", 0), 0u);
}

// A real TLS server side (smtp::TlsSession) behind a scripted SMTP server.
TEST(Client, StartTlsThenTransactionAndInjectionAfter220IsIgnored) {
  auto sctx = TlsServerContext::load(test::test_cert().cert, test::test_cert().key);
  ASSERT_TRUE(sctx) << sctx.error().message;
  auto cctx = TlsClientContext::create(test::test_cert().cert.string());  // trusts the test cert
  ASSERT_TRUE(cctx) << cctx.error().message;
  ClientConfig cfg;
  cfg.tls = TlsPolicy::kRequiredVerify;
  cfg.server_name = "mx.test";
  Scripted s(cfg, *cctx);
  s.message("a@example.net", {"b@example.test"}, "over tls\r\n");
  s.start();
  s.server("220 hi\r\n");
  EXPECT_EQ(s.server("250-x\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  // A man in the middle appends a reply after the 220: it must be thrown away.
  std::string hello = s.server("220 2.0.0 go ahead\r\n250 2.1.0 injected\r\n");
  ASSERT_FALSE(hello.empty()) << "no ClientHello";
  TlsSession server(**sctx);
  std::string plain;
  auto pump = [&](std::string client_bytes) {
    server.input(ByteSpan(reinterpret_cast<const uint8_t*>(client_bytes.data()), client_bytes.size()), plain);
    std::string back;
    server.drain(back);
    return s.server(back);
  };
  std::string c = pump(hello);
  for (int i = 0; i < 5 && server.status() != TlsSession::Status::kReady; ++i) c = pump(c);
  ASSERT_EQ(server.status(), TlsSession::Status::kReady) << server.error();
  // Whatever the client sent last, it is now EHLO inside TLS (decrypted by the server side).
  if (!c.empty()) pump(c);
  EXPECT_EQ(plain, "EHLO relay.mxgate.test\r\n");
  EXPECT_TRUE(s.result().tls);
  EXPECT_EQ(s.result().tls_info.sni, "mx.test");
  plain.clear();
  auto say = [&](const std::string& text) {
    server.write(text);
    std::string back;
    server.drain(back);
    std::string cipher = s.server(back);
    server.input(ByteSpan(reinterpret_cast<const uint8_t*>(cipher.data()), cipher.size()), plain);
    std::string out = plain;
    plain.clear();
    return out;
  };
  EXPECT_EQ(say("250-x\r\n250 8BITMIME\r\n"), "MAIL FROM:<a@example.net>\r\n");
  EXPECT_EQ(say("250 ok\r\n"), "RCPT TO:<b@example.test>\r\n");
  EXPECT_EQ(say("250 ok\r\n"), "DATA\r\n");
  EXPECT_EQ(say("354 go\r\n"), "over tls\r\n.\r\n");
  EXPECT_EQ(say("250 done\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.result().outcome, Outcome::kDelivered);
  EXPECT_EQ(s.sent.find("over tls"), std::string::npos) << "the body never crossed in clear";
}

TEST(Client, VerificationFailureIsATemporaryFailure) {
  auto sctx = TlsServerContext::load(test::test_cert().cert, test::test_cert().key);
  ASSERT_TRUE(sctx);
  auto cctx = TlsClientContext::create();  // system store: does not trust the test cert
  ASSERT_TRUE(cctx);
  ClientConfig cfg;
  cfg.tls = TlsPolicy::kRequiredVerify;
  cfg.server_name = "mx.test";
  Scripted s(cfg, *cctx);
  s.message("a@example.net", {"b@example.test"}, "secret\r\n");
  s.start();
  s.server("220 hi\r\n");
  s.server("250-x\r\n250 STARTTLS\r\n");
  std::string c = s.server("220 go ahead\r\n");
  TlsSession server(**sctx);
  std::string plain;
  for (int i = 0; i < 5 && !c.empty() && s.result().outcome == Outcome::kPending; ++i) {
    server.input(ByteSpan(reinterpret_cast<const uint8_t*>(c.data()), c.size()), plain);
    std::string back;
    server.drain(back);
    c = s.server(back);
  }
  EXPECT_EQ(s.result().outcome, Outcome::kTempFail);
  EXPECT_EQ(s.result().stage, "tls");
  EXPECT_TRUE(plain.empty());
}

// Runs a STARTTLS handshake against the test certificate (CN/SAN mx.test) with `name` as the
// route's TLS name; returns the client's result and the SNI the server saw.
struct NameCase {
  ClientResult result;
  std::string sni;
};
NameCase handshake_with_name(const std::string& name, TlsPolicy policy) {
  auto sctx = TlsServerContext::load(test::test_cert().cert, test::test_cert().key);
  auto cctx = TlsClientContext::create(test::test_cert().cert.string());  // trusts the test cert
  ClientConfig cfg;
  cfg.tls = policy;
  cfg.server_name = name;
  Scripted s(cfg, *cctx);
  s.message("a@example.net", {"b@example.test"}, "secret\r\n");
  s.start();
  s.server("220 hi\r\n");
  s.server("250-x\r\n250 STARTTLS\r\n");
  std::string c = s.server("220 go ahead\r\n");
  TlsSession server(**sctx);
  std::string plain;
  for (int i = 0; i < 5 && !c.empty() && server.status() != TlsSession::Status::kReady; ++i) {
    server.input(ByteSpan(reinterpret_cast<const uint8_t*>(c.data()), c.size()), plain);
    std::string back;
    server.drain(back);
    c = s.server(back);
  }
  if (!c.empty() && server.status() == TlsSession::Status::kReady)
    server.input(ByteSpan(reinterpret_cast<const uint8_t*>(c.data()), c.size()), plain);
  return {s.result(), server.status() == TlsSession::Status::kReady ? server.info().sni : std::string()};
}

// required-verify checks the route's TLS name (the MX host name): the right name passes, a
// wrong one fails, an empty one fails before anything is sent; an address literal is never
// sent as SNI (RFC 6066 3) and must match an IP SAN (the test certificate has none).
TEST(Client, RequiredVerifyChecksTheRoutesTlsName) {
  NameCase ok = handshake_with_name("mx.test", TlsPolicy::kRequiredVerify);
  EXPECT_EQ(ok.result.outcome, Outcome::kPending) << ok.result.reply.text;  // handshake done, EHLO sent
  EXPECT_EQ(ok.sni, "mx.test");
  NameCase wrong = handshake_with_name("other.test", TlsPolicy::kRequiredVerify);
  EXPECT_EQ(wrong.result.outcome, Outcome::kTempFail);
  EXPECT_EQ(wrong.result.stage, "tls");
  NameCase none = handshake_with_name("", TlsPolicy::kRequiredVerify);
  EXPECT_EQ(none.result.outcome, Outcome::kTempFail);
  EXPECT_NE(none.result.reply.text.find("no TLS name"), std::string::npos) << none.result.reply.text;
  NameCase ip = handshake_with_name("198.18.0.1", TlsPolicy::kRequiredVerify);
  EXPECT_EQ(ip.result.outcome, Outcome::kTempFail) << "an IP literal is checked against IP SANs";
  NameCase ip_plain = handshake_with_name("198.18.0.1", TlsPolicy::kRequired);
  EXPECT_EQ(ip_plain.result.outcome, Outcome::kPending);
  EXPECT_EQ(ip_plain.sni, "") << "no SNI for an address literal";
}

}  // namespace
}  // namespace mx::smtp
