// control/store/store.cc — the store on SQLite or PostgreSQL (control/store/store.h, db.h).
#include "control/store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "control/store/db.h"

#include "common/ascii.h"
#include "common/utf8.h"
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
    // 4: the log keyed for ingest speed (Store::add_log_batch): a record row is its line with
    // the time as an integer (ms); the searched fields are 64-bit keys in one WITHOUT ROWID
    // index led by a bucket (a batch's keys share one), with the record's time so that each
    // bucket is read newest first; log_buckets holds each bucket's time span (searches skip
    // what cannot be newer) and its records (log_count). Filtered fields are read from the
    // line. The records of version 3 are carried over and keyed (mx_log_key, mx_log_time:
    // register_log_functions), in buckets of 4096 by id.
    "CREATE TABLE log_records_4 ("
    "  id INTEGER PRIMARY KEY,"
    "  node TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  line TEXT NOT NULL,"
    "  UNIQUE (node, seq));"
    "INSERT INTO log_records_4 (id, node, seq, time, line) "
    "  SELECT id, node, seq, mx_log_time(time), line FROM log_records;"
    "CREATE TABLE log_keys ("
    "  bucket INTEGER NOT NULL,"
    "  key INTEGER NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  record INTEGER NOT NULL,"
    "  PRIMARY KEY (bucket, key, time, record)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO log_keys (bucket, key, time, record) "
    "  SELECT id >> 12, mx_log_key(1, tenant), mx_log_time(time), id FROM log_records WHERE tenant != '' "
    "  UNION ALL SELECT id >> 12, mx_log_key(2, mail_from), mx_log_time(time), id FROM log_records WHERE mail_from != '' "
    "  UNION ALL SELECT id >> 12, mx_log_key(4, message_id), mx_log_time(time), id FROM log_records WHERE message_id != '' "
    "  UNION ALL SELECT id >> 12, mx_log_key(5, client_ip), mx_log_time(time), id FROM log_records WHERE client_ip != '' "
    "  UNION ALL SELECT x.record >> 12, mx_log_key(3, x.rcpt), mx_log_time(r.time), x.record "
    "    FROM log_rcpts x JOIN log_records r ON r.id = x.record WHERE x.rcpt != '';"
    "CREATE TABLE log_buckets ("
    "  bucket INTEGER PRIMARY KEY,"
    "  records INTEGER NOT NULL,"
    "  min_time INTEGER NOT NULL,"
    "  max_time INTEGER NOT NULL);"
    "INSERT INTO log_buckets (bucket, records, min_time, max_time) "
    "  SELECT id >> 12, count(*), min(time), max(time) FROM log_records_4 GROUP BY id >> 12;"
    "DROP TABLE log_rcpts;"
    "DROP TABLE log_records;"
    "ALTER TABLE log_records_4 RENAME TO log_records;"
    "CREATE INDEX log_time ON log_records (time);",
    // 5: `user` columns renamed user_id (`user` is a reserved word in PostgreSQL's SQL).
    "ALTER TABLE user_settings RENAME COLUMN user TO user_id; ALTER TABLE list_entries RENAME COLUMN user TO user_id;",
};
constexpr int kMigrationCount = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
static_assert(kMigrationCount == kStoreSchemaVersion);

// A new PostgreSQL store is created at this version in one step (kPgSchema: the tables of
// kMigrations' steps as they stand after the last, in PostgreSQL's types); a later version
// adds its step for both databases here and in kMigrations.
constexpr int kPgSchemaVersion = 5;
static_assert(kPgSchemaVersion == kStoreSchemaVersion, "a new schema version needs its PostgreSQL step");
const char* const kPgSchema =
    "CREATE TABLE generations ("
    "  gen BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  created TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  comment TEXT NOT NULL DEFAULT '',"
    "  tenants BIGINT NOT NULL,"
    "  users BIGINT NOT NULL,"
    "  rollback_of BIGINT REFERENCES generations (gen),"
    "  document TEXT NOT NULL);"
    "CREATE TABLE nodes ("
    "  name TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  generation BIGINT NOT NULL DEFAULT 0,"
    "  nacked BIGINT NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  last_seen TEXT NOT NULL);"
    "CREATE TABLE audit ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  time TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE tenants ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created TEXT NOT NULL,"
    "  suspended BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE tenant_settings ("
    "  tenant BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (tenant, key));"
    "CREATE TABLE domains ("
    "  name TEXT PRIMARY KEY,"
    "  tenant BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE);"
    "CREATE INDEX domains_tenant ON domains (tenant);"
    "CREATE TABLE users ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  tenant BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  address TEXT NOT NULL UNIQUE);"
    "CREATE INDEX users_tenant ON users (tenant);"
    "CREATE TABLE user_settings ("
    "  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (user_id, key));"
    "CREATE TABLE list_entries ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  tenant BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    "  user_id BIGINT NOT NULL DEFAULT 0,"
    "  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),"
    "  entry TEXT NOT NULL,"
    "  UNIQUE (tenant, user_id, kind, entry));"
    "CREATE TABLE tokens ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  tenant BIGINT REFERENCES tenants (id) ON DELETE CASCADE,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE policy_state ("
    "  id BIGINT PRIMARY KEY CHECK (id = 1),"
    "  changed BIGINT NOT NULL DEFAULT 0);"
    "INSERT INTO policy_state (id, changed) VALUES (1, 0);"
    "CREATE TABLE log_records ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  node TEXT NOT NULL,"
    "  seq BIGINT NOT NULL,"
    "  time BIGINT NOT NULL,"
    "  line BYTEA NOT NULL,"  // a node's bytes exactly (PostgreSQL text must be UTF-8)
    "  UNIQUE (node, seq));"
    "CREATE INDEX log_time ON log_records (time);"
    "CREATE TABLE log_keys ("
    "  bucket BIGINT NOT NULL,"
    "  key BIGINT NOT NULL,"
    "  time BIGINT NOT NULL,"
    "  record BIGINT NOT NULL,"
    "  PRIMARY KEY (bucket, key, time, record));"
    "CREATE TABLE log_buckets ("
    "  bucket BIGINT PRIMARY KEY,"
    "  records BIGINT NOT NULL,"
    "  min_time BIGINT NOT NULL,"
    "  max_time BIGINT NOT NULL);";

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

// ---- the transaction log: the fields of a record line ----

// Nesting the fast scan follows; a deeper line goes to ipc::parse_json (which allows
// ipc::kMaxJsonDepth). Records are two levels deep.
constexpr size_t kMaxLogScanDepth = 16;
// A number longer than this goes to ipc::parse_json, which decides whether it is in range.
constexpr size_t kMaxLogScanNumber = 64;

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The length of the valid UTF-8 sequence at s[i] (a byte >= 0x80), or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) — what ipc::parse_json accepts in a string.
size_t utf8_at(std::string_view s, size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c == 0xe0) len = 3, lo = 0xa0;
  else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) len = 3;
  else if (c == 0xed) len = 3, hi = 0x9f;
  else if (c == 0xf0) len = 4, lo = 0x90;
  else if (c >= 0xf1 && c <= 0xf3) len = 4;
  else if (c == 0xf4) len = 4, hi = 0x8f;
  else return 0;
  if (s.size() - i < len) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return len;
}

// Bytes that stand for themselves in a JSON string: printable ASCII but the quote and backslash.
constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

// The fields of a record line that are indexed, filtered on or returned, decoded as JSON
// strings: views into the line, or into this object's own storage, valid until the next
// extract(). Reuse one object for many lines: its storage keeps its capacity.
//
// A full parse of every line into a tree (some 30 values) costs about three times a scan for
// just these members of the top-level object, which validates the rest as it goes: a quarter
// of the ingest's CPU once the index work had shrunk. The scan handles the common shapes only;
// for anything else (exponents, very long numbers, deep nesting, a top level that is not an
// object, or any error) it gives up and ipc::parse_json decides, so the result is always what
// parse_json + get_str would give (the first member of a name wins, a member of another kind
// counts as absent).
class LogFields {
 public:
  bool parsed = false;  // the line is JSON; else it is stored "unparsed", unindexed
  std::string_view time, event, tenant, mail_from, message_id, client_ip, cls, action, subject;
  std::vector<std::string_view> rcpts;  // the string items of "rcpts"

  void extract(std::string_view line) {
    clear();
    // Decoded strings are never longer than their escaped source, and sources do not overlap:
    // with this capacity the arena never moves, so views into it stay valid.
    arena_.clear();
    if (arena_.capacity() < line.size()) arena_.reserve(line.size());
    if (scan(line)) return;
    clear();
    auto v = ipc::parse_json(line, ipc::kMaxJsonBytes);
    if (!v) return;
    tree_ = std::move(*v);
    parsed = true;
    time = tree_.get_str("time");
    event = tree_.get_str("event");
    tenant = tree_.get_str("tenant");
    mail_from = tree_.get_str("mail_from");
    message_id = tree_.get_str("message_id");
    client_ip = tree_.get_str("client_ip");
    cls = tree_.get_str("class");
    action = tree_.get_str("action");
    subject = tree_.get_str("subject");
    if (const ipc::JsonValue* r = tree_.get("rcpts"))
      for (const ipc::JsonValue& x : r->items)
        if (x.kind == ipc::JsonValue::Kind::kString) rcpts.emplace_back(x.str);
  }

 private:
  void clear() {
    parsed = false;
    time = event = tenant = mail_from = message_id = client_ip = cls = action = subject = {};
    rcpts.clear();
  }

  void ws() noexcept {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r')) ++p_;
  }

  // The whole line: one object and nothing after it but whitespace.
  bool scan(std::string_view line) {
    t_ = line;
    p_ = 0;
    items_ = 0;
    ws();
    if (p_ >= t_.size() || t_[p_] != '{') return false;
    ++items_;
    ++p_;
    ws();
    uint32_t seen = 0;  // the members met so far, by bit: the first of a name wins
    if (p_ < t_.size() && t_[p_] == '}') {
      ++p_;
    } else {
      for (;;) {
        ws();
        std::string_view key;
        if (p_ >= t_.size() || t_[p_] != '"' || !string(&key)) return false;
        ws();
        if (p_ >= t_.size() || t_[p_] != ':') return false;
        ++p_;
        ws();
        const int f = field(key);
        const bool first = f >= 0 && !(seen & (1u << f));
        if (f >= 0) seen |= 1u << f;
        if (!first) {
          if (!value(1)) return false;
        } else if (f == kRcpts) {
          if (!rcpt_list()) return false;
        } else if (p_ < t_.size() && t_[p_] == '"') {
          ++items_;
          if (!string(slot(f))) return false;
        } else if (!value(1)) {
          return false;
        }
        ws();
        if (p_ < t_.size() && t_[p_] == ',') {
          ++p_;
        } else if (p_ < t_.size() && t_[p_] == '}') {
          ++p_;
          break;
        } else {
          return false;
        }
      }
    }
    ws();
    if (p_ != t_.size() || items_ > ipc::kMaxJsonItems) return false;
    parsed = true;
    return true;
  }

  enum : int { kTime, kEvent, kTenant, kMailFrom, kMessageId, kClientIp, kClass, kAction, kSubject, kRcpts };

  // Most members are none of these: the length rules out all but one or three.
  static int field(std::string_view k) noexcept {
    auto is = [&](std::string_view name, int f) { return k == name ? f : -1; };
    switch (k.size()) {
      case 4: return is("time", kTime);
      case 5: return k[0] == 'e' ? is("event", kEvent) : k[0] == 'c' ? is("class", kClass) : is("rcpts", kRcpts);
      case 6: return k[0] == 't' ? is("tenant", kTenant) : is("action", kAction);
      case 7: return is("subject", kSubject);
      case 9: return k[0] == 'm' ? is("mail_from", kMailFrom) : is("client_ip", kClientIp);
      case 10: return is("message_id", kMessageId);
      default: return -1;
    }
  }

  std::string_view* slot(int f) noexcept {
    std::string_view* const kSlots[] = {&time,      &event, &tenant, &mail_from, &message_id,
                                        &client_ip, &cls,   &action, &subject};
    return kSlots[f];
  }

  // "rcpts" (its first occurrence): an array's string items; a value of another kind is valid
  // JSON but no recipients.
  bool rcpt_list() {
    if (p_ >= t_.size() || t_[p_] != '[') return value(1);
    ++items_;
    ++p_;
    ws();
    if (p_ < t_.size() && t_[p_] == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      ws();
      if (p_ < t_.size() && t_[p_] == '"') {
        ++items_;
        if (!string(&rcpts.emplace_back())) return false;
      } else if (!value(2)) {
        return false;
      }
      ws();
      if (p_ < t_.size() && t_[p_] == ',') {
        ++p_;
      } else if (p_ < t_.size() && t_[p_] == ']') {
        ++p_;
        return true;
      } else {
        return false;
      }
    }
  }

  // Any value, validated and skipped; `depth`: the containers around it.
  bool value(size_t depth) {
    if (p_ >= t_.size()) return false;
    ++items_;
    const char c = t_[p_];
    if (c == '"') return string(nullptr);
    if (c == '{' || c == '[') {
      if (depth >= kMaxLogScanDepth) return false;
      const char close = c == '{' ? '}' : ']';
      ++p_;
      ws();
      if (p_ < t_.size() && t_[p_] == close) {
        ++p_;
        return true;
      }
      for (;;) {
        ws();
        if (c == '{') {
          if (p_ >= t_.size() || t_[p_] != '"' || !string(nullptr)) return false;
          ws();
          if (p_ >= t_.size() || t_[p_] != ':') return false;
          ++p_;
          ws();
        }
        if (!value(depth + 1)) return false;
        ws();
        if (p_ < t_.size() && t_[p_] == ',') {
          ++p_;
        } else if (p_ < t_.size() && t_[p_] == close) {
          ++p_;
          return true;
        } else {
          return false;
        }
      }
    }
    const std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : "";
    if (word.empty()) return number();
    if (t_.substr(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // RFC 8259 6, without an exponent (those go to parse_json, which bounds their range).
  bool number() {
    const size_t start = p_;
    auto digit = [&] { return p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9'; };
    if (p_ < t_.size() && t_[p_] == '-') ++p_;
    if (!digit()) return false;
    if (t_[p_] == '0') {
      ++p_;
      if (digit()) return false;
    } else {
      while (digit()) ++p_;
    }
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      if (!digit()) return false;
      while (digit()) ++p_;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) return false;
    return p_ - start <= kMaxLogScanNumber;
  }

  // At the opening quote. `out` (when wanted) gets the decoded string: a view into the line
  // when it has no escapes, else into the arena.
  bool string(std::string_view* out) {
    const size_t start = ++p_;
    size_t decoded = std::string::npos;  // where this string's bytes begin in the arena, once escaped
    for (;;) {
      if (p_ >= t_.size()) return false;
      const auto c = static_cast<unsigned char>(t_[p_]);
      if (c == '"') {
        if (out) *out = decoded == std::string::npos ? t_.substr(start, p_ - start)
                                                     : std::string_view(arena_).substr(decoded);
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c < 0x80 && c != '\\') {  // the run of plain ASCII
        size_t end = p_ + 1;
        while (end < t_.size() && kPlain[static_cast<unsigned char>(t_[end])]) ++end;
        if (decoded != std::string::npos) arena_.append(t_.substr(p_, end - p_));
        p_ = end;
        continue;
      }
      if (c >= 0x80) {
        const size_t len = utf8_at(t_, p_);
        if (len == 0) return false;
        if (decoded != std::string::npos) arena_.append(t_.substr(p_, len));
        p_ += len;
        continue;
      }
      // An escape: from here on the string is decoded into the arena (when it is wanted).
      if (out && decoded == std::string::npos) {
        decoded = arena_.size();
        arena_.append(t_.substr(start, p_ - start));
      }
      if (p_ + 1 >= t_.size()) return false;
      const char e = t_[p_ + 1];
      p_ += 2;
      char plain = 0;
      switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': break;
        default: return false;
      }
      if (e != 'u') {
        if (decoded != std::string::npos) arena_ += plain;
        continue;
      }
      uint32_t cp = 0;
      if (!hex4(p_, cp)) return false;
      p_ += 4;
      if (cp >= 0xd800 && cp <= 0xdbff) {  // a high surrogate: a low one must follow
        uint32_t low = 0;
        if (!(p_ + 1 < t_.size() && t_[p_] == '\\' && t_[p_ + 1] == 'u' && hex4(p_ + 2, low) && low >= 0xdc00 &&
              low <= 0xdfff))
          return false;
        p_ += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return false;
      }
      if (decoded != std::string::npos) append_utf8(arena_, cp);
    }
  }

  bool hex4(size_t at, uint32_t& cp) const noexcept {
    if (at > t_.size() || t_.size() - at < 4) return false;
    cp = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int h = hex_digit(t_[at + k]);
      if (h < 0) return false;
      cp = cp << 4 | static_cast<uint32_t>(h);
    }
    return true;
  }

  std::string_view t_;
  size_t p_ = 0;
  size_t items_ = 0;
  std::string arena_;
  ipc::JsonValue tree_;
};

// ---- the transaction log: keys, times, buckets ----

// log_keys leads with a bucket, and a batch's keys all go to one: so a commit rewrites that
// bucket's slice of the index only (keys spread over one index of every record made each
// commit write a page per key once the index outgrew the page cache). Small batches share the
// newest bucket up to this many records; a batch that does not fit opens a new bucket, so
// under load every (full) batch has its own and its sorted keys are appends at the end of the
// index (a second full batch merged into a bucket cost twice the B-tree seeking, 17% more
// instructions a record). A search probes each bucket, newest first, until the rest cannot be
// newer (a few microseconds a bucket): fewer records a bucket make small batches cheaper to key
// and searches over many records dearer.
constexpr int64_t kLogBucketRecords = 4096;

// Keys inserted by one statement (fewer steps and resets of a statement).
constexpr size_t kLogKeysPerInsert = 32;

// What a key in log_keys is the value of. Hashed into the key, like log_key itself, this is part
// of the file's format: never renumber.
enum class LogKey : int { kTenant = 1, kSender = 2, kRcpt = 3, kMessageId = 4, kClientIp = 5 };

// The index key of a field's value: 64 bits of FNV-1a over the field and the value
// (ASCII-lowered for addresses, which are searched without regard to case), then splitmix64's
// finalizer. A search checks every row it reads against the query, so a collision costs a row
// read, never a wrong answer.
int64_t log_key(LogKey kind, std::string_view v) noexcept {
  constexpr uint64_t kFnvOffset = 14695981039346656037ull, kFnvPrime = 1099511628211ull;
  const bool fold = kind == LogKey::kSender || kind == LogKey::kRcpt;
  uint64_t h = (kFnvOffset ^ static_cast<uint64_t>(kind)) * kFnvPrime;
  for (const char c : v) h = (h ^ static_cast<unsigned char>(fold ? ascii_lower(c) : c)) * kFnvPrime;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<int64_t>(h);
}

// A batch's key rows (one bucket).
struct LogKeyRow {
  int64_t key, time, record;
  bool operator==(const LogKeyRow&) const = default;
};

// Into key order, records in the order they came within a key (a radix sort, least significant
// byte first, is stable): std::sort of a batch's ~24,000 keys was 6% of the ingest's
// instructions.
void sort_log_keys(std::vector<LogKeyRow>& keys) {
  constexpr int kDigitBits = 8;
  constexpr size_t kDigits = size_t{1} << kDigitBits;
  std::vector<LogKeyRow> tmp(keys.size());
  // SQLite orders integers signed: flipping the sign bit makes that the unsigned order.
  auto digit = [](const LogKeyRow& r, int shift) {
    return static_cast<size_t>(((static_cast<uint64_t>(r.key) ^ (uint64_t{1} << 63)) >> shift) & (kDigits - 1));
  };
  for (int shift = 0; shift < 64; shift += kDigitBits) {
    std::array<size_t, kDigits> count{};
    for (const LogKeyRow& r : keys) ++count[digit(r, shift)];
    size_t at = 0;
    for (size_t& c : count) at += std::exchange(c, at);
    for (const LogKeyRow& r : keys) tmp[count[digit(r, shift)]++] = r;
    keys.swap(tmp);
  }
}

// A time as milliseconds since 1970 (UTC), or nullopt. Records carry 2026-12-03T10:00:00.667Z
// (ipc::log_time); a query's since/until may stop after any part ("2026-12-03",
// "2026-12-03T10:00", meaning its start), have more or fewer fraction digits, and give an
// offset (+01:00; none means UTC).
std::optional<int64_t> log_time_ms(std::string_view s) {
  size_t p = 0;
  auto at = [&](char c) { return p < s.size() && s[p] == c; };
  auto num = [&](size_t digits, int& out) {
    if (s.size() - p < digits) return false;
    out = 0;
    for (size_t k = 0; k < digits; ++k, ++p) {
      if (s[p] < '0' || s[p] > '9') return false;
      out = out * 10 + (s[p] - '0');
    }
    return true;
  };
  int y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
  if (!num(4, y)) return std::nullopt;
  if (at('-')) {
    ++p;
    if (!num(2, mo)) return std::nullopt;
    if (at('-')) {
      ++p;
      if (!num(2, d)) return std::nullopt;
      if (at('T') || at('t') || at(' ')) {
        ++p;
        if (!num(2, h)) return std::nullopt;
        if (at(':')) {
          ++p;
          if (!num(2, mi)) return std::nullopt;
          if (at(':')) {
            ++p;
            if (!num(2, sec)) return std::nullopt;
            if (at('.')) {
              ++p;
              const size_t first = p;
              for (int scale = 100; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p, scale /= 10) ms += (s[p] - '0') * scale;
              if (p == first) return std::nullopt;
            }
          }
        }
      }
    }
  }
  int64_t offset_min = 0;
  if (at('Z') || at('z')) {
    ++p;
  } else if (at('+') || at('-')) {
    const int sign = s[p++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!num(2, oh)) return std::nullopt;
    if (at(':')) ++p;
    if (!num(2, om) || oh > 23 || om > 59) return std::nullopt;
    offset_min = sign * (oh * 60 + om);
  }
  if (p != s.size() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  return (((days * 24 + h) * 60 + mi - offset_min) * 60 + sec) * 1000 + ms;
}

// A record's time for ordering and since/until: a line without a valid time counts as 0 (the
// oldest).
int64_t record_time(const LogFields& f) { return f.parsed ? log_time_ms(f.time).value_or(0) : 0; }

// mx_log_time(text) and mx_log_key(kind, text) for SQL: migration 4 re-keys the records of the
// schema before it with them, exactly as add_log_batch keys new ones.
void sql_log_time(sqlite3_context* c, int, sqlite3_value** v) {
  const auto* p = sqlite3_value_text(v[0]);
  const std::string_view s =
      p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(v[0]))) : "";
  sqlite3_result_int64(c, log_time_ms(s).value_or(0));
}

void sql_log_key(sqlite3_context* c, int, sqlite3_value** v) {
  const auto* p = sqlite3_value_text(v[1]);
  const std::string_view s =
      p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(v[1]))) : "";
  sqlite3_result_int64(c, log_key(static_cast<LogKey>(sqlite3_value_int(v[0])), s));
}

bool register_log_functions(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  return sqlite3_create_function_v2(db, "mx_log_time", 1, kFlags, nullptr, sql_log_time, nullptr, nullptr, nullptr) ==
             SQLITE_OK &&
         sqlite3_create_function_v2(db, "mx_log_key", 2, kFlags, nullptr, sql_log_key, nullptr, nullptr, nullptr) ==
             SQLITE_OK;
}

}  // namespace

std::string utc_now() { return ipc::log_time(); }

Expected<std::unique_ptr<Store>> Store::open(const std::string& where) {
  auto db = Db::open(where);
  if (!db) return db.error();
  std::unique_ptr<Store> s(new Store(std::move(*db)));
  const std::string shown = redacted_store(where);
  if (sqlite3* lite = s->db_->sqlite()) {
    if (!register_log_functions(lite)) return Error{"store " + shown + ": " + s->db_->error()};
    // A page cache for the pages the log's commits rewrite (the newest bucket of log_keys, the
    // tails of the other indexes) and the pages searches come back to, and memory-mapped reads.
    // (Other cache, mmap and checkpoint sizes made no measurable difference to the log's ingest.)
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL;", "PRAGMA foreign_keys=ON;", "PRAGMA synchronous=FULL;", "PRAGMA cache_size=-131072;",
          "PRAGMA mmap_size=1073741824;", "PRAGMA temp_store=MEMORY;", "PRAGMA wal_autocheckpoint=16384;"})
      if (auto r = s->exec(pragma); !r) return Error{"store " + shown + ": " + r.error().message};
  }
  if (auto r = s->migrate(); !r) return Error{"store " + shown + ": " + r.error().message};
  return s;
}

Store::Store(std::unique_ptr<Db> db) : db_(std::move(db)) {}
Store::~Store() = default;

bool Store::postgres() const { return db_->postgres(); }

Expected<bool> Store::exec(const char* sql) { return db_->exec(sql); }

Expected<bool> Store::migrate() {
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"); !r) return r;
  {
    Stmt q(*db_, "SELECT version FROM schema_version;");
    version_ = q.step() == kStepRow ? static_cast<int>(q.i64(0)) : 0;
  }
  if (version_ > kStoreSchemaVersion)
    return Error{"schema version " + std::to_string(version_) + " is newer than this mxgate-control's (" +
                 std::to_string(kStoreSchemaVersion) + ")"};
  while (version_ < kStoreSchemaVersion) {
    if (auto r = db_->begin(); !r) return r;
    // PostgreSQL: a new store is made at kPgSchemaVersion in one step.
    const bool pg_new = db_->postgres() && version_ == 0;
    if (db_->postgres() && !pg_new) {
      db_->rollback();
      return Error{"no PostgreSQL migration from schema version " + std::to_string(version_)};
    }
    auto step = exec(pg_new ? kPgSchema : kMigrations[version_]);
    const int next = pg_new ? kPgSchemaVersion : version_ + 1;
    if (step) {
      Stmt del(*db_, "DELETE FROM schema_version;");
      Stmt ins(*db_, "INSERT INTO schema_version (version) VALUES (?);");
      if (del.step() != kStepDone || ins.bind(1, int64_t{next}).step() != kStepDone) step = Error{db_->error()};
    }
    if (!step) {
      db_->rollback();
      return Error{"migration to schema version " + std::to_string(next) + ": " + step.error().message};
    }
    if (auto r = db_->commit(); !r) return r;
    version_ = next;
  }
  return true;
}

Expected<uint64_t> Store::commit(const std::string& document, const std::string& actor, const std::string& comment,
                                 uint64_t tenants, uint64_t users, uint64_t rollback_of) {
  if (auto r = db_->begin(); !r) return r.error();
  const std::string now = utc_now();
  Stmt ins(*db_,
           "INSERT INTO generations (created, actor, comment, tenants, users, rollback_of, document) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING gen;");
  ins.bind(1, now).bind(2, cut(actor, kMaxActor)).bind(3, cut(comment, kMaxComment));
  ins.bind(4, static_cast<int64_t>(tenants)).bind(5, static_cast<int64_t>(users));
  if (rollback_of) ins.bind(6, static_cast<int64_t>(rollback_of)); else ins.bind_null(6);
  ins.bind(7, document);
  if (ins.step() != kStepRow) {
    const std::string why = db_->error();
    db_->rollback();
    return Error{"commit: " + why};
  }
  const auto gen = static_cast<uint64_t>(ins.i64(0));
  ins.reset();
  std::string detail = std::to_string(tenants) + " tenant(s), " + std::to_string(users) + " user(s)";
  if (rollback_of) detail += ", the document of generation " + std::to_string(rollback_of);
  if (!comment.empty()) detail += ": " + cut(comment, kMaxComment);
  audit(actor, rollback_of ? "rollback" : "commit", "generation " + std::to_string(gen), detail);
  if (auto r = db_->commit(); !r) {
    db_->rollback();
    return Error{"commit: " + r.error().message};
  }
  return gen;
}

std::optional<Generation> Store::current() {
  Stmt q(*db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of, document FROM generations "
              "ORDER BY gen DESC LIMIT 1;");
  if (q.step() != kStepRow) return std::nullopt;
  return row_generation(q, true);
}

std::optional<Generation> Store::get(uint64_t gen) {
  Stmt q(*db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of, document FROM generations "
              "WHERE gen = ?;");
  q.bind(1, static_cast<int64_t>(gen));
  if (q.step() != kStepRow) return std::nullopt;
  return row_generation(q, true);
}

std::vector<Generation> Store::list(size_t limit) {
  Stmt q(*db_, "SELECT gen, created, actor, comment, tenants, users, rollback_of FROM generations "
              "ORDER BY gen DESC LIMIT ?;");
  q.bind(1, static_cast<int64_t>(limit));
  std::vector<Generation> out;
  while (q.step() == kStepRow) out.push_back(row_generation(q, false));
  return out;
}

void Store::node_connected(const std::string& name, uint64_t generation) {
  Stmt q(*db_, "INSERT INTO nodes (name, state, generation, last_seen) VALUES (?, 'connected', ?, ?) "
              "ON CONFLICT(name) DO UPDATE SET state = 'connected', generation = excluded.generation, "
              "last_seen = excluded.last_seen;");
  q.bind(1, cut(name, kMaxNodeName)).bind(2, static_cast<int64_t>(generation)).bind(3, utc_now()).step();
}

void Store::node_acked(const std::string& name, uint64_t generation) {
  Stmt q(*db_, "UPDATE nodes SET generation = ?, last_seen = ? WHERE name = ?;");
  q.bind(1, static_cast<int64_t>(generation)).bind(2, utc_now()).bind(3, cut(name, kMaxNodeName)).step();
}

void Store::node_nacked(const std::string& name, uint64_t generation, const std::string& reason) {
  {  // the same refusal again (a node repeating itself) is not audited again
    Stmt same(*db_, "SELECT 1 FROM nodes WHERE name = ? AND nacked = ? AND reason = ?;");
    same.bind(1, cut(name, kMaxNodeName)).bind(2, static_cast<int64_t>(generation)).bind(3, cut(reason, 4096));
    if (same.step() == kStepRow) return;
  }
  Stmt q(*db_, "UPDATE nodes SET nacked = ?, reason = ?, last_seen = ? WHERE name = ?;");
  q.bind(1, static_cast<int64_t>(generation)).bind(2, cut(reason, 4096)).bind(3, utc_now());
  q.bind(4, cut(name, kMaxNodeName)).step();
  audit("node " + cut(name, kMaxNodeName), "nack", "generation " + std::to_string(generation), cut(reason, 4096));
}

void Store::node_gone(const std::string& name) {
  Stmt q(*db_, "UPDATE nodes SET state = 'gone', last_seen = ? WHERE name = ?;");
  q.bind(1, utc_now()).bind(2, cut(name, kMaxNodeName)).step();
}

void Store::all_nodes_gone() {
  Stmt q(*db_, "UPDATE nodes SET state = 'gone' WHERE state != 'gone';");
  q.step();
}

std::vector<NodeState> Store::nodes() {
  Stmt q(*db_, "SELECT name, state, generation, nacked, reason, last_seen FROM nodes ORDER BY name;");
  std::vector<NodeState> out;
  while (q.step() == kStepRow)
    out.push_back(NodeState{q.text(0), q.text(1), static_cast<uint64_t>(q.i64(2)), static_cast<uint64_t>(q.i64(3)),
                            q.text(4), q.text(5)});
  return out;
}

void Store::audit(const std::string& actor, const std::string& action, const std::string& object,
                  const std::string& detail) {
  Stmt q(*db_, "INSERT INTO audit (time, actor, action, object, detail) VALUES (?, ?, ?, ?, ?);");
  q.bind(1, utc_now()).bind(2, cut(actor, kMaxActor)).bind(3, action).bind(4, object).bind(5, detail).step();
}

std::vector<AuditEntry> Store::audit_log(size_t limit) {
  Stmt q(*db_, "SELECT id, time, actor, action, object, detail FROM audit ORDER BY id DESC LIMIT ?;");
  q.bind(1, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  while (q.step() == kStepRow) out.push_back(AuditEntry{q.i64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5)});
  return out;
}

Expected<uint64_t> Store::add_log_batch(const std::string& node, uint64_t seq, std::string_view lines) {
  if (auto r = db_->begin(); !r) return r.error();
  // Prepared once a batch: a batch is thousands of records, so preparing is noise.
  Stmt newest(*db_, "SELECT bucket, records FROM log_buckets ORDER BY bucket DESC LIMIT 1;");
  // A record seen before adds nothing. (SQLite: INSERT OR IGNORE and the rowid, ~1.5x the
  // records/s of RETURNING in bench_control_log; PostgreSQL: RETURNING, no row when seen.)
  const bool pg = db_->postgres();
  Stmt rec(*db_, pg ? "INSERT INTO log_records (node, seq, time, line) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (node, seq) DO NOTHING RETURNING id;"
                    : "INSERT OR IGNORE INTO log_records (node, seq, time, line) VALUES (?, ?, ?, ?);");
  Stmt key(*db_, "INSERT INTO log_keys (bucket, key, time, record) VALUES (?, ?, ?, ?);");
  std::string many = "INSERT INTO log_keys (bucket, key, time, record) VALUES (?, ?, ?, ?)";
  for (size_t j = 1; j < kLogKeysPerInsert; ++j) many += ", (?, ?, ?, ?)";
  Stmt keys_n(*db_, (many + ";").c_str());
  Stmt span(*db_,
            "INSERT INTO log_buckets (bucket, records, min_time, max_time) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (bucket) DO UPDATE SET records = log_buckets.records + excluded.records, "
            "min_time = CASE WHEN excluded.min_time < log_buckets.min_time THEN excluded.min_time "
            "ELSE log_buckets.min_time END, "
            "max_time = CASE WHEN excluded.max_time > log_buckets.max_time THEN excluded.max_time "
            "ELSE log_buckets.max_time END;");
  auto fail = [&](std::string why) -> Error {
    db_->rollback();
    return Error{"log batch: " + why};
  };
  if (!newest.ok() || !rec.ok() || !key.ok() || !keys_n.ok() || !span.ok()) return fail(db_->error());
  int64_t records = 0, min_time = std::numeric_limits<int64_t>::max(), max_time = std::numeric_limits<int64_t>::min();
  std::vector<LogKeyRow> keys;
  size_t pos = 0;
  const std::string who = cut(node, kMaxNodeName);
  LogFields f;
  while (pos < lines.size()) {
    const size_t eol = lines.find('\n', pos);
    const size_t end = eol == std::string_view::npos ? lines.size() : eol;
    const std::string_view line = lines.substr(pos, end - pos);
    const uint64_t at = seq + pos;
    pos = end + 1;
    if (line.empty()) continue;
    // The indexed fields; a line that is not JSON is kept all the same (never lost), unindexed.
    f.extract(line);
    const int64_t time = record_time(f);
    rec.reset();
    rec.bind_static(1, who).bind(2, static_cast<int64_t>(at)).bind(3, time).bind_bytes_static(4, line);
    const int got = rec.step();
    int64_t id = 0;
    if (pg) {
      if (got == kStepDone) continue;  // had it already
      if (got != kStepRow) return fail(db_->error());
      id = rec.i64(0);
      rec.reset();  // a statement left mid-way would keep the transaction from committing
    } else {
      if (got != kStepDone) return fail(db_->error());
      if (db_->changes() == 0) continue;  // had it already
      id = db_->last_insert_id();
    }
    ++records;
    min_time = std::min(min_time, time);
    max_time = std::max(max_time, time);
    auto add_key = [&](LogKey kind, std::string_view v) {
      if (!v.empty()) keys.push_back(LogKeyRow{log_key(kind, v), time, id});  // "" is no filter
    };
    add_key(LogKey::kTenant, f.tenant);
    add_key(LogKey::kSender, f.mail_from);
    add_key(LogKey::kMessageId, f.message_id);
    add_key(LogKey::kClientIp, f.client_ip);
    for (const std::string_view r : f.rcpts) add_key(LogKey::kRcpt, r);
  }
  // The whole batch goes to one bucket: the newest if the batch fits in it, else a new one.
  int64_t bucket = 0;
  if (newest.step() == kStepRow) bucket = newest.i64(0) + (newest.i64(1) + records > kLogBucketRecords ? 1 : 0);
  // Done with it: a statement left on a row holds a read snapshot, and then the checkpoint at
  // this commit cannot restart the WAL, which grew to 843 MB over 1M records (bench_control_log).
  newest.reset();
  // In index order, into the bucket's slice of the index: for a new bucket (a full batch under
  // load) every insert is an append. Sorting also brings together, to be dropped, a record's
  // repeated key (a recipient given twice).
  sort_log_keys(keys);
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  size_t k = 0;
  for (; k + kLogKeysPerInsert <= keys.size(); k += kLogKeysPerInsert) {
    keys_n.reset();
    for (size_t j = 0; j < kLogKeysPerInsert; ++j) {
      const LogKeyRow& r = keys[k + j];
      const int at = static_cast<int>(j * 4);
      keys_n.bind(at + 1, bucket).bind(at + 2, r.key).bind(at + 3, r.time).bind(at + 4, r.record);
    }
    if (keys_n.step() != kStepDone) return fail(db_->error());
  }
  for (; k < keys.size(); ++k) {
    key.reset();
    key.bind(1, bucket).bind(2, keys[k].key).bind(3, keys[k].time).bind(4, keys[k].record);
    if (key.step() != kStepDone) return fail(db_->error());
  }
  if (records > 0) {
    span.bind(1, bucket).bind(2, records).bind(3, min_time).bind(4, max_time);
    if (span.step() != kStepDone) return fail(db_->error());
  }
  if (auto r = db_->commit(); !r) return fail(r.error().message);
  return static_cast<uint64_t>(records);
}

namespace {

// The query's conditions on a record's fields (the time is checked by the caller's SQL).
bool log_matches(const LogQuery& q, const LogFields& f) {
  if (!q.tenant.empty() && f.tenant != q.tenant) return false;
  if (!q.sender.empty() && !iequals(f.mail_from, q.sender)) return false;
  if (!q.message_id.empty() && f.message_id != q.message_id) return false;
  if (!q.client_ip.empty() && f.client_ip != q.client_ip) return false;
  if (!q.action.empty() && f.action != q.action) return false;
  if (!q.cls.empty() && f.cls != q.cls) return false;
  if (!q.rcpt.empty() &&
      std::none_of(f.rcpts.begin(), f.rcpts.end(), [&](std::string_view r) { return iequals(r, q.rcpt); }))
    return false;
  return true;
}

// The best `limit` records met so far, newest first: time descending, then node, then
// position descending (a total order: a record is one (node, position)).
class NewestFirst {
 public:
  struct Hit {
    int64_t time, seq;
    std::string node, line;
  };
  explicit NewestFirst(size_t limit) : limit_(limit) {}
  bool full() const { return hits_.size() >= limit_; }
  // Once full, a record older than this cannot get in (one as old still may: ties).
  int64_t worst_time() const { return hits_.back().time; }
  void offer(int64_t time, std::string_view node, int64_t seq, std::string_view line) {
    auto before = [](const Hit& a, int64_t t, std::string_view n, int64_t s) {
      if (a.time != t) return a.time > t;
      if (a.node != n) return a.node < n;
      return a.seq > s;
    };
    if (full() && before(hits_.back(), time, node, seq)) return;
    auto it = std::partition_point(hits_.begin(), hits_.end(), [&](const Hit& h) { return before(h, time, node, seq); });
    hits_.insert(it, Hit{time, seq, std::string(node), std::string(line)});
    if (hits_.size() > limit_) hits_.pop_back();
  }
  std::vector<Hit>& hits() { return hits_; }

 private:
  size_t limit_;
  std::vector<Hit> hits_;
};

}  // namespace

std::vector<LogRecord> Store::search_log(const LogQuery& q) {
  if (q.limit == 0) return {};
  int64_t since = std::numeric_limits<int64_t>::min(), until = std::numeric_limits<int64_t>::max();
  if (!q.since.empty()) {
    const auto t = log_time_ms(q.since);
    if (!t) return {};  // a bound that is not a time matches nothing
    since = *t;
  }
  if (!q.until.empty()) {
    const auto t = log_time_ms(q.until);
    if (!t) return {};
    until = *t;
  }
  // The most selective field given leads (through log_keys); the others are checked on each
  // record read. Without one, the time index is read newest first.
  std::optional<int64_t> lead;
  if (!q.message_id.empty()) lead = log_key(LogKey::kMessageId, q.message_id);
  else if (!q.rcpt.empty()) lead = log_key(LogKey::kRcpt, q.rcpt);
  else if (!q.sender.empty()) lead = log_key(LogKey::kSender, q.sender);
  else if (!q.client_ip.empty()) lead = log_key(LogKey::kClientIp, q.client_ip);
  else if (!q.tenant.empty()) lead = log_key(LogKey::kTenant, q.tenant);

  NewestFirst best(q.limit);
  LogFields f;
  // Reads rows (node, seq, time, line) newest first until none can get in.
  auto take = [&](Stmt& rows) {
    while (rows.step() == kStepRow) {
      const int64_t time = rows.i64(2);
      if (best.full() && time < best.worst_time()) break;
      const std::string_view line = rows.view(3);
      f.extract(line);
      if (log_matches(q, f)) best.offer(time, rows.view(0), rows.i64(1), line);
    }
  };
  if (lead) {
    Stmt buckets(*db_,
                    "SELECT bucket, max_time FROM log_buckets WHERE max_time >= ? AND min_time < ? "
                    "ORDER BY max_time DESC;");
    Stmt rows(*db_,
              "SELECT r.node, r.seq, r.time, r.line FROM log_keys k JOIN log_records r ON r.id = k.record "
                 "WHERE k.bucket = ? AND k.key = ? AND k.time >= ? AND k.time < ? ORDER BY k.time DESC, k.record DESC;");
    buckets.bind(1, since).bind(2, until);
    while (buckets.step() == kStepRow) {
      if (best.full() && best.worst_time() > buckets.i64(1)) break;  // the rest are older
      rows.reset();
      rows.bind(1, buckets.i64(0)).bind(2, *lead).bind(3, since).bind(4, until);
      take(rows);
    }
  } else {
    Stmt rows(*db_, "SELECT node, seq, time, line FROM log_records WHERE time >= ? AND time < ? ORDER BY time DESC;");
    rows.bind(1, since).bind(2, until);
    take(rows);
  }
  std::vector<LogRecord> out;
  out.reserve(best.hits().size());
  for (NewestFirst::Hit& h : best.hits()) {
    f.extract(h.line);
    LogRecord r;
    r.node = std::move(h.node);
    r.seq = static_cast<uint64_t>(h.seq);
    r.time = f.time;
    r.event = f.parsed ? f.event : "unparsed";
    r.tenant = f.tenant;
    r.mail_from = f.mail_from;
    for (const std::string_view x : f.rcpts) {
      if (!r.rcpts.empty()) r.rcpts += ',';
      r.rcpts += x;
    }
    r.message_id = f.message_id;
    r.client_ip = f.client_ip;
    r.cls = f.cls;
    r.action = f.action;
    r.subject = f.subject;
    r.line = std::move(h.line);
    out.push_back(std::move(r));
  }
  return out;
}

Expected<uint64_t> Store::purge_log(const LogRetention& keep, int64_t now_ms, size_t scan, LogPurgeCursor& cursor) {
  constexpr int64_t kDayMs = 86'400'000;
  cursor.more = false;
  int shortest = keep.default_days;
  for (const auto& [tenant, days] : keep.tenant_days)
    if (days > 0 && (shortest == 0 || days < shortest)) shortest = days;
  if (shortest <= 0 || scan == 0) return uint64_t{0};
  const int64_t horizon = now_ms - int64_t{shortest} * kDayMs;  // nothing newer can be expired
  if (auto r = db_->begin(); !r) return r.error();
  auto fail = [&](std::string why) -> Error {
    db_->rollback();
    return Error{"log purge: " + why};
  };
  struct Doomed {
    int64_t id, time;
    std::vector<int64_t> keys;
  };
  std::vector<Doomed> doomed;
  size_t seen = 0;
  {
    Stmt rows(*db_, "SELECT id, time, line FROM log_records WHERE (time, id) > (?, ?) AND time < ? "
                    "ORDER BY time, id LIMIT ?;");
    rows.bind(1, cursor.time).bind(2, cursor.id).bind(3, horizon).bind(4, static_cast<int64_t>(scan));
    LogFields f;
    while (rows.step() == kStepRow) {
      ++seen;
      const int64_t id = rows.i64(0), time = rows.i64(1);
      cursor.time = time;
      cursor.id = id;
      f.extract(rows.view(2));
      const auto own = keep.tenant_days.find(std::string(f.tenant));
      const int days = own != keep.tenant_days.end() ? own->second : keep.default_days;
      if (days <= 0 || time >= now_ms - int64_t{days} * kDayMs) continue;  // kept
      Doomed d{id, time, {}};
      auto add_key = [&](LogKey kind, std::string_view v) {
        if (!v.empty()) d.keys.push_back(log_key(kind, v));
      };
      add_key(LogKey::kTenant, f.tenant);
      add_key(LogKey::kSender, f.mail_from);
      add_key(LogKey::kMessageId, f.message_id);
      add_key(LogKey::kClientIp, f.client_ip);
      for (const std::string_view r : f.rcpts) add_key(LogKey::kRcpt, r);
      std::sort(d.keys.begin(), d.keys.end());
      d.keys.erase(std::unique(d.keys.begin(), d.keys.end()), d.keys.end());
      doomed.push_back(std::move(d));
    }
  }
  cursor.more = seen == scan;
  if (doomed.empty()) {
    db_->rollback();
    return uint64_t{0};
  }
  // A record's keys are in its batch's bucket, whose time span holds the record's time: each
  // key is deleted from the buckets whose spans hold it (its own and maybe a neighbour, where it
  // is not). The record is counted off its bucket: the one a key of it was deleted from, or for
  // a record without keys (a line that is not JSON), the candidate with the most records left.
  struct Span {
    int64_t bucket, min_time, max_time, records;
  };
  std::vector<Span> spans;
  {
    Stmt q(*db_, "SELECT bucket, min_time, max_time, records FROM log_buckets WHERE min_time <= ? ORDER BY bucket;");
    q.bind(1, doomed.back().time);
    while (q.step() == kStepRow) spans.push_back(Span{q.i64(0), q.i64(1), q.i64(2), q.i64(3)});
  }
  Stmt del_rec(*db_, "DELETE FROM log_records WHERE id = ?;");
  Stmt del_key(*db_, "DELETE FROM log_keys WHERE bucket = ? AND key = ? AND time = ? AND record = ?;");
  Stmt count_off(*db_, "UPDATE log_buckets SET records = records - 1 WHERE bucket = ?;");
  for (const Doomed& d : doomed) {
    del_rec.reset();
    if (del_rec.bind(1, d.id).step() != kStepDone) return fail(db_->error());
    Span* home = nullptr;
    for (Span& sp : spans) {
      if (d.time < sp.min_time || d.time > sp.max_time) continue;
      for (const int64_t k : d.keys) {
        del_key.reset();
        if (del_key.bind(1, sp.bucket).bind(2, k).bind(3, d.time).bind(4, d.id).step() != kStepDone)
          return fail(db_->error());
        if (db_->changes() > 0) home = &sp;
      }
    }
    if (!home)
      for (Span& sp : spans)
        if (d.time >= sp.min_time && d.time <= sp.max_time && sp.records > 0 && (!home || sp.records > home->records))
          home = &sp;
    if (!home) continue;
    --home->records;
    count_off.reset();
    if (count_off.bind(1, home->bucket).step() != kStepDone) return fail(db_->error());
  }
  // A bucket with no records and no keys left goes.
  Stmt gone(*db_, "DELETE FROM log_buckets WHERE records <= 0 AND NOT EXISTS "
                  "(SELECT 1 FROM log_keys k WHERE k.bucket = log_buckets.bucket);");
  if (gone.step() != kStepDone) return fail(db_->error());
  if (auto r = db_->commit(); !r) return fail(r.error().message);
  return static_cast<uint64_t>(doomed.size());
}

uint64_t Store::log_count() {
  Stmt q(*db_, "SELECT coalesce(sum(records), 0) FROM log_buckets;");
  return q.step() == kStepRow ? static_cast<uint64_t>(q.i64(0)) : 0;
}

}  // namespace mx::control
