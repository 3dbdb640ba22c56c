// control/store/db.h — the store's database connection: an embedded SQLite file (the default)
// or a PostgreSQL server (`postgresql://...` or `postgres://...`, libpq's connection URI, e.g.
// postgresql:///mxgate?host=/run/postgresql for a Unix socket). The store's SQL is written once,
// in the dialect both accept (`?` parameters, ON CONFLICT, RETURNING); what differs — the
// parameter syntax, how a write transaction starts, BYTEA and text — is handled here, so the
// same statements and the same tests run against both (the schema itself has a PostgreSQL form
// of its own in store.cc).
//
// SECURITY: every value is bound as a parameter (no SQL is built from input). PostgreSQL text
// holds valid UTF-8 without NUL only: there, a text value's NUL bytes and invalid sequences
// become U+FFFD (names and reasons that a node or a client sent), while bytes bound as bytes
// (a log record's line: a BYTEA column) are kept exactly.
// STANDARDS: none (SQLite 3.35+ and PostgreSQL 12+ SQL).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/expected.h"

struct sqlite3;

namespace mx::control {

// `where` as it may be shown (in logs and errors): a URL's password replaced by ***.
std::string redacted_store(const std::string& where);

// What Stmt::step() answers.
constexpr int kStepRow = 1;
constexpr int kStepDone = 2;
constexpr int kStepError = 3;

class Db {
 public:
  // One statement being run; Stmt is its handle.
  class Query {
   public:
    virtual ~Query() = default;
    virtual bool ok() const = 0;  // prepared
    virtual void bind_text(int i, std::string_view v) = 0;
    // The caller's bytes outlive the step that reads them (SQLite then binds without a copy).
    virtual void bind_text_static(int i, std::string_view v) { bind_text(i, v); }
    // Bytes kept exactly (SQLite: stored as text all the same; PostgreSQL: a BYTEA column).
    virtual void bind_bytes_static(int i, std::string_view v) { bind_text_static(i, v); }
    virtual void bind_int(int i, int64_t v) = 0;
    virtual void bind_null(int i) = 0;
    virtual int step() = 0;
    virtual void reset() = 0;  // to run again; bindings are cleared
    virtual int64_t i64(int col) = 0;
    virtual std::string_view text(int col) = 0;  // valid until the next step() or reset()
    virtual bool is_null(int col) = 0;
  };

  // A path (SQLite, created when absent) or a postgresql:// URL.
  static Expected<std::unique_ptr<Db>> open(const std::string& where);
  virtual ~Db() = default;

  virtual bool postgres() const = 0;
  // Statements without parameters (schema, pragmas), several separated by ';'.
  virtual Expected<bool> exec(std::string_view sql) = 0;
  // A write transaction (SQLite: BEGIN IMMEDIATE, so a writer waits at its start, not midway).
  virtual Expected<bool> begin() = 0;
  Expected<bool> commit() { return exec("COMMIT;"); }
  void rollback() { (void)exec("ROLLBACK;"); }
  virtual std::unique_ptr<Query> prepare(const char* sql) = 0;
  virtual std::string error() const = 0;       // the last error
  virtual bool unique_violation() const = 0;   // the last error was a UNIQUE or PRIMARY KEY conflict
  virtual uint64_t changes() const = 0;        // rows the last statement inserted, updated or deleted
  // SQLite only: the rowid of the last row inserted (PostgreSQL: RETURNING; 0 here).
  virtual int64_t last_insert_id() const { return 0; }
  virtual sqlite3* sqlite() { return nullptr; }  // the SQLite handle (SQLite only)
  // PostgreSQL: how many times a lost connection was made again (a statement outside a
  // transaction is then run again; a transaction fails and its caller sees the error).
  virtual uint64_t reconnects() const { return 0; }
};

// A prepared statement with bound parameters (1-based, `?` in the SQL); finalised when it goes.
class Stmt {
 public:
  Stmt(Db& db, const char* sql) : q_(db.prepare(sql)) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return q_->ok(); }
  Stmt& bind(int i, std::string_view v) {
    q_->bind_text(i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  // Without a copy where the database allows: `v` must stay valid until step() is done.
  Stmt& bind_static(int i, std::string_view v) {
    q_->bind_text_static(i, v);
    return *this;
  }
  Stmt& bind_bytes_static(int i, std::string_view v) {
    q_->bind_bytes_static(i, v);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    q_->bind_int(i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    q_->bind_null(i);
    return *this;
  }
  int step() { return q_->step(); }  // kStepRow, kStepDone or kStepError
  void reset() { q_->reset(); }
  int64_t i64(int col) { return q_->i64(col); }
  std::string text(int col) { return std::string(q_->text(col)); }
  std::string_view view(int col) { return q_->text(col); }
  bool is_null(int col) { return q_->is_null(col); }

 private:
  std::unique_ptr<Db::Query> q_;
};

}  // namespace mx::control
