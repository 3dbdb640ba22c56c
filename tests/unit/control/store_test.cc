// tests/unit/control/store_test.cc — the control store on a real SQLite file (or, under
// with_postgresql.sh, a real PostgreSQL server: test_store.h): migrations and
// their version, generations (commit, rollback as a new generation), nodes, the audit log,
// and that everything survives a reopen; the transaction log: exactly once, fields read as
// ipc::parse_json reads them, searches newest first against a brute-force answer.
#include "control/store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/ascii.h"
#include "control/store/db.h"
#include "ipc/json.h"
#include "test_store.h"

namespace mx::control {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mx_store_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = test_store(dir_ + "/control.db");
  }
  // SQL run on the store's database directly (what a test sets up behind the store's back).
  void raw(const char* sql) {
    auto db = Db::open(path_);
    ASSERT_TRUE(db) << db.error().message;
    auto r = (*db)->exec(sql);
    ASSERT_TRUE(r) << r.error().message;
  }
  void TearDown() override {
    for (const char* s : {"", "-wal", "-shm"}) ::unlink((path_ + s).c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(StoreTest, CreatesTheSchemaAtItsVersion) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
  EXPECT_FALSE((*s)->current());
  EXPECT_TRUE((*s)->list(10).empty());
}

TEST_F(StoreTest, GenerationsOnlyGrowAndRollbackRepeatsADocument) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  auto g1 = st.commit("doc one", "alice", "first", 2, 1);
  auto g2 = st.commit("doc two", "bob", "", 3, 0);
  ASSERT_TRUE(g1 && g2);
  EXPECT_EQ(*g1, 1u);
  EXPECT_EQ(*g2, 2u);
  auto cur = st.current();
  ASSERT_TRUE(cur);
  EXPECT_EQ(cur->gen, 2u);
  EXPECT_EQ(cur->document, "doc two");
  EXPECT_EQ(cur->tenants, 3u);
  auto one = st.get(1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->document, "doc one");
  EXPECT_EQ(one->actor, "alice");
  EXPECT_EQ(one->comment, "first");
  EXPECT_FALSE(st.get(7));
  auto g3 = st.commit(one->document, "carol", "undo", one->tenants, one->users, 1);
  ASSERT_TRUE(g3);
  EXPECT_EQ(*g3, 3u);
  EXPECT_EQ(st.current()->document, "doc one");
  EXPECT_EQ(st.current()->rollback_of, 1u);
  const auto l = st.list(2);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].gen, 3u);
  EXPECT_EQ(l[1].gen, 2u);
  EXPECT_TRUE(l[0].document.empty()) << "list() leaves documents out";
  // A rollback to a generation that does not exist breaks the foreign key: refused.
  auto bad = st.commit("x", "mallory", "", 0, 0, 99);
  ASSERT_FALSE(bad);
  EXPECT_EQ(st.current()->gen, 3u);
  const auto a = st.audit_log(10);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].action, "rollback");
  EXPECT_EQ(a[0].actor, "carol");
  EXPECT_EQ(a[0].object, "generation 3");
  EXPECT_NE(a[0].detail.find("generation 1"), std::string::npos);
  EXPECT_EQ(a[2].action, "commit");
  EXPECT_EQ(a[2].actor, "alice");
}

TEST_F(StoreTest, NodesReportConnectsAcksNacksAndGoing) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  st.node_connected("node-b", 0);
  st.node_connected("node-a", 4);
  st.node_acked("node-a", 5);
  st.node_nacked("node-b", 5, "tenant 'x': rules: line 3: bad regex");
  st.node_gone("node-b");
  auto n = st.nodes();
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].name, "node-a");
  EXPECT_EQ(n[0].state, "connected");
  EXPECT_EQ(n[0].generation, 5u);
  EXPECT_EQ(n[0].nacked, 0u);
  EXPECT_EQ(n[1].name, "node-b");
  EXPECT_EQ(n[1].state, "gone");
  EXPECT_EQ(n[1].generation, 0u);
  EXPECT_EQ(n[1].nacked, 5u);
  EXPECT_EQ(n[1].reason, "tenant 'x': rules: line 3: bad regex");
  EXPECT_EQ(st.audit_log(1)[0].action, "nack");
  // A reconnect keeps the node's row and reports its generation.
  st.node_connected("node-b", 4);
  EXPECT_EQ(st.nodes()[1].state, "connected");
  EXPECT_EQ(st.nodes()[1].generation, 4u);
  // Names from nodes are bounded.
  st.node_connected(std::string(500, 'n'), 1);
  for (const NodeState& x : st.nodes()) EXPECT_LE(x.name.size(), kMaxNodeName);
  // A reason that is not UTF-8 (or has a NUL) is still stored and audited: as it came on
  // SQLite, with U+FFFD for each bad byte on PostgreSQL (whose text must be UTF-8).
  const std::string bad = std::string("regex \xC3( and \xFF") + '\0' + "end";
  st.node_nacked("node-a", 6, bad);
  const std::string want = testing_postgresql() ? "regex \uFFFD( and \uFFFD\uFFFDend" : bad;
  for (const NodeState& x : st.nodes()) {
    if (x.name == "node-a") {
      EXPECT_EQ(x.reason, want);
    }
  }
  EXPECT_EQ(st.audit_log(1)[0].detail, want);
}

TEST_F(StoreTest, EverythingSurvivesAReopen) {
  {
    auto s = Store::open(path_);
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->commit("kept", "alice", "", 1, 1));
    (*s)->node_connected("n1", 1);
  }
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
  ASSERT_TRUE((*s)->current());
  EXPECT_EQ((*s)->current()->document, "kept");
  EXPECT_EQ((*s)->nodes().size(), 1u);
}

TEST_F(StoreTest, ANewerSchemaIsRefusedAndAnUnwritablePathNamed) {
  {
    auto s = Store::open(path_);
    ASSERT_TRUE(s);
  }
  raw("UPDATE schema_version SET version = 99;");
  auto s = Store::open(path_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("schema version 99 is newer"), std::string::npos) << s.error().message;
  if (testing_postgresql()) {
    auto wrong = Store::open("postgresql:///no_such_database?host=/nonexistent-dir&password=secret1");
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error().message.find("no_such_database"), std::string::npos) << wrong.error().message;
    EXPECT_EQ(wrong.error().message.find("secret1"), std::string::npos) << "a password is never shown";
  }
  auto nowhere = Store::open("/nonexistent-dir/x.db");
  ASSERT_FALSE(nowhere);
  EXPECT_NE(nowhere.error().message.find("/nonexistent-dir/x.db"), std::string::npos);
}

// Log records from nodes: keyed by (node, position), so a batch sent again adds nothing; the
// indexed fields answer searches; a line that is not JSON is kept (unindexed), never dropped.
TEST_F(StoreTest, LogBatchesAreStoredOnceAndSearchable) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  const std::string a =
      R"({"time":"2026-12-03T10:00:00.000Z","event":"message","tenant":"example","client_ip":"198.18.0.1","mail_from":"Alice@Sender.test","rcpts":["bob@example.test","Carol@Example.test"],"message_id":"<m1@x>","subject":"hi","class":"clean","action":"deliver"})";
  const std::string b =
      R"({"time":"2026-12-03T10:00:01.000Z","event":"message","tenant":"second","client_ip":"198.18.0.9","mail_from":"eve@evil.test","rcpts":["dave@second.test"],"message_id":"<m2@x>","subject":"buy","class":"spam","action":"quarantine"})";
  const std::string batch = a + "\n" + b + "\nnot json at all\n";
  auto added = st.add_log_batch("n1", 1000, batch);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(*added, 3u);
  auto again = st.add_log_batch("n1", 1000, batch);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u) << "a batch sent again adds nothing";
  auto other = st.add_log_batch("n2", 1000, a + "\n");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, 1u) << "the same position on another node is another record";
  EXPECT_EQ(st.log_count(), 4u);
  LogQuery q;
  q.sender = "alice@sender.TEST";
  auto r = st.search_log(q);
  ASSERT_EQ(r.size(), 2u) << "sender matched without regard to case, on both nodes";
  q = LogQuery{};
  q.rcpt = "carol@example.test";
  r = st.search_log(q);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].line, a);
  q = LogQuery{};
  q.tenant = "second";
  q.action = "quarantine";
  r = st.search_log(q);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, 1000u + a.size() + 1);
  EXPECT_EQ(r[0].message_id, "<m2@x>");
  q = LogQuery{};
  q.since = "2026-12-03T10:00:00.500Z";
  r = st.search_log(q);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].tenant, "second");
  q = LogQuery{};
  q.limit = 10;
  r = st.search_log(q);
  ASSERT_EQ(r.size(), 4u);
  bool unparsed = false;
  for (const LogRecord& x : r) unparsed |= x.event == "unparsed" && x.line == "not json at all";
  EXPECT_TRUE(unparsed);
}

// A file at schema version 1 (before log collection and policy objects) is migrated in place.
TEST_F(StoreTest, AnOlderSchemaIsMigrated) {
  if (testing_postgresql()) GTEST_SKIP() << "SQLite files of older versions only (PostgreSQL stores start at 5)";
  {
    auto s = Store::open(path_);
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->commit("kept across the migration", "alice", "", 1, 0));
  }
  raw("DROP TABLE policy_state; DROP TABLE tokens; DROP TABLE list_entries; DROP TABLE user_settings;"
      "DROP TABLE users; DROP TABLE domains; DROP TABLE tenant_settings; DROP TABLE tenants;"
      "DROP TABLE log_keys; DROP TABLE log_buckets; DROP TABLE log_records; UPDATE schema_version SET version = 1;");
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
  EXPECT_EQ((*s)->current()->document, "kept across the migration");
  ASSERT_TRUE((*s)->add_log_batch("n", 0, "{\"time\":\"t\"}\n"));
  EXPECT_EQ((*s)->log_count(), 1u);
}

// The fields of a record come from a fast scan of its line that must agree with ipc::parse_json
// + get_str on every line: escapes (in names too), duplicate names (the first wins, whatever its
// kind), recipients that are not strings, and lines that are not JSON (kept, "unparsed"); then
// a few thousand random mutations of a record.
TEST_F(StoreTest, LogFieldsAreWhatTheJsonParserReads) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  const std::string base =
      R"({"time":"2026-12-03T10:00:00.000Z","event":"message","tenant":"t1","client_ip":"198.18.0.1",)"
      R"("mail_from":"a@b.test","rcpts":["x@y.test","Z@Y.test"],"message_id":"<m@x>","subject":"s",)"
      R"("class":"clean","action":"deliver","size":12,"score":-0.5,"rules":[{"n":[1,2,{"k":null}]}],"tls":true})";
  std::vector<std::string> lines = {
      base,
      R"({"mail\u005ffrom":"esc\"aped\\\/\b\f\n\r\t@x","rcpts":["\u00e9@x","\ud83d\ude00@x",7,null,["n"]],"tenant":"\u0000"})",
      R"({"tenant":5,"tenant":"second","rcpts":"not a list","rcpts":["later@x"],"action":"a","action":"b"})",
      R"( {"time":"2026-12-03T10:00:00.000Z","size":1e3,"subject":"exponent: parse_json decides"} )",
      R"({"subject":"caf)" "\xc3\xa9" R"( \u2603","message_id":"<\ud800@x>"})",  // lone surrogate: not JSON
      R"({"subject":"bad utf-8 \xff"})",
      R"({"size":01})",
      R"({"a":1}x)",
      R"([{"tenant":"not an object at the top"}])",
      R"("a string")",
      R"({"deep":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]],"tenant":"deep"})",
      R"({"n":-0.25,"m":0,"t":[true,false,null],"o":{},"l":[],"tenant":"shapes"})",
      R"({"tenant":"x","size":NaN})",
      R"({"tenant":"x",})",
      "{\"tenant\":\"raw\tcontrol\"}",
      "{}",
  };
  std::mt19937_64 rng(7);
  const std::string alphabet = "{}[]\",:\\u0aZ-1e. \x80\xc3";
  for (int i = 0; i < 3000; ++i) {
    std::string m = base;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
      const size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0: m[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: m.erase(at, 1 + rng() % 4); break;
        default: m.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    if (m.find('\n') == std::string::npos && !m.empty()) lines.push_back(m);
  }
  std::string batch;
  std::vector<uint64_t> seqs;
  for (const std::string& l : lines) {
    seqs.push_back(batch.size());
    batch += l + "\n";
  }
  auto added = st.add_log_batch("n", 0, batch);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_EQ(*added, lines.size());
  LogQuery all;
  all.limit = lines.size();
  const auto got = st.search_log(all);
  ASSERT_EQ(got.size(), lines.size());
  size_t checked = 0, parsed = 0;
  for (const LogRecord& r : got) {
    const size_t i = static_cast<size_t>(std::find(seqs.begin(), seqs.end(), r.seq) - seqs.begin());
    ASSERT_LT(i, lines.size());
    ASSERT_EQ(r.line, lines[i]);
    const auto v = ipc::parse_json(lines[i]);
    static const ipc::JsonValue kNone;
    const ipc::JsonValue& j = v ? *v : kNone;
    std::string rcpts;
    if (const ipc::JsonValue* x = j.get("rcpts"))
      for (const ipc::JsonValue& y : x->items)
        if (y.kind == ipc::JsonValue::Kind::kString) rcpts += (rcpts.empty() ? "" : ",") + y.str;
    SCOPED_TRACE(lines[i]);
    EXPECT_EQ(r.event, v ? std::string(j.get_str("event")) : "unparsed");
    EXPECT_EQ(r.time, j.get_str("time"));
    EXPECT_EQ(r.tenant, j.get_str("tenant"));
    EXPECT_EQ(r.mail_from, j.get_str("mail_from"));
    EXPECT_EQ(r.rcpts, rcpts);
    EXPECT_EQ(r.message_id, j.get_str("message_id"));
    EXPECT_EQ(r.client_ip, j.get_str("client_ip"));
    EXPECT_EQ(r.cls, j.get_str("class"));
    EXPECT_EQ(r.action, j.get_str("action"));
    EXPECT_EQ(r.subject, j.get_str("subject"));
    ++checked;
    parsed += v ? 1 : 0;
  }
  EXPECT_EQ(checked, lines.size());
  EXPECT_GT(parsed, 100u) << "the mutations leave some lines JSON";
  EXPECT_LT(parsed, lines.size() - 100) << "and break others";
  // Decoded values are what the index holds.
  LogQuery q;
  q.sender = "ESC\"aped\\/\b\f\n\r\t@X";
  EXPECT_EQ(st.search_log(q).size(), 1u);
  q = LogQuery{};
  q.rcpt = "\xf0\x9f\x98\x80@x";
  EXPECT_EQ(st.search_log(q).size(), 1u);
  q = LogQuery{};
  q.tenant = std::string(1, '\0');
  EXPECT_EQ(st.search_log(q).size(), 1u);
  q = LogQuery{};
  q.tenant = "second";
  ASSERT_EQ(st.search_log(q).size(), 0u) << "the first \"tenant\" (a number) is the one read";
  q = LogQuery{};
  q.rcpt = "later@x";
  EXPECT_EQ(st.search_log(q).size(), 0u) << "the first \"rcpts\" is not a list";
  q = LogQuery{};
  q.action = "a";
  EXPECT_EQ(st.search_log(q).size(), 1u);
}

// Searches against a brute-force answer over records enough for several buckets of the key
// index, from two nodes, one of them sending old records late (a backlog after a reconnect),
// with ties in time: newest first by time, then node, then position descending.
TEST_F(StoreTest, LogSearchesAreNewestFirstLikeABruteForceSort) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  struct Rec {
    std::string node, time, tenant, from, rcpt, msgid, ip, action;
    uint64_t seq;
  };
  std::vector<Rec> all;
  std::mt19937_64 rng(11);
  constexpr int kRecords = 30000;
  std::string batch_a, batch_b;
  uint64_t batch_a_at = 0, batch_b_at = 0;
  auto flush = [&](const std::string& node, std::string& b, uint64_t& at) {
    if (b.empty()) return;
    auto r = st.add_log_batch(node, at, b);
    ASSERT_TRUE(r) << r.error().message;
    at += b.size();
    b.clear();
  };
  for (int i = 0; i < kRecords; ++i) {
    // Node b's first half arrives after everything else, with times from the start of the day.
    const bool b = i % 3 == 0;
    const int minute = b && i < kRecords / 2 ? i % 60 : 60 + i / 100;
    char t[64];
    // Three times a minute: many records share a time, so limits fall inside ties.
    std::snprintf(t, sizeof t, "2026-12-03T%02d:%02d:%02d.500Z", minute / 60 + 8, minute % 60,
                  static_cast<int>(rng() % 3) * 20);
    Rec r{b ? "b" : "a",
          t,
          "tenant" + std::to_string(rng() % 4),
          "Sender" + std::to_string(rng() % 300) + "@x.test",
          "rcpt" + std::to_string(rng() % 2000) + "@y.test",
          "<" + std::to_string(i) + "@m>",
          "10.0.0." + std::to_string(rng() % 50),
          rng() % 10 ? "deliver" : "reject",
          0};
    std::string line = R"({"time":")" + r.time + R"(","tenant":")" + r.tenant + R"(","mail_from":")" + r.from +
                       R"(","rcpts":[")" + r.rcpt + R"("],"message_id":")" + r.msgid + R"(","client_ip":")" + r.ip +
                       R"(","action":")" + r.action + R"("})";
    std::string& bt = b ? batch_b : batch_a;
    r.seq = (b ? batch_b_at : batch_a_at) + bt.size();  // a record's position: its offset in the node's stream
    bt += line + "\n";
    all.push_back(r);
    if (batch_a.size() > 200000) flush("a", batch_a, batch_a_at);
    if (batch_b.size() > 200000 && i >= kRecords / 2) flush("b", batch_b, batch_b_at);
  }
  flush("a", batch_a, batch_a_at);
  flush("b", batch_b, batch_b_at);
  ASSERT_EQ(st.log_count(), static_cast<uint64_t>(kRecords));
  std::sort(all.begin(), all.end(), [](const Rec& x, const Rec& y) {
    return std::tie(y.time, x.node, y.seq) < std::tie(x.time, y.node, x.seq);
  });
  auto check = [&](LogQuery q, auto pred) {
    std::vector<const Rec*> want;
    for (const Rec& r : all)
      if (pred(r) && want.size() < q.limit) want.push_back(&r);
    const auto got = st.search_log(q);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].node, want[i]->node) << i;
      ASSERT_EQ(got[i].seq, want[i]->seq) << i;
    }
  };
  for (const size_t limit : {size_t{1}, size_t{7}, size_t{100}, size_t{1000}}) {
    SCOPED_TRACE(limit);
    LogQuery q;
    q.limit = limit;
    check(q, [](const Rec&) { return true; });
    q.tenant = "tenant2";
    check(q, [](const Rec& r) { return r.tenant == "tenant2"; });
    q.action = "reject";
    check(q, [](const Rec& r) { return r.tenant == "tenant2" && r.action == "reject"; });
    q = LogQuery{};
    q.limit = limit;
    q.sender = "sender17@X.TEST";
    check(q, [](const Rec& r) { return r.from == "Sender17@x.test"; });
    q.until = "2026-12-03T09:00";
    check(q, [](const Rec& r) { return r.from == "Sender17@x.test" && r.time < "2026-12-03T09:00"; });
    q = LogQuery{};
    q.limit = limit;
    q.rcpt = "RCPT5@y.test";
    check(q, [](const Rec& r) { return r.rcpt == "rcpt5@y.test"; });
    q = LogQuery{};
    q.limit = limit;
    q.client_ip = "10.0.0.7";
    q.since = "2026-12-03T08:30:20.5Z";
    q.until = "2026-12-03T11:00:40.5+01:00";
    check(q, [](const Rec& r) {
      return r.ip == "10.0.0.7" && r.time >= "2026-12-03T08:30:20.500Z" && r.time < "2026-12-03T10:00:40.500Z";
    });
    q = LogQuery{};
    q.limit = limit;
    q.message_id = "<12345@m>";
    check(q, [](const Rec& r) { return r.msgid == "<12345@m>"; });
    q = LogQuery{};
    q.limit = limit;
    q.action = "reject";
    q.since = "2026-12-03T08:10";
    check(q, [](const Rec& r) { return r.action == "reject" && r.time >= "2026-12-03T08:10"; });
  }
}

// A search that has its limit's worth from a newer bucket of the key index must still read an
// older bucket whose newest record ties with the last one kept: node "a" ranks before node "b"
// at the same time. (Records 1..100 from "a"; filler up to a bucket boundary; then "b".)
TEST_F(StoreTest, LogSearchReadsAnOlderBucketThatTies) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  constexpr int kBoundary = 1 << 15;  // a bucket boundary for any bucket size up to this
  auto line = [](const char* time, const char* tenant) {
    return std::string(R"({"time":")") + time + R"(","tenant":")" + tenant + "\"}\n";
  };
  std::string a, filler, b;
  for (int i = 0; i < 100; ++i) a += line("2026-12-03T10:00:00.000Z", "t");
  for (int i = 100; i < kBoundary; ++i) filler += line("2026-12-03T09:00:00.000Z", "other");
  for (int i = 0; i < 4; ++i) b += line("2026-12-03T10:00:01.000Z", "t");
  for (int i = 0; i < 10; ++i) b += line("2026-12-03T10:00:00.000Z", "t");
  ASSERT_TRUE(st.add_log_batch("a", 0, a));
  ASSERT_TRUE(st.add_log_batch("c", 0, filler));
  ASSERT_TRUE(st.add_log_batch("b", 0, b));
  LogQuery q;
  q.tenant = "t";
  q.limit = 5;
  const auto r = st.search_log(q);
  ASSERT_EQ(r.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r[i].node, "b");
  EXPECT_EQ(r[4].node, "a");
  EXPECT_EQ(r[4].seq, a.size() - a.size() / 100) << "a's last record";
}

TEST_F(StoreTest, LogTimeBoundsTakeCommonFormsAndRefuseOthers) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  ASSERT_TRUE(st.add_log_batch("n", 0,
                               "{\"time\":\"2026-12-03T10:00:00.250Z\",\"tenant\":\"t\"}\n"
                               "{\"time\":\"2026-12-04T00:00:00.000Z\",\"tenant\":\"t\"}\n"
                               "{\"time\":\"not a time\",\"tenant\":\"t\"}\n"));
  auto count = [&](const char* since, const char* until) {
    LogQuery q;
    q.since = since;
    q.until = until;
    return st.search_log(q).size();
  };
  EXPECT_EQ(count("", ""), 3u);
  EXPECT_EQ(count("2026-12-03", ""), 2u) << "a record without a valid time is the oldest";
  EXPECT_EQ(count("", "2026-12-03"), 1u);
  EXPECT_EQ(count("2026-12-03T10:00:00.25Z", "2026-12-04"), 1u);
  EXPECT_EQ(count("2026-12-03T10:00:00.251Z", ""), 1u);
  EXPECT_EQ(count("2026-12-03T11:00:00.250+01:00", "2026-12-03T11:00:00.251+01:00"), 1u);
  EXPECT_EQ(count("2026-12-03 10", "2026-12-03T10:01"), 1u);
  EXPECT_EQ(count("2026-12", "2027"), 2u);
  EXPECT_EQ(count("yesterday", ""), 0u) << "a bound that is not a time matches nothing";
  EXPECT_EQ(count("", "2026-13-01"), 0u);
  EXPECT_EQ(count("2026-02-30", ""), 0u);
  EXPECT_EQ(count("2026-12-03T25:00", ""), 0u);
  LogQuery q;
  q.limit = 0;
  EXPECT_TRUE(st.search_log(q).empty());
}

// A recipient given twice (in two cases) is one record; senders and recipients match without
// regard to ASCII case; empty fields are not searchable ("" is no filter).
TEST_F(StoreTest, LogRecipientsAndSendersIgnoreCase) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  ASSERT_TRUE(st.add_log_batch(
      "n", 0,
      R"({"time":"2026-12-03T10:00:00.000Z","mail_from":"","rcpts":["Bob@X.test","bob@x.TEST","carol@x.test"]})"
      "\n"));
  LogQuery q;
  q.rcpt = "BOB@x.test";
  const auto r = st.search_log(q);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rcpts, "Bob@X.test,bob@x.TEST,carol@x.test");
  q.rcpt = "dave@x.test";
  EXPECT_TRUE(st.search_log(q).empty());
  EXPECT_EQ(st.log_count(), 1u);
}

// Retention: records older than their tenant's days (or the default) go, with their keys and
// their buckets' counts; the rest stay, searchable, and ingest goes on. Records come from two
// nodes, one sending old records late (bucket time spans overlap), with lines that are not JSON
// (no tenant, no time: the oldest, under the default). The purge runs in small steps.
TEST_F(StoreTest, LogRetentionRemovesExpiredRecordsAndTheirKeys) {
  auto s = Store::open(path_);
  ASSERT_TRUE(s);
  Store& st = **s;
  constexpr int64_t kDay = 86'400'000;
  const int64_t now = 1'796'299'200'000;  // 2026-12-03T12:00:00Z
  auto iso = [](int64_t ms) {
    const time_t t = static_cast<time_t>(ms / 1000);
    struct tm tm{};
    gmtime_r(&t, &tm);
    char b[96];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return std::string(b);
  };
  LogRetention keep;
  keep.default_days = 10;
  keep.tenant_days = {{"short", 2}, {"long", 30}};
  struct Rec {
    std::string node;
    uint64_t seq;
    int64_t time;
    std::string tenant, from;
    bool kept;
  };
  std::vector<Rec> all;
  std::mt19937_64 rng(5);
  const char* tenants[] = {"short", "long", "dflt", ""};
  std::string batch[2];
  uint64_t at[2] = {0, 0}, next[2] = {0, 0};
  auto flush = [&](int n) {
    if (batch[n].empty()) return;
    auto r = st.add_log_batch(n ? "b" : "a", at[n], batch[n]);
    ASSERT_TRUE(r) << r.error().message;
    at[n] = next[n];
    batch[n].clear();
  };
  constexpr int kRecords = 12000;
  for (int i = 0; i < kRecords; ++i) {
    const int n = i % 4 == 0;  // node b: a quarter, its first half 40..20 days old, sent last
    int64_t time = now - 40 * kDay + (i * (40 * kDay / kRecords));
    if (n && i < kRecords / 2) time = now - 40 * kDay + static_cast<int64_t>(rng() % (20 * kDay));
    Rec r{n ? "b" : "a", next[n], time, tenants[rng() % 4], "s" + std::to_string(rng() % 50) + "@x.test", false};
    std::string line;
    if (r.tenant.empty() && i % 8 == 3) {
      line = "not json " + std::to_string(i);  // no time: counts as the oldest
      r.time = 0;
      r.from.clear();
    } else {
      line = "{\"time\":\"" + iso(time) + "\",\"event\":\"message\",\"tenant\":\"" + r.tenant + "\",\"mail_from\":\"" +
             r.from + "\",\"rcpts\":[\"u" + std::to_string(i % 7) + "@d.test\"],\"message_id\":\"<m" +
             std::to_string(i) + ">\",\"client_ip\":\"198.18.0." + std::to_string(i % 200) + "\"}";
    }
    const auto own = keep.tenant_days.find(r.tenant);
    const int days = own != keep.tenant_days.end() ? own->second : keep.default_days;
    r.kept = r.time >= now - days * kDay;
    batch[n] += line + "\n";
    next[n] += line.size() + 1;
    all.push_back(r);
    if (n == 0 && batch[0].size() > 40000) flush(0);
    if (n == 1 && i >= kRecords / 2 && batch[1].size() > 40000) flush(1);
  }
  flush(0);
  flush(1);
  ASSERT_EQ(st.log_count(), static_cast<uint64_t>(kRecords));
  const auto expected_kept = static_cast<uint64_t>(std::count_if(all.begin(), all.end(), [](const Rec& r) { return r.kept; }));
  ASSERT_GT(expected_kept, 1000u);
  ASSERT_LT(expected_kept, static_cast<uint64_t>(kRecords) - 1000);

  LogPurgeCursor cursor;
  uint64_t removed = 0;
  int steps = 0;
  do {
    auto n = st.purge_log(keep, now, 777, cursor);
    ASSERT_TRUE(n) << n.error().message;
    removed += *n;
    ASSERT_LT(++steps, 100);
  } while (cursor.more);
  EXPECT_GT(steps, 3);
  EXPECT_EQ(removed, kRecords - expected_kept);
  EXPECT_EQ(st.log_count(), expected_kept);

  // Exactly the kept records remain.
  LogQuery every;
  every.limit = kRecords;
  std::vector<std::pair<std::string, uint64_t>> got, want;
  for (const LogRecord& r : st.search_log(every)) got.emplace_back(r.node, r.seq);
  for (const Rec& r : all)
    if (r.kept) want.emplace_back(r.node, r.seq);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  // No key is left of a removed record, and the buckets count what is left.
  {
    auto db = Db::open(path_);
    ASSERT_TRUE(db);
    Stmt orphans(**db, "SELECT count(*) FROM log_keys k WHERE NOT EXISTS (SELECT 1 FROM log_records r WHERE r.id = k.record);");
    ASSERT_EQ(orphans.step(), kStepRow);
    EXPECT_EQ(orphans.i64(0), 0);
    Stmt negative(**db, "SELECT count(*) FROM log_buckets WHERE records < 0;");
    ASSERT_EQ(negative.step(), kStepRow);
    EXPECT_EQ(negative.i64(0), 0);
  }
  // Searches by key find kept records only: a sender, per tenant.
  for (const char* t : {"short", "long", "dflt"}) {
    LogQuery q;
    q.tenant = t;
    q.sender = "s7@x.test";
    q.limit = kRecords;
    const auto hits = st.search_log(q);
    const auto n = std::count_if(all.begin(), all.end(), [&](const Rec& r) { return r.kept && r.tenant == t && r.from == "s7@x.test"; });
    EXPECT_EQ(hits.size(), static_cast<size_t>(n)) << t;
  }
  // Again: nothing more to remove. Then ingest goes on.
  LogPurgeCursor again;
  auto n = st.purge_log(keep, now, kRecords * 2, again);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_FALSE(again.more);
  auto more = st.add_log_batch("a", at[0], "{\"time\":\"" + iso(now) + "\",\"tenant\":\"short\",\"mail_from\":\"new@x.test\"}\n");
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, 1u);
  EXPECT_EQ(st.log_count(), expected_kept + 1);
  LogQuery fresh;
  fresh.sender = "NEW@x.test";
  EXPECT_EQ(st.search_log(fresh).size(), 1u);
  // No retention at all removes nothing.
  LogPurgeCursor none;
  auto zero = st.purge_log(LogRetention{}, now + 1000 * kDay, kRecords, none);
  ASSERT_TRUE(zero);
  EXPECT_EQ(*zero, 0u);
  EXPECT_EQ(st.log_count(), expected_kept + 1);
}

// PostgreSQL: when the server drops control's connection (a restart, a failover, an idle
// timeout), the next statement reconnects and runs; a transaction cut in the middle fails as a
// whole (its caller sees the error and nothing half-written stays), and the next one works.
TEST_F(StoreTest, ALostPostgresqlConnectionIsMadeAgain) {
  if (!testing_postgresql()) GTEST_SKIP() << "PostgreSQL only (run under with_postgresql.sh)";
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  Store& st = **s;
  ASSERT_TRUE(st.commit("one", "alice", "", 1, 0));
  auto cut_all = [&] {  // every other session of the test database, from a connection of our own
    auto admin = Db::open(path_);
    ASSERT_TRUE(admin) << admin.error().message;
    Stmt q(**admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid();");
    ASSERT_EQ(q.step(), kStepRow) << (*admin)->error();
    EXPECT_GE(q.i64(0), 1);
  };
  cut_all();
  // A read, a commit (a transaction: BEGIN is the first statement the new connection runs), a
  // log batch: all work on the new connection.
  ASSERT_EQ(st.list(10).size(), 1u);
  cut_all();
  auto g2 = st.commit("two", "bob", "", 1, 0);
  ASSERT_TRUE(g2) << g2.error().message;
  EXPECT_EQ(*g2, 2u);
  cut_all();
  auto added = st.add_log_batch("n", 0, "{\"time\":\"2026-12-03T10:00:00Z\",\"tenant\":\"t\"}\n");
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(*added, 1u);
  EXPECT_EQ(st.log_count(), 1u);
  EXPECT_EQ(st.current()->document, "two");
}

// A version 3 file (the log in one wide table with five indexes and a recipients table) is
// migrated with its records: searchable, counted, and still exactly once.
TEST_F(StoreTest, AVersion3LogIsCarriedOver) {
  if (testing_postgresql()) GTEST_SKIP() << "SQLite files of older versions only (PostgreSQL stores start at 5)";
  {
    auto s = Store::open(path_);
    ASSERT_TRUE(s);
  }
  const char* v3 =
      // version 4 named user_id `user`; a user with a setting and a list entry is carried over
      "ALTER TABLE user_settings RENAME COLUMN user_id TO user;"
      "ALTER TABLE list_entries RENAME COLUMN user_id TO user;"
      "INSERT INTO tenants (id, name, created) VALUES (1, 'ten', 't');"
      "INSERT INTO users (id, tenant, address) VALUES (7, 1, 'u@d.test');"
      "INSERT INTO user_settings (user, key, value) VALUES (7, 'spam_threshold', '4');"
      "INSERT INTO list_entries (tenant, user, kind, entry) VALUES (1, 7, 'block', 'x@y.test');"
      "DROP TABLE log_keys; DROP TABLE log_buckets; DROP TABLE log_records;"
      "CREATE TABLE log_records (id INTEGER PRIMARY KEY, node TEXT NOT NULL, seq INTEGER NOT NULL,"
      "  time TEXT NOT NULL, event TEXT NOT NULL, tenant TEXT NOT NULL, mail_from TEXT NOT NULL COLLATE NOCASE,"
      "  rcpts TEXT NOT NULL, message_id TEXT NOT NULL, client_ip TEXT NOT NULL, class TEXT NOT NULL,"
      "  action TEXT NOT NULL, subject TEXT NOT NULL, line TEXT NOT NULL, UNIQUE (node, seq));"
      "CREATE INDEX log_time ON log_records (time);"
      "CREATE INDEX log_tenant_time ON log_records (tenant, time);"
      "CREATE INDEX log_from ON log_records (mail_from);"
      "CREATE INDEX log_msgid ON log_records (message_id);"
      "CREATE INDEX log_ip ON log_records (client_ip);"
      "CREATE TABLE log_rcpts (record INTEGER NOT NULL REFERENCES log_records (id), rcpt TEXT NOT NULL);"
      "CREATE INDEX log_rcpt ON log_rcpts (rcpt);"
      "INSERT INTO log_records VALUES (1, 'n1', 0, '2026-12-03T10:00:00.000Z', 'message', 'ten', 'A@b.test',"
      "  'c@d.test', '<m1>', '192.0.2.1', 'clean', 'deliver', 's',"
      "  '{\"time\":\"2026-12-03T10:00:00.000Z\",\"tenant\":\"ten\",\"mail_from\":\"A@b.test\",\"rcpts\":[\"C@d.test\"],"
      "\"message_id\":\"<m1>\",\"client_ip\":\"192.0.2.1\",\"class\":\"clean\",\"action\":\"deliver\"}');"
      "INSERT INTO log_rcpts VALUES (1, 'c@d.test');"
      "INSERT INTO log_records VALUES (2, 'n1', 200, '2026-12-03T10:00:01.000Z', 'unparsed', '', '', '', '', '', '',"
      "  '', '', 'not json');"
      "UPDATE schema_version SET version = 3;";
  raw(v3);
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  Store& st = **s;
  EXPECT_EQ(st.schema_version(), kStoreSchemaVersion);
  {
    auto db = Db::open(path_);
    ASSERT_TRUE(db);
    Stmt q(**db, "SELECT x.value, l.entry FROM user_settings x JOIN list_entries l ON l.user_id = x.user_id "
                 "WHERE x.user_id = 7;");
    ASSERT_EQ(q.step(), kStepRow) << (*db)->error();
    EXPECT_EQ(q.text(0), "4");
    EXPECT_EQ(q.text(1), "x@y.test");
  }
  EXPECT_EQ(st.log_count(), 2u);
  for (auto set : {+[](LogQuery& q) { q.tenant = "ten"; }, +[](LogQuery& q) { q.sender = "a@B.test"; },
                   +[](LogQuery& q) { q.rcpt = "c@d.TEST"; }, +[](LogQuery& q) { q.message_id = "<m1>"; },
                   +[](LogQuery& q) { q.client_ip = "192.0.2.1"; }}) {
    LogQuery q;
    set(q);
    const auto r = st.search_log(q);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].seq, 0u);
    EXPECT_EQ(r[0].action, "deliver");
  }
  LogQuery q;
  const auto r = st.search_log(q);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].event, "unparsed");
  EXPECT_EQ(r[1].time, "2026-12-03T10:00:00.000Z");
  auto again = st.add_log_batch("n1", 0, r[1].line + "\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u) << "a migrated record is still known by its node and position";
  auto more = st.add_log_batch("n1", 300, r[1].line + "\n");
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, 1u);
  q.tenant = "ten";
  EXPECT_EQ(st.search_log(q).size(), 2u);
}

}  // namespace
}  // namespace mx::control
