// tests/unit/smtp/server_test.cc — server behaviour that transcripts cannot show well: the
// bounded pipeline (backpressure while a decision is pending) and the session deadline.
#include "smtp/server.h"

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

class Deferring final : public ServerHandler {
 public:
  bool defer_rcpt = true;
  Decision on_rcpt(const Mailbox&, const RcptParams&) override { return defer_rcpt ? Decision::defer() : Decision::accept(); }
};

size_t feed(ServerSession& s, const std::string& in, uint64_t t = 2) {
  return s.feed(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()), in.size()), Tick{t});
}

TEST(ServerPipeline, HeldInputIsBoundedAndResumesInOrder) {
  ServerConfig cfg{"mx.test"};
  Deferring h;
  ServerSession s(cfg, h);
  s.start(Tick{1});
  feed(s, "EHLO c.example\r\n");
  s.consume_output(s.output().size());
  std::string pipelined = "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.test>\r\n";
  const int kNoops = 4000;  // 24 KB of pipelined commands behind the deferred RCPT
  for (int i = 0; i < kNoops; ++i) pipelined += "NOOP\r\n";
  size_t used = feed(s, pipelined);
  ASSERT_TRUE(s.awaiting_decision());
  EXPECT_LT(used, pipelined.size()) << "the session must stop taking input";
  EXPECT_LE(used, 60 + kMaxPipelineBytes) << "held input is bounded";
  EXPECT_EQ(std::string(s.output()), "250 2.1.0 Ok\r\n");  // nothing answered past the RCPT
  s.consume_output(s.output().size());
  h.defer_rcpt = false;
  s.resume(Decision::accept(), Tick{3});
  // The client reads its replies as it goes: the rest is taken in pieces as output drains.
  std::string out;
  std::string_view left = std::string_view(pipelined).substr(used);
  for (int round = 0; round < 1000 && !(left.empty() && s.output().empty()); ++round) {
    size_t n = feed(s, std::string(left), 4);
    left.remove_prefix(n);
    out += s.output();
    s.consume_output(s.output().size());
    s.process_buffered(Tick{4});
  }
  EXPECT_TRUE(left.empty());
  EXPECT_EQ(out.rfind("250 2.1.5 Ok\r\n", 0), 0u) << "the RCPT is answered first";
  size_t noops = 0;
  for (size_t p = 0; (p = out.find("250 2.0.0 Ok\r\n", p)) != std::string::npos; ++p) ++noops;
  EXPECT_EQ(noops, static_cast<size_t>(kNoops)) << "every pipelined command answered once, in order";
}

// A client that sends commands and never reads the replies (zero window): the session stops
// reading once kMaxOutputBacklog bytes of replies wait, so it holds a bounded amount.
TEST(ServerPipeline, UnreadRepliesStopTheInput) {
  ServerConfig cfg{"mx.test"};
  ServerHandler h;
  ServerSession s(cfg, h);
  s.start(Tick{1});
  feed(s, "EHLO c.example\r\n");
  std::string flood;
  for (int i = 0; i < 50000; ++i) flood += "HELP\r\n";
  size_t taken = 0;
  for (int i = 0; i < 100; ++i) taken += feed(s, flood.substr(taken), 2 + i);
  EXPECT_LT(taken, 2 * kMaxPipelineBytes + kMaxOutputBacklog) << "input stops while replies are unread";
  EXPECT_LT(s.output().size(), kMaxOutputBacklog + 64u) << "replies held are bounded";
  EXPECT_FALSE(s.wants_close());
  // Reading resumes the session where it stopped.
  const size_t before = s.output().size();
  s.consume_output(before);
  s.process_buffered(Tick{200});
  EXPECT_GT(s.output().size(), 0u);
}

// Past the soft error limit each error delays the next command by kErrorDelayNs; the hard limit
// disconnects. A relay tester's 16 refused probes fit under it.
TEST(ServerErrors, SoftLimitDelaysHardLimitCloses) {
  ServerConfig cfg{"mx.test"};
  ServerHandler h;
  ServerSession s(cfg, h);
  s.start(Tick{1});
  feed(s, "EHLO c.example\r\n");
  s.consume_output(s.output().size());
  uint64_t t = 10;
  for (uint32_t i = 0; i < kSoftErrorLimit + 1; ++i) feed(s, "BOGUS\r\n", t);
  EXPECT_TRUE(s.delayed());
  s.consume_output(s.output().size());
  feed(s, "NOOP\r\n", t);
  EXPECT_EQ(s.output().size(), 0u) << "the command after an error past the soft limit waits";
  s.tick(Tick{t + kErrorDelayNs / 2});
  EXPECT_EQ(s.output().size(), 0u);
  s.tick(Tick{t + kErrorDelayNs});
  EXPECT_EQ(std::string(s.output()), "250 2.0.0 Ok\r\n");
  s.consume_output(s.output().size());
  for (uint32_t i = kSoftErrorLimit + 1; i < kHardErrorLimit && !s.wants_close(); ++i) {
    t += 2 * kErrorDelayNs;
    s.tick(Tick{t});
    feed(s, "BOGUS\r\n", t);
  }
  EXPECT_TRUE(s.wants_close());
  EXPECT_NE(std::string(s.output()).find("421 4.7.0"), std::string::npos);
}

// "452 too many recipients" is flow control (RFC 5321 4.5.3.1.10): the client sends the rest in
// another transaction. It never counts toward the error limits.
TEST(ServerErrors, RecipientOverflowIsNotAnError) {
  ServerConfig cfg{"mx.test"};
  cfg.max_recipients = 100;
  ServerHandler h;
  ServerSession s(cfg, h);
  s.start(Tick{1});
  feed(s, "EHLO c.example\r\n");
  std::string in = "MAIL FROM:<a@example.net>\r\n";
  for (int i = 0; i < 115; ++i) in += "RCPT TO:<r" + std::to_string(i) + "@example.test>\r\n";
  in += "DATA\r\n";
  feed(s, in);
  feed(s, "hello\r\n.\r\n");
  std::string out(s.output());
  EXPECT_EQ(s.errors(), 0u);
  EXPECT_FALSE(s.wants_close());
  EXPECT_EQ(s.transaction().rcpts.size(), 0u) << "the transaction ended with its reply";
  EXPECT_NE(out.find("354 "), std::string::npos);
  EXPECT_NE(out.find("250 2.0.0 Ok: queued"), std::string::npos) << "the 100 accepted recipients get the message";
  EXPECT_EQ(out.find("421"), std::string::npos);
}

// Errors count "without delivering mail": a delivered message starts the count over.
TEST(ServerErrors, ADeliveredMessageResetsTheCount) {
  ServerConfig cfg{"mx.test"};
  ServerHandler h;
  ServerSession s(cfg, h);
  s.start(Tick{1});
  feed(s, "EHLO c.example\r\n");
  for (int i = 0; i < 5; ++i) feed(s, "BOGUS\r\n");
  EXPECT_EQ(s.errors(), 5u);
  feed(s, "MAIL FROM:<a@example.net>\r\n");
  feed(s, "RCPT TO:<b@example.test>\r\n");
  feed(s, "DATA\r\n");
  feed(s, "hi\r\n.\r\n");
  EXPECT_NE(std::string(s.output()).find("250 2.0.0 Ok: queued"), std::string::npos);
  EXPECT_EQ(s.errors(), 0u);
}

TEST(ServerDeadline, BusySessionsEndToo) {
  ServerConfig cfg{"mx.test"};
  cfg.session_deadline_ns = 100 * kNsPerSec;
  ServerHandler h;
  ServerSession s(cfg, h);
  s.start(Tick{0});
  for (uint64_t t = 1; t < 100; t += 10) {  // active every 10 s: never idle long enough
    feed(s, "NOOP\r\n", t * kNsPerSec);
    s.tick(Tick{t * kNsPerSec});
    ASSERT_FALSE(s.wants_close()) << t;
  }
  s.tick(Tick{100 * kNsPerSec});
  EXPECT_TRUE(s.wants_close());
  EXPECT_NE(std::string(s.output()).find("421 4.4.2"), std::string::npos);
}

}  // namespace
}  // namespace mx::smtp
