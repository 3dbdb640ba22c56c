// control/store/store.cc — the SQLite store (control/store/store.h).
#include "control/store/store.h"

#include <sqlite3.h>

#include "control/store/sqlite_stmt.h"

#include "common/ascii.h"
#include "ipc/json.h"
#include "ipc/txlog.h"

namespace mx::control {
namespace {

// The schema, one step per version: migrate() applies the steps above the file's version, each
// in its own transaction with the version bump.
const char* const kMigrations[] = {
    // 1: generations, nodes, audit log
    "CREATE TABLE generations ("
    "  gen INTEGER PRIMARY KEY,"
    "  created TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  comment TEXT NOT NULL DEFAULT '',"
    "  tenants INTEGER NOT NULL,"
    "  users INTEGER NOT NULL,"
    "  rollback_of INTEGER REFERENCES generations(gen),"
    "  document TEXT NOT NULL);"
    "CREATE TABLE nodes ("
    "  name TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  generation INTEGER NOT NULL DEFAULT 0,"
    "  nacked INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  last_seen TEXT NOT NULL);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '');",
    // 2: the transaction log collected from nodes, indexed for search
    "CREATE TABLE log_records ("
    "  id INTEGER PRIMARY KEY,"
    "  node TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  time TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  mail_from TEXT NOT NULL COLLATE NOCASE,"
    "  rcpts TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  client_ip TEXT NOT NULL,"
    "  class TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  line TEXT NOT NULL,"
    "  UNIQUE (node, seq));"
    "CREATE INDEX log_time ON log_records (time);"
    "CREATE INDEX log_tenant_time ON log_records (tenant, time);"
    "CREATE INDEX log_from ON log_records (mail_from);"
    "CREATE INDEX log_msgid ON log_records (message_id);"
    "CREATE INDEX log_ip ON log_records (client_ip);"
    "CREATE TABLE log_rcpts ("
    "  record INTEGER NOT NULL REFERENCES log_records (id),"
    "  rcpt TEXT NOT NULL);"
    "CREATE INDEX log_rcpt ON log_rcpts (rcpt);",
    // 3: the policy as objects (control/store/policy_store.h): tenants with their settings,
    // domains, users, allow/block list entries, API tokens. A commit compiles them into the
    // snapshot document of a new generation.
    "CREATE TABLE tenants ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created TEXT NOT NULL,"
    "  suspended INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE tenant_settings ("
    "  tenant INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (tenant, key));"
    "CREATE TABLE domains ("
    "  name TEXT PRIMARY KEY,"
    "  tenant INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE);"
    "CREATE INDEX domains_tenant ON domains (tenant);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  tenant INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  address TEXT NOT NULL UNIQUE);"
    "CREATE INDEX users_tenant ON users (tenant);"
    "CREATE TABLE user_settings ("
    "  user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (user, key));"
    "CREATE TABLE list_entries ("
    "  id INTEGER PRIMARY KEY,"
    "  tenant INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  user INTEGER NOT NULL DEFAULT 0,"
    "  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),"
    "  entry TEXT NOT NULL,"
    "  UNIQUE (tenant, user, kind, entry));"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  tenant INTEGER REFERENCES tenants (id) ON DELETE CASCADE,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE policy_state ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  changed INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO policy_state (id, changed) VALUES (1, 0);",
};
constexpr int kMigrationCount = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
static_assert(kMigrationCount == kStoreSchemaVersion);

std::string cut(const std::string& s, size_t max) { return s.size() > max ? s.substr(0, max) : s; }

Generation row_generation(Stmt& s, bool with_document) {
  Generation g;
  g.gen = static_cast<uint64_t>(s.i64(0));
  g.created = s.text(1);
  g.actor = s.text(2);
  g.comment = s.text(3);
  g.tenants = static_cast<uint64_t>(s.i64(4));
  g.users = static_cast<uint64_t>(s.i64(5));
  g.rollback_of = static_cast<uint64_t>(s.i64(6));
  if (with_document) g.document = s.text(7);
  return g;
}

}  // namespace

std::string utc_now() { return ipc::log_time(); }

Expected<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error{"store " + path + ": " + why};
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Store> s(new Store(db));
  // A page cache large enough for the log's indexes (their pages are written at random) and
  // memory-mapped reads: the log store is mostly index maintenance.
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA foreign_keys=ON;", "PRAGMA synchronous=FULL;",
                             "PRAGMA cache_size=-131072;", "PRAGMA mmap_size=1073741824;", "PRAGMA temp_store=MEMORY;",
                             "PRAGMA wal_autocheckpoint=16384;"})
    if (auto r = s->exec(pragma); !r) return Error{"store " + path + ": " + r.error().message};
  if (auto r = s->migrate(); !r) return Error{"store " + path + ": " + r.error().message};
  return s;
}

Store::~Store() { sqlite3_close(db_); }

Expected<bool> Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Error{m};
  }
  return true;
}

Expected<bool> Store::migrate() {
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"); !r) return r;
  {
    Stmt q(db_, "SELECT version FROM schema_version;");
    version_ = q.step() == SQLITE_ROW ? static_cast<int>(q.i64(0)) : 0;
  }
  if (version_ > kStoreSchemaVersion)
    return Error{"schema version " + std::to_string(version_) + " is newer than this mxgate-control's (" +
                 std::to_string(kStoreSchemaVersion) + ")"};
  while (version_ < kStoreSchemaVersion) {
    if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r;
    auto step = exec(kMigrations[version_]);
    const int next = version_ + 1;
    if (step) {
      Stmt del(db_, "DELETE FROM schema_version;");
      Stmt ins(db_, "INSERT INTO schema_version (version) VALUES (?);");
      if (del.step() != SQLITE_DONE || ins.bind(1, int64_t{next}).step() != SQLITE_DONE)
        step = Error{sqlite3_errmsg(db_)};
    }
    if (!step) {
      (void)exec("ROLLBACK;");
      return Error{"migration to schema version " + std::to_string(next) + ": " + step.error().message};
    }
    if (auto r = exec("COMMIT;"); !r) return r;
    version_ = next;
  }
  return true;
}

Expected<uint64_t> Store::commit(const std::string& document, const std::string& actor, const std::string& comment,
                                 uint64_t tenants, uint64_t users, uint64_t rollback_of) {
  if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r.error();
  const std::string now = utc_now();
  Stmt ins(db_,
           "INSERT INTO generations (created, actor, comment, tenants, users, rollback_of, document) "
           "VALUES (?, ?, ?, ?, ?, ?, ?);");
  ins.bind(1, now).bind(2, cut(actor, kMaxActor)).bind(3, cut(comment, kMaxComment));
  ins.bind(4, static_cast<int64_t>(tenants)).bind(5, static_cast<int64_t>(users));
  if (rollback_of) ins.bind(6, static_cast<int64_t>(rollback_of)); else ins.bind_null(6);
  ins.bind(7, document);
  if (ins.step() != SQLITE_DONE) {
    const std::string why = sqlite3_errmsg(db_);
    (void)exec("ROLLBACK;");
    return Error{"commit: " + why};
  }
  const auto gen = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
  std::string detail = std::to_string(tenants) + " tenant(s), " + std::to_string(users) + " user(s)";
  if (rollback_of) detail += ", the document of generation " + std::to_string(rollback_of);
  if (!comment.empty()) detail += ": " + cut(comment, kMaxComment);
  audit(actor, rollback_of ? "rollback" : "commit", "generation " + std::to_string(gen), detail);
  if (auto r = exec("COMMIT;"); !r) {
    (void)exec("ROLLBACK;");
    return Error{"commit: " + r.error().message};
  }
  return gen;
}

std::optional<Generation> Store::current() {
  Stmt q(db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of, document FROM generations "
              "ORDER BY gen DESC LIMIT 1;");
  if (q.step() != SQLITE_ROW) return std::nullopt;
  return row_generation(q, true);
}

std::optional<Generation> Store::get(uint64_t gen) {
  Stmt q(db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of, document FROM generations "
              "WHERE gen = ?;");
  q.bind(1, static_cast<int64_t>(gen));
  if (q.step() != SQLITE_ROW) return std::nullopt;
  return row_generation(q, true);
}

std::vector<Generation> Store::list(size_t limit) {
  Stmt q(db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of FROM generations "
              "ORDER BY gen DESC LIMIT ?;");
  q.bind(1, static_cast<int64_t>(limit));
  std::vector<Generation> out;
  while (q.step() == SQLITE_ROW) out.push_back(row_generation(q, false));
  return out;
}

void Store::node_connected(const std::string& name, uint64_t generation) {
  Stmt q(db_, "INSERT INTO nodes (name, state, generation, last_seen) VALUES (?, 'connected', ?, ?) "
              "ON CONFLICT(name) DO UPDATE SET state = 'connected', generation = excluded.generation, "
              "last_seen = excluded.last_seen;");
  q.bind(1, cut(name, kMaxNodeName)).bind(2, static_cast<int64_t>(generation)).bind(3, utc_now()).step();
}

void Store::node_acked(const std::string& name, uint64_t generation) {
  Stmt q(db_, "UPDATE nodes SET generation = ?, last_seen = ? WHERE name = ?;");
  q.bind(1, static_cast<int64_t>(generation)).bind(2, utc_now()).bind(3, cut(name, kMaxNodeName)).step();
}

void Store::node_nacked(const std::string& name, uint64_t generation, const std::string& reason) {
  {  // the same refusal again (a node repeating itself) is not audited again
    Stmt same(db_, "SELECT 1 FROM nodes WHERE name = ? AND nacked = ? AND reason = ?;");
    same.bind(1, cut(name, kMaxNodeName)).bind(2, static_cast<int64_t>(generation)).bind(3, cut(reason, 4096));
    if (same.step() == SQLITE_ROW) return;
  }
  Stmt q(db_, "UPDATE nodes SET nacked = ?, reason = ?, last_seen = ? WHERE name = ?;");
  q.bind(1, static_cast<int64_t>(generation)).bind(2, cut(reason, 4096)).bind(3, utc_now());
  q.bind(4, cut(name, kMaxNodeName)).step();
  audit("node " + cut(name, kMaxNodeName), "nack", "generation " + std::to_string(generation), cut(reason, 4096));
}

void Store::node_gone(const std::string& name) {
  Stmt q(db_, "UPDATE nodes SET state = 'gone', last_seen = ? WHERE name = ?;");
  q.bind(1, utc_now()).bind(2, cut(name, kMaxNodeName)).step();
}

void Store::all_nodes_gone() {
  Stmt q(db_, "UPDATE nodes SET state = 'gone' WHERE state != 'gone';");
  q.step();
}

std::vector<NodeState> Store::nodes() {
  Stmt q(db_, "SELECT name, state, generation, nacked, reason, last_seen FROM nodes ORDER BY name;");
  std::vector<NodeState> out;
  while (q.step() == SQLITE_ROW)
    out.push_back(NodeState{q.text(0), q.text(1), static_cast<uint64_t>(q.i64(2)), static_cast<uint64_t>(q.i64(3)),
                            q.text(4), q.text(5)});
  return out;
}

void Store::audit(const std::string& actor, const std::string& action, const std::string& object,
                  const std::string& detail) {
  Stmt q(db_, "INSERT INTO audit (time, actor, action, object, detail) VALUES (?, ?, ?, ?, ?);");
  q.bind(1, utc_now()).bind(2, cut(actor, kMaxActor)).bind(3, action).bind(4, object).bind(5, detail).step();
}

std::vector<AuditEntry> Store::audit_log(size_t limit) {
  Stmt q(db_, "SELECT id, time, actor, action, object, detail FROM audit ORDER BY id DESC LIMIT ?;");
  q.bind(1, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  while (q.step() == SQLITE_ROW) out.push_back(AuditEntry{q.i64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5)});
  return out;
}

Expected<uint64_t> Store::add_log_batch(const std::string& node, uint64_t seq, std::string_view lines) {
  if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r.error();
  Stmt rec(db_,
           "INSERT OR IGNORE INTO log_records (node, seq, time, event, tenant, mail_from, rcpts, message_id, client_ip, "
           "class, action, subject, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);");
  Stmt rc(db_, "INSERT INTO log_rcpts (record, rcpt) VALUES (?, ?);");
  uint64_t added = 0;
  size_t pos = 0;
  const std::string who = cut(node, kMaxNodeName);
  while (pos < lines.size()) {
    const size_t eol = lines.find('\n', pos);
    const size_t end = eol == std::string_view::npos ? lines.size() : eol;
    const std::string_view line = lines.substr(pos, end - pos);
    const uint64_t at = seq + pos;
    pos = end + 1;
    if (line.empty()) continue;
    // The indexed fields; a line that is not JSON is kept all the same (never lost), unindexed.
    std::string rcpts;
    auto v = ipc::parse_json(line, ipc::kMaxJsonBytes);
    static const ipc::JsonValue kNone;
    const ipc::JsonValue& j = v ? *v : kNone;
    if (const ipc::JsonValue* r = j.get("rcpts"))
      for (const ipc::JsonValue& x : r->items)
        if (x.kind == ipc::JsonValue::Kind::kString) {
          if (!rcpts.empty()) rcpts += ',';
          rcpts += x.str;
        }
    rec.reset();
    rec.bind(1, who).bind(2, static_cast<int64_t>(at)).bind(3, std::string(j.get_str("time")));
    rec.bind(4, std::string(v ? j.get_str("event") : "unparsed")).bind(5, std::string(j.get_str("tenant")));
    rec.bind(6, std::string(j.get_str("mail_from"))).bind(7, rcpts).bind(8, std::string(j.get_str("message_id")));
    rec.bind(9, std::string(j.get_str("client_ip"))).bind(10, std::string(j.get_str("class")));
    rec.bind(11, std::string(j.get_str("action"))).bind(12, std::string(j.get_str("subject")));
    rec.bind(13, std::string(line));
    if (rec.step() != SQLITE_DONE) {
      const std::string why = sqlite3_errmsg(db_);
      (void)exec("ROLLBACK;");
      return Error{"log batch: " + why};
    }
    if (sqlite3_changes(db_) == 0) continue;  // had it already
    ++added;
    const int64_t id = sqlite3_last_insert_rowid(db_);
    if (const ipc::JsonValue* r = j.get("rcpts"))
      for (const ipc::JsonValue& x : r->items) {
        if (x.kind != ipc::JsonValue::Kind::kString) continue;
        rc.reset();
        if (rc.bind(1, id).bind(2, ascii_lower(x.str)).step() != SQLITE_DONE) {
          const std::string why = sqlite3_errmsg(db_);
          (void)exec("ROLLBACK;");
          return Error{"log batch: " + why};
        }
      }
  }
  if (auto r = exec("COMMIT;"); !r) {
    (void)exec("ROLLBACK;");
    return Error{"log batch: " + r.error().message};
  }
  return added;
}

std::vector<LogRecord> Store::search_log(const LogQuery& q) {
  std::string sql =
      "SELECT r.node, r.seq, r.time, r.event, r.tenant, r.mail_from, r.rcpts, r.message_id, r.client_ip, r.class, "
      "r.action, r.subject, r.line FROM log_records r WHERE 1";
  std::vector<std::string> args;
  auto where = [&](const std::string& v, const char* clause) {
    if (v.empty()) return;
    sql += clause;
    args.push_back(v);
  };
  where(q.tenant, " AND r.tenant = ?");
  where(q.sender, " AND r.mail_from = ?");
  where(q.message_id, " AND r.message_id = ?");
  where(q.client_ip, " AND r.client_ip = ?");
  where(q.action, " AND r.action = ?");
  where(q.cls, " AND r.class = ?");
  where(q.since, " AND r.time >= ?");
  where(q.until, " AND r.time < ?");
  if (!q.rcpt.empty()) {
    // From the recipient index to the records (not a scan of the records probing each).
    sql += " AND r.id IN (SELECT x.record FROM log_rcpts x WHERE x.rcpt = ?)";
    args.push_back(ascii_lower(q.rcpt));
  }
  sql += " ORDER BY r.time DESC, r.node, r.seq DESC LIMIT ?;";
  Stmt s(db_, sql.c_str());
  int i = 1;
  for (const std::string& a : args) s.bind(i++, a);
  s.bind(i, static_cast<int64_t>(q.limit));
  std::vector<LogRecord> out;
  while (s.step() == SQLITE_ROW) {
    LogRecord r;
    r.node = s.text(0);
    r.seq = static_cast<uint64_t>(s.i64(1));
    r.time = s.text(2);
    r.event = s.text(3);
    r.tenant = s.text(4);
    r.mail_from = s.text(5);
    r.rcpts = s.text(6);
    r.message_id = s.text(7);
    r.client_ip = s.text(8);
    r.cls = s.text(9);
    r.action = s.text(10);
    r.subject = s.text(11);
    r.line = s.text(12);
    out.push_back(std::move(r));
  }
  return out;
}

uint64_t Store::log_count() {
  Stmt q(db_, "SELECT count(*) FROM log_records;");
  return q.step() == SQLITE_ROW ? static_cast<uint64_t>(q.i64(0)) : 0;
}

}  // namespace mx::control
