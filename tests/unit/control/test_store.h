// tests/unit/control/test_store.h — where a control unit test keeps its store: a SQLite file,
// or, when the suite runs under with_postgresql.sh (MXGATE_TEST_PG set), that PostgreSQL
// database, emptied first. The same tests run against both.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "control/store/db.h"

namespace mx::control {

inline bool testing_postgresql() {
  const char* pg = std::getenv("MXGATE_TEST_PG");
  return pg && *pg;
}

inline std::string test_store(const std::string& sqlite_path) {
  if (!testing_postgresql()) return sqlite_path;
  const std::string url = std::getenv("MXGATE_TEST_PG");
  auto db = Db::open(url);
  EXPECT_TRUE(db) << db.error().message;
  if (db) {
    auto r = (*db)->exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
    EXPECT_TRUE(r) << r.error().message;
  }
  return url;
}

}  // namespace mx::control
