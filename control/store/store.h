// control/store/store.h — mxgate-control's store: the policy generations it pushes, the nodes
// and what each acknowledged, and the audit log of every change. An embedded SQLite database
// (one file, WAL, foreign keys on; the default) or a PostgreSQL server (a postgresql:// URL,
// control/store/db.h), whose schema is created and migrated by version (schema_version table),
// so a newer mxgate-control upgrades an older store in place and an older one refuses a newer
// store.
//
// A generation is a whole, self-contained snapshot document (ipc/snapshot.h, rules inline),
// validated before it is stored; generations are never edited: a rollback commits an old
// document again as a new generation, so every node's generation number only grows.
//
// SECURITY: documents come from operators through the API and are validated by the caller
// (ipc::parse_snapshot) before commit(); node names and NACK reasons come from data planes and
// are stored as text with bounds (kMaxNodeName, ipc::kMaxReasonBytes). Every statement is
// prepared with bound parameters (no SQL built from input).
// STANDARDS: none.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/expected.h"

namespace mx::control {

class Db;

constexpr int kStoreSchemaVersion = 5;
constexpr size_t kMaxNodeName = 64;
constexpr size_t kMaxActor = 128;
constexpr size_t kMaxComment = 1024;

struct Generation {
  uint64_t gen = 0;
  std::string created;   // UTC, ISO 8601
  std::string actor;     // who committed it
  std::string comment;
  uint64_t tenants = 0, users = 0;
  uint64_t rollback_of = 0;  // the generation whose document this one repeats (0: none)
  std::string document;      // filled by get() only (list() leaves it empty)
};

struct NodeState {
  std::string name;
  std::string state;           // "connected", "gone"
  uint64_t generation = 0;     // the last generation it acknowledged
  uint64_t nacked = 0;         // the last generation it refused (0: none)
  std::string reason;          // why
  std::string last_seen;
};

// One transaction-log record collected from a node: the record itself (a JSON line, as the
// node wrote it) and its fields, read from it as ipc::parse_json would (rcpts: the recipients
// joined with ','; event "unparsed" for a line that is not JSON, whose other fields are empty).
struct LogRecord {
  std::string node;
  uint64_t seq = 0;  // the record's position in the node's log stream (unique per node)
  std::string time, event, tenant, mail_from, rcpts, message_id, client_ip, cls, action, subject;
  std::string line;
};

// Every field given must match (empty: any): sender and rcpt without regard to ASCII case, the
// others exactly. since/until bound the record's time (since <= time < until) and take
// "2026-12-03T10:00:00.000Z" or any leading part of it ("2026-12-03", "2026-12-03T10", meaning
// its start), more or fewer fraction digits and an offset ("+01:00"; none is UTC); a bound that
// is not a time matches nothing. A record whose own time is not one counts as the oldest.
struct LogQuery {
  std::string tenant, sender, rcpt, message_id, client_ip, action, cls, since, until;
  size_t limit = 100;
};

// How long transaction records are kept, in days from their time; 0: for ever.
struct LogRetention {
  int default_days = 0;                               // a record whose tenant has no days of its own
  std::unordered_map<std::string, int> tenant_days;   // by tenant name (a record's "tenant")
};

// Where a purge got to: the (time, id) of the last record it looked at. A purge round starts
// from the oldest ({}) and goes on from here until `more` is false.
struct LogPurgeCursor {
  int64_t time = std::numeric_limits<int64_t>::min();
  int64_t id = 0;
  bool more = false;
};

struct AuditEntry {
  int64_t id = 0;
  std::string time, actor, action, object, detail;
};

class Store {
 public:
  // Opens the database — a file path (SQLite, created when absent) or a postgresql:// URL — and
  // migrates it to kStoreSchemaVersion.
  static Expected<std::unique_ptr<Store>> open(const std::string& where);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const { return version_; }
  bool postgres() const;

  // A new generation (one transaction, with its audit entry); returns its number.
  Expected<uint64_t> commit(const std::string& document, const std::string& actor, const std::string& comment,
                            uint64_t tenants, uint64_t users, uint64_t rollback_of = 0);
  std::optional<Generation> current();           // the newest, with its document
  std::optional<Generation> get(uint64_t gen);   // with its document
  std::vector<Generation> list(size_t limit);    // newest first, without documents

  // What data planes report.
  void node_connected(const std::string& name, uint64_t generation);
  void node_acked(const std::string& name, uint64_t generation);
  void node_nacked(const std::string& name, uint64_t generation, const std::string& reason);
  void node_gone(const std::string& name);
  void all_nodes_gone();  // at start: no node is connected to a control that just started
  std::vector<NodeState> nodes();

  // Records from `node`, the first at stream position `seq`, as JSON lines; stored in one
  // transaction, each keyed by (node, its position): a batch sent again adds nothing. Returns
  // the records newly stored.
  Expected<uint64_t> add_log_batch(const std::string& node, uint64_t seq, std::string_view lines);
  // At most q.limit records, newest first: by time, then node, then position (descending).
  std::vector<LogRecord> search_log(const LogQuery& q);
  uint64_t log_count();
  // Removes, in one transaction, the expired records among the next `scan` records (oldest first)
  // after `cursor` that are older than the shortest retention, with their keys; advances the
  // cursor. Returns the records removed.
  Expected<uint64_t> purge_log(const LogRetention& keep, int64_t now_ms, size_t scan, LogPurgeCursor& cursor);

  void audit(const std::string& actor, const std::string& action, const std::string& object,
             const std::string& detail);
  std::vector<AuditEntry> audit_log(size_t limit);  // newest first

 private:
  friend class PolicyStore;  // the policy objects' tables (control/store/policy_store.h)
  explicit Store(std::unique_ptr<Db> db);
  Expected<bool> migrate();
  Expected<bool> exec(const char* sql);
  std::unique_ptr<Db> db_;
  int version_ = 0;
};

// UTC now as 2026-12-03T10:00:00.000Z.
std::string utc_now();

}  // namespace mx::control
