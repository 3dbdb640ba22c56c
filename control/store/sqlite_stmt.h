// control/store/sqlite_stmt.h — a prepared SQLite statement with bound parameters (no SQL is
// ever built from input), finalised when it goes. Shared by the store's files.
// SECURITY: values are bound, never spliced into SQL text.
// STANDARDS: none.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace mx::control {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) == SQLITE_OK; }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    if (ok_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    if (ok_) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    if (ok_) sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return ok_ ? sqlite3_step(s_) : SQLITE_ERROR; }
  int64_t i64(int col) { return sqlite3_column_int64(s_, col); }
  void reset() {
    if (ok_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  std::string text(int col) {
    const auto* p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  bool ok_ = false;
};

}  // namespace mx::control
