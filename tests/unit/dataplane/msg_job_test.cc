// tests/unit/dataplane/msg_job_test.cc — the message store's memory accounting and the relayed
// form of a message (forged verdict headers left out, tag headers and subject prefix added)
// made of ranges of the store, never a copy.
#include "dataplane/msg_job.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::dp {
namespace {

std::unique_ptr<MsgJob> job_with(const std::string& msg, MemMeter* m = nullptr) {
  auto j = std::make_unique<MsgJob>(1 << 20, m);
  EXPECT_TRUE(j->store.append(ByteSpan(reinterpret_cast<const uint8_t*>(msg.data()), msg.size())));
  return j;
}

std::string flat(const ByteParts& p) {
  std::string s;
  for (const ByteSpan& b : p.parts()) s.append(reinterpret_cast<const char*>(b.data()), b.size());
  return s;
}

TEST(MessageStore, ChargesAndGivesBackItsMeter) {
  MemMeter m;
  m.limit = 100;
  {
    auto j = job_with(std::string(60, 'a'), &m);
    EXPECT_EQ(m.used.load(), 60u);
    EXPECT_FALSE(m.over());
    EXPECT_TRUE(j->store.append(ByteSpan(reinterpret_cast<const uint8_t*>("0123456789012345678901234567890123456789"), 40)));
    EXPECT_TRUE(m.over());
    j->store.release();
    EXPECT_EQ(m.used.load(), 0u) << "release gives the memory back at once";
    EXPECT_FALSE(j->store.append(ByteSpan(reinterpret_cast<const uint8_t*>("x"), 1)));
  }
  auto k = job_with("abc", &m);
  k.reset();
  EXPECT_EQ(m.used.load(), 0u) << "the destructor uncharges";
}

TEST(OutMessage, ForgedVerdictHeadersAreLeftOut) {
  const std::string msg =
      "X-Mxgate-Verdict: clean\r\nFrom: a@x.test\r\nx-mxgate-rules: none,\r\n\tfolded\r\nSubject: hi\r\n"
      "X-MXGATE-Score: 0\r\n\r\nbody X-Mxgate-Verdict: stays in the body\r\n";
  auto out = make_out_message(job_with(msg), {}, "");
  EXPECT_EQ(flat(out->parts), "From: a@x.test\r\nSubject: hi\r\n\r\nbody X-Mxgate-Verdict: stays in the body\r\n");
  EXPECT_TRUE(out->added.empty());
}

TEST(OutMessage, TagAddsHeadersAndPrefixesTheSubjectWithoutCopying) {
  const std::string msg = "From: a@x.test\r\nX-Mxgate-Verdict: clean\r\nSubject: buy now\r\n\r\nGTUBE\r\n";
  auto out = make_out_message(job_with(msg), {{"X-Mxgate-Verdict", "spam"}, {"X-Mxgate-Score", "1000"}}, "[SPAM]");
  EXPECT_EQ(flat(out->parts),
            "X-Mxgate-Verdict: spam\r\nX-Mxgate-Score: 1000\r\nFrom: a@x.test\r\nSubject: [SPAM] buy now\r\n\r\nGTUBE\r\n");
  // Every byte of the original message is a range of the store.
  const uint8_t* store = out->job->store.data();
  size_t from_store = 0;
  for (const ByteSpan& b : out->parts.parts())
    if (b.data() >= store && b.data() < store + out->job->store.size()) from_store += b.size();
  EXPECT_EQ(from_store, msg.size() - std::string("X-Mxgate-Verdict: clean\r\n").size());
}

// The empty line ends the header section even when the body's first line starts with a tab
// (found by fuzz_out_message: it was read as a continuation of the empty line).
TEST(OutMessage, TheEmptyLineEndsTheHeaderEvenBeforeATab) {
  const std::string msg = "Subject: a\r\n\r\n\tindented body\r\nX-Mxgate-Verdict: in the body\r\n";
  auto out = make_out_message(job_with(msg), {}, "");
  EXPECT_EQ(flat(out->parts), msg);
}

TEST(OutMessage, SubjectIsAddedWhenThereIsNone) {
  auto out = make_out_message(job_with("From: a@x.test\r\n\r\nbody\r\n"), {}, "[SPAM]");
  EXPECT_EQ(flat(out->parts), "Subject: [SPAM]\r\nFrom: a@x.test\r\n\r\nbody\r\n");
}

TEST(OutMessage, MessageWithoutBodyOrFinalNewline) {
  auto out = make_out_message(job_with("Subject: x\r\nX-Mxgate-A: 1"), {}, "");
  EXPECT_EQ(flat(out->parts), "Subject: x\r\nX-Mxgate-A: 1");  // an unterminated last line is body, kept
  auto empty = make_out_message(job_with(""), {}, "");
  EXPECT_EQ(flat(empty->parts), "");
}

}  // namespace
}  // namespace mx::dp
