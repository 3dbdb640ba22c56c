// tests/unit/control/store_test.cc — the control store on a real SQLite file: migrations and
// their version, generations (commit, rollback as a new generation), nodes, the audit log,
// and that everything survives a reopen.
#include "control/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mx::control {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mx_store_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/control.db";
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
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(path_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("schema version 99 is newer"), std::string::npos) << s.error().message;
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
  {
    auto s = Store::open(path_);
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->commit("kept across the migration", "alice", "", 1, 0));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE policy_state; DROP TABLE tokens; DROP TABLE list_entries; DROP TABLE user_settings;"
                         "DROP TABLE users; DROP TABLE domains; DROP TABLE tenant_settings; DROP TABLE tenants;"
                         "DROP TABLE log_rcpts; DROP TABLE log_records; UPDATE schema_version SET version = 1;",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
  EXPECT_EQ((*s)->current()->document, "kept across the migration");
  ASSERT_TRUE((*s)->add_log_batch("n", 0, "{\"time\":\"t\"}\n"));
  EXPECT_EQ((*s)->log_count(), 1u);
}

}  // namespace
}  // namespace mx::control
