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
  size_t rest = feed(s, pipelined.substr(used), 4);
  EXPECT_EQ(rest, pipelined.size() - used);
  std::string out(s.output());
  EXPECT_EQ(out.rfind("250 2.1.5 Ok\r\n", 0), 0u) << "the RCPT is answered first";
  size_t noops = 0;
  for (size_t p = 0; (p = out.find("250 2.0.0 Ok\r\n", p)) != std::string::npos; ++p) ++noops;
  EXPECT_EQ(noops, static_cast<size_t>(kNoops)) << "every pipelined command answered once, in order";
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
