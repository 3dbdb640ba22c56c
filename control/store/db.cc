// control/store/db.cc — SQLite and PostgreSQL behind one connection type (control/store/db.h).
#include "control/store/db.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <charconv>
#include <map>
#include <optional>
#include <vector>

namespace mx::control {
namespace {

constexpr int kSqliteBusyMs = 5000;  // another writer (a second control on the same file) is waited for

// --- SQLite ---

class SqliteQuery final : public Db::Query {
 public:
  SqliteQuery(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) == SQLITE_OK; }
  ~SqliteQuery() override { sqlite3_finalize(s_); }
  bool ok() const override { return ok_; }
  void bind_text(int i, std::string_view v) override {
    if (ok_) sqlite3_bind_text64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  void bind_text_static(int i, std::string_view v) override {
    // An empty view may have no data pointer, which SQLite would store as NULL.
    if (ok_) sqlite3_bind_text64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  void bind_int(int i, int64_t v) override {
    if (ok_) sqlite3_bind_int64(s_, i, v);
  }
  void bind_null(int i) override {
    if (ok_) sqlite3_bind_null(s_, i);
  }
  int step() override {
    if (!ok_) return kStepError;
    const int r = sqlite3_step(s_);
    return r == SQLITE_ROW ? kStepRow : r == SQLITE_DONE ? kStepDone : kStepError;
  }
  void reset() override {
    if (ok_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  int64_t i64(int col) override { return sqlite3_column_int64(s_, col); }
  std::string_view text(int col) override {
    const auto* p = sqlite3_column_text(s_, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string_view();
  }
  bool is_null(int col) override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_ = nullptr;
  bool ok_ = false;
};

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override { sqlite3_close(db_); }
  bool postgres() const override { return false; }
  Expected<bool> exec(std::string_view sql) override {
    const std::string s(sql);
    char* err = nullptr;
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      return Error{m};
    }
    return true;
  }
  Expected<bool> begin() override { return exec("BEGIN IMMEDIATE;"); }
  std::unique_ptr<Query> prepare(const char* sql) override { return std::make_unique<SqliteQuery>(db_, sql); }
  std::string error() const override { return sqlite3_errmsg(db_); }
  bool unique_violation() const override {
    const int e = sqlite3_extended_errcode(db_);
    return e == SQLITE_CONSTRAINT_UNIQUE || e == SQLITE_CONSTRAINT_PRIMARYKEY;
  }
  uint64_t changes() const override { return static_cast<uint64_t>(sqlite3_changes64(db_)); }
  int64_t last_insert_id() const override { return sqlite3_last_insert_rowid(db_); }
  sqlite3* sqlite() override { return db_; }

 private:
  sqlite3* db_;
};

// --- PostgreSQL ---

// `?` parameters as $1, $2... (outside quoted strings and identifiers).
std::string pg_parameters(const char* sql) {
  std::string o;
  int n = 0;
  char quote = 0;
  for (const char* p = sql; *p; ++p) {
    if (quote) {
      if (*p == quote) quote = 0;
      o += *p;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
      o += *p;
    } else if (*p == '?') {
      o += '$' + std::to_string(++n);
    } else {
      o += *p;
    }
  }
  return o;
}

// `v` with each NUL byte and each invalid UTF-8 sequence (overlong, surrogate, above U+10FFFF,
// cut short) replaced by U+FFFD: what PostgreSQL text can hold.
std::string pg_text(std::string_view v) {
  std::string o;
  o.reserve(v.size());
  size_t i = 0;
  while (i < v.size()) {
    const auto c = static_cast<unsigned char>(v[i]);
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (c >= 0x01 && c < 0x80) { o += static_cast<char>(c); ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
    bool good = n > 0 && i + n < v.size();  // the whole sequence is there
    for (size_t k = 1; good && k <= n; ++k) {
      const auto d = static_cast<unsigned char>(v[i + k]);
      if ((d & 0xC0) != 0x80) good = false;
      else cp = (cp << 6) | (d & 0x3F);
    }
    if (good && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) good = false;
    if (good) {
      o.append(v.substr(i, n + 1));
      i += n + 1;
    } else {
      o += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return o;
}

class PgDb;

class PgQuery final : public Db::Query {
 public:
  PgQuery(PgDb& db, const char* sql) : db_(db), sql_(pg_parameters(sql)) {}
  ~PgQuery() override { PQclear(res_); }
  bool ok() const override { return true; }
  void bind_text(int i, std::string_view v) override { set(i, pg_text(v)); }
  void bind_bytes_static(int i, std::string_view v) override {
    set(i, std::string(v));
    if (binary_.size() < static_cast<size_t>(i)) binary_.resize(static_cast<size_t>(i));
    binary_[static_cast<size_t>(i - 1)] = 1;
  }
  void bind_int(int i, int64_t v) override { set(i, std::to_string(v)); }
  void bind_null(int i) override { set(i, std::nullopt); }
  int step() override;
  void reset() override {
    PQclear(res_);
    res_ = nullptr;
    row_ = -1;
    params_.clear();
    binary_.clear();
  }
  int64_t i64(int col) override {
    const std::string_view t = text(col);
    if (t == "t") return 1;  // booleans (a comparison's result)
    if (t == "f") return 0;
    int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  }
  std::string_view text(int col) override {
    if (!res_ || row_ < 0 || row_ >= PQntuples(res_) || col >= PQnfields(res_)) return {};
    const std::string_view v(PQgetvalue(res_, row_, col), static_cast<size_t>(PQgetlength(res_, row_, col)));
    if (PQftype(res_, col) != kByteaOid) return v;
    // BYTEA in text form: \x and two hex digits a byte.
    if (!v.starts_with("\\x")) return v;
    std::string& out = decoded_[col];
    out.clear();
    auto hex = [](char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; };
    for (size_t k = 2; k + 1 < v.size(); k += 2) out += static_cast<char>(hex(v[k]) << 4 | hex(v[k + 1]));
    return out;
  }
  bool is_null(int col) override { return !res_ || row_ < 0 || PQgetisnull(res_, row_, col); }

 private:
  void set(int i, std::optional<std::string> v) {
    if (i < 1) return;
    if (params_.size() < static_cast<size_t>(i)) params_.resize(static_cast<size_t>(i));
    params_[static_cast<size_t>(i - 1)] = std::move(v);
  }
  static constexpr Oid kByteaOid = 17;  // PostgreSQL's pg_type oid of bytea
  PgDb& db_;
  std::string sql_;
  std::vector<std::optional<std::string>> params_;
  std::vector<int> binary_;  // 1: the parameter is bytes (binary format)
  std::map<int, std::string> decoded_;  // BYTEA columns of the current row, decoded
  PGresult* res_ = nullptr;
  int row_ = -1;
};

// What every connection (and every reconnection) sets first.
constexpr const char* kPgSession = "SET client_min_messages = warning; SET TIME ZONE 'UTC';";

class PgDb final : public Db {
 public:
  explicit PgDb(PGconn* c) : c_(c) {}
  ~PgDb() override { PQfinish(c_); }
  bool postgres() const override { return true; }
  Expected<bool> exec(std::string_view sql) override {
    const std::string text(sql);
    const bool was_in_tx = in_tx_;
    bool good = run(text);
    // A lost connection (the server restarted, an idle timeout, a network cut): reconnect, and
    // run the statement again unless it was part of a transaction, which went with the
    // connection (its COMMIT fails; its ROLLBACK has nothing left to undo).
    if (!good && reconnect()) {
      if (text == "ROLLBACK;") good = true;
      else if (!was_in_tx || text == "BEGIN;") good = run(text);
    }
    if (text == "BEGIN;") in_tx_ = good;
    if (text == "COMMIT;" || text == "ROLLBACK;") in_tx_ = false;
    if (!good) return Error{error_};
    return true;
  }
  // After a statement failed: whether the connection was lost and is back (a new session).
  bool reconnect() {
    if (PQstatus(c_) != CONNECTION_BAD) return false;
    PQreset(c_);
    in_tx_ = false;
    if (PQstatus(c_) != CONNECTION_OK) {
      fail("connection to the PostgreSQL server lost, and reconnecting failed: " + last_pq_error());
      return false;
    }
    ++reconnects_;
    return run(kPgSession);
  }
  bool in_transaction() const { return in_tx_; }
  uint64_t reconnects() const override { return reconnects_; }
  Expected<bool> begin() override { return exec("BEGIN;"); }
  std::unique_ptr<Query> prepare(const char* sql) override { return std::make_unique<PgQuery>(*this, sql); }
  std::string error() const override { return error_; }
  bool unique_violation() const override { return sqlstate_ == "23505"; }
  uint64_t changes() const override { return changes_; }
  PGconn* conn() { return c_; }
  std::string last_pq_error() const {
    std::string m = PQerrorMessage(c_);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
  // What a finished statement leaves behind: its error, SQLSTATE and rows changed.
  void note(const PGresult* r) {
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      error_.clear();
      sqlstate_.clear();
      const char* n = PQcmdTuples(const_cast<PGresult*>(r));
      changes_ = 0;
      if (n && *n) std::from_chars(n, n + std::char_traits<char>::length(n), changes_);
      return;
    }
    const char* m = PQresultErrorMessage(r);
    error_ = m && *m ? m : PQerrorMessage(c_);
    while (!error_.empty() && (error_.back() == '\n' || error_.back() == ' ')) error_.pop_back();
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    sqlstate_ = state ? state : "";
  }
  void fail(std::string why) {
    error_ = std::move(why);
    sqlstate_.clear();
  }

 private:
  bool run(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    note(r);
    PQclear(r);
    return good;
  }
  PGconn* c_;
  bool in_tx_ = false;
  uint64_t reconnects_ = 0;
  std::string error_, sqlstate_;
  uint64_t changes_ = 0;
};

int PgQuery::step() {
  if (!res_) {
    std::vector<const char*> values(params_.size());
    std::vector<int> lengths(params_.size());
    binary_.resize(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i]) continue;
      values[i] = params_[i]->c_str();
      lengths[i] = static_cast<int>(params_[i]->size());
    }
    const bool was_in_tx = db_.in_transaction();
    auto send = [&] {
      PQclear(res_);
      res_ = PQexecParams(db_.conn(), sql_.c_str(), static_cast<int>(params_.size()), nullptr, values.data(),
                          lengths.data(), binary_.data(), 0);
      db_.note(res_);
    };
    send();
    const ExecStatusType first = PQresultStatus(res_);
    // A lost connection: once more on a new one, unless a transaction went with the old.
    if (first != PGRES_COMMAND_OK && first != PGRES_TUPLES_OK && db_.reconnect() && !was_in_tx) send();
    const ExecStatusType st = PQresultStatus(res_);
    if (st == PGRES_COMMAND_OK) return kStepDone;
    if (st != PGRES_TUPLES_OK) return kStepError;
  }
  ++row_;
  return row_ < PQntuples(res_) ? kStepRow : kStepDone;
}

void ignore_notice(void*, const char*) {}  // "relation exists, skipping" and the like

}  // namespace

std::string redacted_store(const std::string& where) {
  std::string shown = where;
  const size_t scheme = shown.find("://");
  if (scheme == std::string::npos) return shown;
  // postgresql://user:secret@host/db, and a password=... parameter
  const size_t at = shown.find('@', scheme + 3), colon = shown.find(':', scheme + 3);
  if (at != std::string::npos && colon != std::string::npos && colon < at)
    shown.replace(colon + 1, at - colon - 1, "***");
  for (size_t p = shown.find("password="); p != std::string::npos; p = shown.find("password=", p + 1)) {
    const size_t v = p + 9, end = shown.find('&', v);
    shown.replace(v, (end == std::string::npos ? shown.size() : end) - v, "***");
  }
  return shown;
}

Expected<std::unique_ptr<Db>> Db::open(const std::string& where) {
  if (where.starts_with("postgresql://") || where.starts_with("postgres://")) {
    PGconn* c = PQconnectdb(where.c_str());
    if (!c || PQstatus(c) != CONNECTION_OK) {
      std::string why = c ? PQerrorMessage(c) : "out of memory";
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      PQfinish(c);
      return Error{"store " + redacted_store(where) + ": " + why};
    }
    PQsetNoticeProcessor(c, ignore_notice, nullptr);
    auto db = std::make_unique<PgDb>(c);
    if (auto r = db->exec(kPgSession); !r)
      return Error{"store " + redacted_store(where) + ": " + r.error().message};
    return std::unique_ptr<Db>(std::move(db));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(where.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error{"store " + where + ": " + why};
  }
  sqlite3_busy_timeout(db, kSqliteBusyMs);
  return std::unique_ptr<Db>(std::make_unique<SqliteDb>(db));
}

}  // namespace mx::control
