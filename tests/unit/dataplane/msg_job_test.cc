// tests/unit/dataplane/msg_job_test.cc — the message store's memory accounting and the relayed
// form of a message (forged verdict headers left out, tag headers and subject prefix added)
// made of ranges of the store, never a copy.
#include "dataplane/msg_job.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/mime_parser.h"

namespace mx::dp {
namespace {

// The MIME parser's index of the message's header section, as the scan thread makes it.
struct IndexSink final : scan::MimeSink {
  scan::HeaderIndex index;
  void on_part_begin(const scan::PartInfo& part) override {
    if (part.id == 0) scan::index_header(part, index);
  }
};

scan::HeaderIndex parse_index(const std::string& msg, size_t chunk = 7) {
  IndexSink sink;
  scan::MimeParser parser(sink);
  for (size_t i = 0; i < msg.size(); i += chunk)
    parser.feed(ByteSpan(reinterpret_cast<const uint8_t*>(msg.data()) + i, std::min(chunk, msg.size() - i)));
  parser.finish();
  return sink.index;
}

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

// The relayed form made both ways: from the raw walk (an unscanned job) and from the parser's
// index (a scanned one); they must agree.
std::string relayed(const std::string& msg, const std::vector<std::pair<std::string, std::string>>& h = {},
                    const std::string& prefix = "") {
  const std::string walked = flat(make_out_message(job_with(msg), h, prefix)->parts);
  auto j = job_with(msg);
  j->scanned = true;
  j->header = parse_index(msg);
  const std::string indexed = flat(make_out_message(std::move(j), h, prefix)->parts);
  EXPECT_EQ(indexed, walked) << "index and walk disagree on: " << msg;
  return indexed;
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
  EXPECT_EQ(relayed(msg), flat(out->parts));
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
  EXPECT_EQ(relayed(msg), msg);
}

TEST(OutMessage, SubjectIsAddedWhenThereIsNone) {
  EXPECT_EQ(relayed("From: a@x.test\r\n\r\nbody\r\n", {}, "[SPAM]"),
            "Subject: [SPAM]\r\nFrom: a@x.test\r\n\r\nbody\r\n");
}

TEST(OutMessage, MessageWithoutBodyOrFinalNewline) {
  auto out = make_out_message(job_with("Subject: x\r\nX-Mxgate-A: 1"), {}, "");
  EXPECT_EQ(flat(out->parts), "Subject: x\r\nX-Mxgate-A: 1");  // an unterminated last line is body, kept
  auto empty = make_out_message(job_with(""), {}, "");
  EXPECT_EQ(flat(empty->parts), "");
}

// The prefix is found with blanks before the colon, and is followed by a blank.
TEST(OutMessage, SubjectPrefixSpacing) {
  EXPECT_EQ(relayed("Subject:Hello\r\n\r\nb\r\n", {}, "[SPAM]"), "Subject: [SPAM] Hello\r\n\r\nb\r\n");
  EXPECT_EQ(relayed("Subject : Hello\r\n\r\nb\r\n", {}, "[SPAM]"), "Subject : [SPAM] Hello\r\n\r\nb\r\n");
  EXPECT_EQ(relayed("Subject:\r\n\r\nb\r\n", {}, "[SPAM]"), "Subject: [SPAM]\r\n\r\nb\r\n");
  EXPECT_EQ(relayed("Subjects: no\r\n\r\nb\r\n", {}, "[S]"), "Subject: [S]\r\nSubjects: no\r\n\r\nb\r\n");
}

// The parser's index is what a scanned job uses (the header is not walked again): an index
// that names a field as ours makes it go, and one that is not complete is not trusted.
TEST(OutMessage, ScannedJobsUseTheParsersIndex) {
  const std::string msg = "A: 1\r\nB: 2\r\nSubject: s\r\n\r\nbody\r\n";
  scan::HeaderIndex h = parse_index(msg);
  ASSERT_TRUE(h.complete);
  ASSERT_TRUE(h.has_subject);
  EXPECT_EQ(h.subject_value, msg.find("Subject:") + 8);
  EXPECT_EQ(h.subject, "s");
  h.own.emplace_back(6, 12);  // "B: 2\r\n"
  auto j = job_with(msg);
  j->scanned = true;
  j->header = h;
  EXPECT_EQ(flat(make_out_message(std::move(j), {}, "")->parts), "A: 1\r\nSubject: s\r\n\r\nbody\r\n");
  h.complete = false;
  auto k = job_with(msg);
  k->scanned = true;
  k->header = h;
  EXPECT_EQ(flat(make_out_message(std::move(k), {}, "")->parts), msg) << "an incomplete index falls back to the walk";
  // Out-of-range offsets are not trusted either.
  scan::HeaderIndex bad = parse_index(msg);
  bad.own.emplace_back(0, msg.size() + 10);
  auto b = job_with(msg);
  b->scanned = true;
  b->header = bad;
  EXPECT_EQ(flat(make_out_message(std::move(b), {}, "")->parts), msg);
}

// Where the parser cannot vouch for the header section, the index says so: a line that is not a
// field, a section without an end, too many fields.
TEST(OutMessage, IndexIsIncompleteWhereTheParserCouldNotReadTheHeader) {
  EXPECT_TRUE(parse_index("Subject: a\r\nX-Mxgate-A: 1\r\n\r\nb").complete);
  EXPECT_FALSE(parse_index("Subject: a\r\nnot a field\r\nX-Mxgate-A: 1\r\n\r\nb").complete);
  EXPECT_FALSE(parse_index("Subject: a\r\nX-Mxgate-A: 1\r\n").complete);
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "X-Pad: " + std::to_string(i) + "\r\n";
  many += "X-Mxgate-Verdict: clean\r\n\r\nbody\r\n";
  EXPECT_FALSE(parse_index(many).complete);
  EXPECT_EQ(relayed(many).find("X-Mxgate-Verdict"), std::string::npos) << "the walk still strips it";
  // Folded fields, LF-only lines, long lines: offsets cover whole fields.
  const std::string folded = "X-Mxgate-A: 1\n\tmore\nSubject: " + std::string(5000, 's') + "\nX-MXGATE-b : 2\r\n\r\nbody";
  const scan::HeaderIndex h = parse_index(folded, 3);
  ASSERT_TRUE(h.complete);
  ASSERT_EQ(h.own.size(), 2u);
  EXPECT_EQ(h.own[0], (std::pair<uint64_t, uint64_t>{0, 20}));
  EXPECT_EQ(folded.substr(h.own[1].first, h.own[1].second - h.own[1].first), "X-MXGATE-b : 2\r\n");
  EXPECT_EQ(relayed(folded, {}, "[S]"), "Subject: [S] " + std::string(5000, 's') + "\n\r\nbody");
}

}  // namespace
}  // namespace mx::dp
