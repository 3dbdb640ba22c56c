// control/store/policy_store.cc — the policy as objects (control/store/policy_store.h).
#include "control/store/policy_store.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_set>

#include "common/ascii.h"
#include "control/store/db.h"
#include "ipc/snapshot.h"
#include "ipc/toml.h"

namespace mx::control {
namespace {

constexpr const char* kPlaceholderDomain = "placeholder.invalid";  // RFC 2606: never a real domain
constexpr const char* kPlaceholderRoute = "192.0.2.1";            // RFC 5737 TEST-NET-1

std::string cut(const std::string& s, size_t max) { return s.size() > max ? s.substr(0, max) : s; }

bool valid_tenant_name(std::string_view n) {
  return !n.empty() && n.size() <= kMaxTenantName &&
         n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string_view::npos;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > kMaxDomainName || d.front() == '.' || d.back() == '.' || d.front() == '-') return false;
  return d.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string_view::npos &&
         d.find("..") == std::string_view::npos;
}

// local@domain with the domain lower-cased (the local part is kept as written, RFC 5321 2.4).
std::optional<std::string> normal_address(std::string_view a) {
  const size_t at = a.rfind('@');
  if (a.empty() || a.size() > kMaxAddress || at == std::string_view::npos || at == 0 || at + 1 == a.size())
    return std::nullopt;
  for (char c : a)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '"' || c == '\\') return std::nullopt;
  std::string d = ascii_lower(a.substr(at + 1));
  if (!valid_domain(d)) return std::nullopt;
  return std::string(a.substr(0, at + 1)) + d;
}

const SettingKey* find_key(const std::vector<SettingKey>& keys, std::string_view name) {
  for (const SettingKey& k : keys)
    if (name == k.name) return &k;
  return nullptr;
}

// What a person typed ("6.0", "true", "25000000") as the key's TOML value.
Expected<std::string> to_toml(const SettingKey& k, const std::string& v) {
  if (v.size() > kMaxSettingValue) return Error{std::string(k.name) + ": value too long"};
  switch (k.type) {
    case SettingType::kString: return ipc::toml_quote(v);
    case SettingType::kBool:
      if (v == "true" || v == "false") return v;
      return Error{std::string(k.name) + ": '" + v + "' is not true or false"};
    case SettingType::kInt: {
      uint64_t n = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size())
        return Error{std::string(k.name) + ": '" + v + "' is not a whole number"};
      return std::to_string(n);
    }
  }
  return Error{"unreachable", Error::Kind::kInternal};
}

std::string toml_text(const cfg::TomlValue& v) {
  switch (v.kind) {
    case cfg::TomlValue::Kind::kString: return ipc::toml_quote(v.str);
    case cfg::TomlValue::Kind::kInt: return std::to_string(v.i);
    case cfg::TomlValue::Kind::kBool: return v.b ? "true" : "false";
    case cfg::TomlValue::Kind::kArray: {
      std::string o = "[";
      for (size_t i = 0; i < v.arr.size(); ++i) {
        if (i) o += ", ";
        o += toml_text(v.arr[i]);
      }
      return o + "]";
    }
  }
  return "";
}

std::string toml_list(const std::vector<std::string>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) o += ", ";
    o += ipc::toml_quote(v[i]);
  }
  return o + "]";
}

// "tenant acme:5: [tenant] key 'x': why" -> "tenant acme: key 'x': why" (the line is of a
// document the person never saw).
std::string without_line(const std::string& msg, const std::string& src) {
  if (msg.rfind(src + ":", 0) != 0) return msg;
  size_t p = src.size() + 1;
  while (p < msg.size() && msg[p] >= '0' && msg[p] <= '9') ++p;
  if (p + 1 < msg.size() && msg[p] == ':' && msg[p + 1] == ' ') p += 2;
  std::string rest = msg.substr(p);
  for (const char* sec : {"[tenant] ", "[user] "})
    if (rest.rfind(sec, 0) == 0) rest.erase(0, std::string_view(sec).size());
  return src + ": " + rest;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string o;
  for (size_t i = 0; i < n; ++i) {
    o += d[p[i] >> 4];
    o += d[p[i] & 15];
  }
  return o;
}

std::string sha256_hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return hex(md, n);
}

// Runs `body` in one IMMEDIATE transaction: committed when it succeeds, rolled back when not.
template <typename F>
Expected<bool> in_transaction(Db& db, F&& body) {
  if (auto b = db.begin(); !b) return Error{"store busy: " + b.error().message, Error::Kind::kInternal};
  Expected<bool> r = body();
  if (!r) {
    db.rollback();
    return r;
  }
  if (auto c = db.commit(); !c) {
    db.rollback();
    return Error{"store: " + c.error().message, Error::Kind::kInternal};
  }
  return true;
}

Error db_error(Db& db, const char* what) {
  return Error{std::string(what) + ": " + db.error(), Error::Kind::kInternal};
}

std::vector<std::pair<std::string, std::string>> settings_of(Db& db, const char* sql, int64_t id) {
  Stmt q(db, sql);
  q.bind(1, id);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step() == kStepRow) out.emplace_back(q.text(0), q.text(1));
  return out;
}

std::string settings_text(const std::vector<std::pair<std::string, std::string>>& s) {
  std::string o;
  for (const auto& [k, v] : s) o += k + " = " + v + "\n";
  return o;
}

// Where an owner's settings live: a tenant's or a user's (constants, never input).
struct SettingsTable {
  const std::vector<SettingKey>& (*keys)();
  const char* what;  // "tenant", "user"
  const char* select;
  const char* remove;
  const char* upsert;
};
const SettingsTable kTenantSettings{
    tenant_setting_keys, "tenant", "SELECT value FROM tenant_settings WHERE tenant = ? AND key = ?;",
    "DELETE FROM tenant_settings WHERE tenant = ? AND key = ?;",
    "INSERT INTO tenant_settings (tenant, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant, key) DO UPDATE SET value = excluded.value;"};
const SettingsTable kUserSettings{
    user_setting_keys, "user", "SELECT value FROM user_settings WHERE user_id = ? AND key = ?;",
    "DELETE FROM user_settings WHERE user_id = ? AND key = ?;",
    "INSERT INTO user_settings (user_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value;"};

// Sets (or, with an empty value, unsets) each key of one owner; `detail` gets before -> after.
Expected<bool> store_settings(Db& db, const SettingsTable& t, int64_t id,
                              const std::vector<std::pair<std::string, std::string>>& settings, std::string& detail) {
  for (const auto& [key, value] : settings) {
    const SettingKey* k = find_key(t.keys(), key);
    if (!k)
      return Error{std::string("unknown ") + t.what + " setting '" + cut(key, 80) + "' (see mxgatectl " + t.what + " keys)"};
    std::string before;
    {
      Stmt b(db, t.select);
      b.bind(1, id).bind(2, key);
      if (b.step() == kStepRow) before = b.text(0);
    }
    if (value.empty()) {
      Stmt d(db, t.remove);
      if (d.bind(1, id).bind(2, key).step() != kStepDone) return db_error(db, "set");
      detail += key + ": " + cut(before, 200) + " -> (unset); ";
      continue;
    }
    auto v = to_toml(*k, value);
    if (!v) return v.error();
    Stmt u(db, t.upsert);
    if (u.bind(1, id).bind(2, key).bind(3, *v).step() != kStepDone) return db_error(db, "set");
    detail += key + ": " + (before.empty() ? "(unset)" : cut(before, 200)) + " -> " + cut(*v, 200) + "; ";
  }
  return true;
}

}  // namespace

const std::vector<SettingKey>& tenant_setting_keys() {
  static const std::vector<SettingKey> keys = {
      {"route", SettingType::kString, "the tenant's mail server, IPv4[:port]"},
      {"route_tls", SettingType::kString, "none, opportunistic, required or required-verify"},
      {"route_tls_name", SettingType::kString, "the route's host name (SNI, certificate name)"},
      {"spool", SettingType::kBool, "spool when the route is down (true) or answer 4xx (false)"},
      {"verify_recipients", SettingType::kBool, "check each recipient with the tenant's server first"},
      {"max_message_size", SettingType::kInt, "bytes; larger messages get 552"},
      {"rules_text", SettingType::kString, "the tenant's rules (docs/rules.md)"},
      {"spam_threshold", SettingType::kString, "score at which a message is spam, like 5.0"},
      {"bulk_threshold", SettingType::kString, "score of bulk rules at which a message is bulk"},
      {"action_clean", SettingType::kString, "deliver, tag, quarantine, tempfail or reject"},
      {"action_bulk", SettingType::kString, "deliver, tag, quarantine, tempfail or reject"},
      {"action_spam", SettingType::kString, "deliver, tag, quarantine, tempfail or reject"},
      {"action_phish", SettingType::kString, "deliver, tag, quarantine, tempfail or reject"},
      {"action_unscannable", SettingType::kString, "deliver, tag, quarantine, tempfail or reject"},
      {"subject_tag", SettingType::kString, "prefix for the Subject of tagged mail"},
      {"log_retention_days", SettingType::kInt, "days control keeps the tenant's transaction records (1-3650)"},
  };
  return keys;
}

const std::vector<SettingKey>& user_setting_keys() {
  static const std::vector<SettingKey> keys = {
      {"spam_threshold", SettingType::kString, "overrides the tenant's, like 6.0"},
      {"spam_action", SettingType::kString, "overrides the tenant's action for spam"},
      {"bulk_action", SettingType::kString, "overrides the tenant's action for bulk"},
  };
  return keys;
}

LogRetention PolicyStore::log_retention(int default_days) {
  LogRetention keep;
  keep.default_days = default_days;
  Stmt q(*store_.db_, "SELECT t.name, s.value FROM tenant_settings s JOIN tenants t ON t.id = s.tenant "
                      "WHERE s.key = 'log_retention_days';");
  while (q.step() == kStepRow) {
    int days = 0;
    const std::string v = q.text(1);
    if (std::from_chars(v.data(), v.data() + v.size(), days).ec == std::errc{} && days > 0)
      keep.tenant_days[q.text(0)] = days;
  }
  return keep;
}

std::optional<int64_t> PolicyStore::tenant_id(const std::string& name) {
  Stmt q(*store_.db_, "SELECT id FROM tenants WHERE name = ?;");
  q.bind(1, name);
  if (q.step() != kStepRow) return std::nullopt;
  return q.i64(0);
}

std::optional<int64_t> PolicyStore::user_id(int64_t tenant, const std::string& address) {
  auto a = normal_address(address);
  if (!a) return std::nullopt;
  Stmt q(*store_.db_, "SELECT id FROM users WHERE tenant = ? AND address = ?;");
  q.bind(1, tenant).bind(2, *a);
  if (q.step() != kStepRow) return std::nullopt;
  return q.i64(0);
}

void PolicyStore::touch() {
  Stmt q(*store_.db_, "UPDATE policy_state SET changed = 1 WHERE id = 1;");
  q.step();
}

bool PolicyStore::changed() {
  Stmt q(*store_.db_, "SELECT changed FROM policy_state WHERE id = 1;");
  return q.step() == kStepRow && q.i64(0) != 0;
}

void PolicyStore::mark_committed() {
  Stmt q(*store_.db_, "UPDATE policy_state SET changed = 0 WHERE id = 1;");
  q.step();
}

Expected<bool> PolicyStore::validate_tenant(int64_t id, const std::string& name, bool with_users,
                                            const std::string& only_user) {
  Db& db = *store_.db_;
  std::vector<std::string> domains;
  {
    Stmt q(db, "SELECT name FROM domains WHERE tenant = ? ORDER BY name;");
    q.bind(1, id);
    while (q.step() == kStepRow) domains.push_back(q.text(0));
  }
  auto settings = settings_of(db, "SELECT key, value FROM tenant_settings WHERE tenant = ? ORDER BY key;", id);
  std::string doc = "[[tenant]]\nname = " + ipc::toml_quote(name) + "\n";
  doc += "domains = " + toml_list(domains.empty() ? std::vector<std::string>{kPlaceholderDomain} : domains) + "\n";
  const bool has_route =
      std::any_of(settings.begin(), settings.end(), [](const auto& kv) { return kv.first == "route"; });
  if (!has_route) doc += std::string("route = \"") + kPlaceholderRoute + "\"\n";
  doc += settings_text(settings);
  std::vector<std::string> allow, block;
  {
    Stmt q(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = 0 ORDER BY id;");
    q.bind(1, id);
    while (q.step() == kStepRow) (q.text(0) == "allow" ? allow : block).push_back(q.text(1));
  }
  if (!allow.empty()) doc += "allow_senders = " + toml_list(allow) + "\n";
  if (!block.empty()) doc += "block_senders = " + toml_list(block) + "\n";
  if (with_users) {
    Stmt u(db, only_user.empty() ? "SELECT id, address FROM users WHERE tenant = ? ORDER BY id;"
                                 : "SELECT id, address FROM users WHERE tenant = ? AND address = ?;");
    u.bind(1, id);
    if (!only_user.empty()) u.bind(2, only_user);
    Stmt l(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = ? ORDER BY id;");
    while (u.step() == kStepRow) {
      doc += "[[user]]\naddress = " + ipc::toml_quote(u.text(1)) + "\n";
      doc += settings_text(settings_of(db, "SELECT key, value FROM user_settings WHERE user_id = ? ORDER BY key;", u.i64(0)));
      std::vector<std::string> ua, ub;
      l.reset();
      l.bind(1, id).bind(2, u.i64(0));
      while (l.step() == kStepRow) (l.text(0) == "allow" ? ua : ub).push_back(l.text(1));
      if (!ua.empty()) doc += "allow_senders = " + toml_list(ua) + "\n";
      if (!ub.empty()) doc += "block_senders = " + toml_list(ub) + "\n";
    }
  }
  const std::string src = "tenant " + name;
  auto snap = ipc::parse_snapshot(doc, src, 0);
  if (!snap) return Error{without_line(snap.error().message, src)};
  return true;
}

Expected<bool> PolicyStore::add_tenant(const std::string& name, const std::string& actor) {
  if (!valid_tenant_name(name)) return Error{"tenant name '" + cut(name, 80) + "' must be 1-64 letters, digits, _ . -"};
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    if (tenant_id(name)) return Error{"tenant " + name + " exists", Error::Kind::kConflict};
    {
      Stmt n(db, "SELECT count(*) FROM tenants;");
      if (n.step() == kStepRow && static_cast<size_t>(n.i64(0)) >= ipc::kMaxTenants)
        return Error{"at most " + std::to_string(ipc::kMaxTenants) + " tenants", Error::Kind::kConflict};
    }
    Stmt q(db, "INSERT INTO tenants (name, created) VALUES (?, ?);");
    if (q.bind(1, name).bind(2, utc_now()).step() != kStepDone) return db_error(db, "tenant add");
    store_.audit(actor, "tenant add", "tenant " + name, "");
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::remove_tenant(const std::string& name, const std::string& actor) {
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(name);
    if (!id) return Error{"no tenant " + cut(name, 80), Error::Kind::kNotFound};
    auto before = tenant(name);
    // Tokens of the tenant go with it (ON DELETE CASCADE), as do domains, users and lists.
    Stmt q(db, "DELETE FROM tenants WHERE id = ?;");
    if (q.bind(1, *id).step() != kStepDone) return db_error(db, "tenant remove");
    std::string detail;
    if (before)
      detail = "before: " + std::to_string(before->domains.size()) + " domain(s), " + std::to_string(before->users) +
               " user(s); " + [&] {
                 std::string s;
                 for (const auto& [k, v] : before->settings) s += k + " = " + cut(v, 200) + "; ";
                 return s;
               }();
    store_.audit(actor, "tenant remove", "tenant " + name, detail);
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::suspend_tenant(const std::string& name, bool suspended, const std::string& actor) {
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(name);
    if (!id) return Error{"no tenant " + cut(name, 80), Error::Kind::kNotFound};
    Stmt q(db, "UPDATE tenants SET suspended = ? WHERE id = ?;");
    if (q.bind(1, int64_t{suspended}).bind(2, *id).step() != kStepDone) return db_error(db, "tenant suspend");
    store_.audit(actor, suspended ? "tenant suspend" : "tenant resume", "tenant " + name, "");
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::set_tenant(const std::string& name,
                                       const std::vector<std::pair<std::string, std::string>>& settings,
                                       const std::string& actor) {
  Db& db = *store_.db_;
  if (settings.empty()) return Error{"nothing to set"};
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(name);
    if (!id) return Error{"no tenant " + cut(name, 80), Error::Kind::kNotFound};
    std::string detail;
    if (auto r = store_settings(db, kTenantSettings, *id, settings, detail); !r) return r;
    if (auto r = validate_tenant(*id, name, false); !r) return r;
    store_.audit(actor, "tenant set", "tenant " + name, detail);
    touch();
    return true;
  });
}

std::vector<TenantInfo> PolicyStore::tenants() {
  std::vector<TenantInfo> out;
  std::vector<std::string> names;
  {
    Stmt q(*store_.db_, "SELECT name FROM tenants ORDER BY id;");
    while (q.step() == kStepRow) names.push_back(q.text(0));
  }
  for (const std::string& n : names)
    if (auto t = tenant(n)) out.push_back(std::move(*t));
  return out;
}

std::optional<TenantInfo> PolicyStore::tenant(const std::string& name) {
  Db& db = *store_.db_;
  Stmt q(db, "SELECT id, created, suspended FROM tenants WHERE name = ?;");
  q.bind(1, name);
  if (q.step() != kStepRow) return std::nullopt;
  TenantInfo t;
  const int64_t id = q.i64(0);
  t.name = name;
  t.created = q.text(1);
  t.suspended = q.i64(2) != 0;
  t.settings = settings_of(db, "SELECT key, value FROM tenant_settings WHERE tenant = ? ORDER BY key;", id);
  {
    Stmt d(db, "SELECT name FROM domains WHERE tenant = ? ORDER BY name;");
    d.bind(1, id);
    while (d.step() == kStepRow) t.domains.push_back(d.text(0));
  }
  {
    Stmt u(db, "SELECT count(*) FROM users WHERE tenant = ?;");
    u.bind(1, id);
    if (u.step() == kStepRow) t.users = static_cast<uint64_t>(u.i64(0));
  }
  {
    Stmt l(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = 0 ORDER BY id;");
    l.bind(1, id);
    while (l.step() == kStepRow) t.lists.push_back(ListEntry{"", l.text(0), l.text(1)});
  }
  const bool has_route =
      std::any_of(t.settings.begin(), t.settings.end(), [](const auto& kv) { return kv.first == "route"; });
  if (t.suspended) t.missing = "suspended";
  else if (t.domains.empty()) t.missing = "no domain";
  else if (!has_route) t.missing = "no route";
  return t;
}

Expected<bool> PolicyStore::add_domain(const std::string& tenant, const std::string& domain, const std::string& actor) {
  const std::string d = ascii_lower(domain);
  if (!valid_domain(d)) return Error{"'" + cut(domain, 80) + "' is not a domain"};
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(tenant);
    if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
    {
      Stmt o(db, "SELECT tenant FROM domains WHERE name = ?;");
      o.bind(1, d);
      if (o.step() == kStepRow)  // which tenant is not said: another tenant's names are not a tenant's business
        return Error{o.i64(0) == *id ? "domain " + d + " is already the tenant's" : "domain " + d + " is taken",
                     Error::Kind::kConflict};
    }
    {
      Stmt n(db, "SELECT count(*) FROM domains WHERE tenant = ?;");
      n.bind(1, *id);
      if (n.step() == kStepRow && static_cast<size_t>(n.i64(0)) >= ipc::kMaxTenantDomains)
        return Error{"at most " + std::to_string(ipc::kMaxTenantDomains) + " domains per tenant",
                     Error::Kind::kConflict};
    }
    Stmt q(db, "INSERT INTO domains (name, tenant) VALUES (?, ?);");
    if (q.bind(1, d).bind(2, *id).step() != kStepDone) return db_error(db, "domain add");
    store_.audit(actor, "domain add", "tenant " + tenant, d);
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::remove_domain(const std::string& tenant, const std::string& domain,
                                          const std::string& actor) {
  const std::string d = ascii_lower(domain);
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(tenant);
    if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
    {
      Stmt u(db, "SELECT count(*) FROM users WHERE tenant = ? AND address LIKE ? ESCAPE '\\';");
      std::string pat;
      for (char c : d) {
        if (c == '%' || c == '_' || c == '\\') pat += '\\';
        pat += c;
      }
      u.bind(1, *id).bind(2, "%@" + pat);
      if (u.step() == kStepRow && u.i64(0) > 0)
        return Error{"domain " + d + " has " + std::to_string(u.i64(0)) + " user(s); remove them first",
                     Error::Kind::kConflict};
    }
    Stmt q(db, "DELETE FROM domains WHERE name = ? AND tenant = ?;");
    if (q.bind(1, d).bind(2, *id).step() != kStepDone) return db_error(db, "domain remove");
    if (db.changes() == 0) return Error{"tenant " + tenant + " has no domain " + cut(d, 80), Error::Kind::kNotFound};
    store_.audit(actor, "domain remove", "tenant " + tenant, d);
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::add_user(const std::string& tenant, const std::string& address, const std::string& actor) {
  auto a = normal_address(address);
  if (!a) return Error{"'" + cut(address, 80) + "' is not local@domain"};
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(tenant);
    if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
    {
      Stmt d(db, "SELECT 1 FROM domains WHERE name = ? AND tenant = ?;");
      d.bind(1, a->substr(a->rfind('@') + 1)).bind(2, *id);
      if (d.step() != kStepRow) return Error{"the domain of " + *a + " is not one of tenant " + tenant + "'s"};
    }
    {
      Stmt n(db, "SELECT count(*) FROM users;");
      if (n.step() == kStepRow && static_cast<size_t>(n.i64(0)) >= ipc::kMaxUsers)
        return Error{"at most " + std::to_string(ipc::kMaxUsers) + " users", Error::Kind::kConflict};
    }
    Stmt q(db, "INSERT INTO users (tenant, address) VALUES (?, ?);");
    if (q.bind(1, *id).bind(2, *a).step() != kStepDone) {
      if (db.unique_violation()) return Error{"user " + *a + " exists", Error::Kind::kConflict};
      return db_error(db, "user add");
    }
    if (auto r = validate_tenant(*id, tenant, true, *a); !r) return r;
    store_.audit(actor, "user add", "tenant " + tenant, *a);
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::remove_user(const std::string& tenant, const std::string& address,
                                        const std::string& actor) {
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(tenant);
    if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
    auto uid = user_id(*id, address);
    if (!uid) return Error{"tenant " + tenant + " has no user " + cut(address, 80), Error::Kind::kNotFound};
    Stmt l(db, "DELETE FROM list_entries WHERE tenant = ? AND user_id = ?;");
    if (l.bind(1, *id).bind(2, *uid).step() != kStepDone) return db_error(db, "user remove");
    Stmt q(db, "DELETE FROM users WHERE id = ?;");
    if (q.bind(1, *uid).step() != kStepDone) return db_error(db, "user remove");
    store_.audit(actor, "user remove", "tenant " + tenant, *normal_address(address));
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::set_user(const std::string& tenant, const std::string& address,
                                     const std::vector<std::pair<std::string, std::string>>& settings,
                                     const std::string& actor) {
  if (settings.empty()) return Error{"nothing to set"};
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto id = tenant_id(tenant);
    if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
    auto uid = user_id(*id, address);
    if (!uid) return Error{"tenant " + tenant + " has no user " + cut(address, 80), Error::Kind::kNotFound};
    const std::string a = *normal_address(address);
    std::string detail = a + ": ";
    if (auto r = store_settings(db, kUserSettings, *uid, settings, detail); !r) return r;
    if (auto r = validate_tenant(*id, tenant, true, a); !r) return r;
    store_.audit(actor, "user set", "tenant " + tenant, detail);
    touch();
    return true;
  });
}

std::vector<UserInfo> PolicyStore::users(const std::string& tenant, size_t limit, size_t offset) {
  std::vector<UserInfo> out;
  auto id = tenant_id(tenant);
  if (!id) return out;
  Db& db = *store_.db_;
  Stmt q(db, "SELECT id, address FROM users WHERE tenant = ? ORDER BY address LIMIT ? OFFSET ?;");
  q.bind(1, *id).bind(2, static_cast<int64_t>(limit)).bind(3, static_cast<int64_t>(offset));
  Stmt l(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = ? ORDER BY id;");
  while (q.step() == kStepRow) {
    UserInfo u;
    u.tenant = tenant;
    u.address = q.text(1);
    u.settings = settings_of(db, "SELECT key, value FROM user_settings WHERE user_id = ? ORDER BY key;", q.i64(0));
    l.reset();
    l.bind(1, *id).bind(2, q.i64(0));
    while (l.step() == kStepRow) u.lists.push_back(ListEntry{u.address, l.text(0), l.text(1)});
    out.push_back(std::move(u));
  }
  return out;
}

std::optional<UserInfo> PolicyStore::user(const std::string& tenant, const std::string& address) {
  auto id = tenant_id(tenant);
  if (!id) return std::nullopt;
  auto uid = user_id(*id, address);
  if (!uid) return std::nullopt;
  Db& db = *store_.db_;
  UserInfo u;
  u.tenant = tenant;
  u.address = *normal_address(address);
  u.settings = settings_of(db, "SELECT key, value FROM user_settings WHERE user_id = ? ORDER BY key;", *uid);
  Stmt l(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = ? ORDER BY id;");
  l.bind(1, *id).bind(2, *uid);
  while (l.step() == kStepRow) u.lists.push_back(ListEntry{u.address, l.text(0), l.text(1)});
  return u;
}

Expected<std::pair<int64_t, int64_t>> PolicyStore::list_owner(const std::string& tenant, const std::string& user) {
  auto id = tenant_id(tenant);
  if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
  if (user.empty()) return std::pair<int64_t, int64_t>{*id, 0};
  auto u = user_id(*id, user);
  if (!u) return Error{"tenant " + tenant + " has no user " + cut(user, 80), Error::Kind::kNotFound};
  return std::pair<int64_t, int64_t>{*id, *u};
}

Expected<bool> PolicyStore::add_list_entry(const std::string& tenant, const ListEntry& e, const std::string& actor) {
  if (e.kind != "allow" && e.kind != "block") return Error{"list '" + cut(e.kind, 20) + "' is not allow or block"};
  if (e.entry.empty() || e.entry.size() > kMaxListEntry) return Error{"a list entry is 1-320 characters"};
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto owner = list_owner(tenant, e.user);
    if (!owner) return owner.error();
    const auto [id, uid] = *owner;
    {
      Stmt n(db, "SELECT count(*) FROM list_entries WHERE tenant = ? AND user_id = ? AND kind = ?;");
      n.bind(1, id).bind(2, uid).bind(3, e.kind);
      if (n.step() == kStepRow && static_cast<size_t>(n.i64(0)) >= ipc::kMaxListEntries)
        return Error{"at most " + std::to_string(ipc::kMaxListEntries) + " entries per list", Error::Kind::kConflict};
    }
    Stmt q(db, "INSERT INTO list_entries (tenant, user_id, kind, entry) VALUES (?, ?, ?, ?);");
    if (q.bind(1, id).bind(2, uid).bind(3, e.kind).bind(4, e.entry).step() != kStepDone) {
      if (db.unique_violation()) return Error{"'" + e.entry + "' is listed already", Error::Kind::kConflict};
      return db_error(db, "list add");
    }
    if (auto r = validate_tenant(id, tenant, uid != 0, uid ? *normal_address(e.user) : ""); !r) return r;
    store_.audit(actor, e.kind + " add", e.user.empty() ? "tenant " + tenant : "user " + *normal_address(e.user),
                 e.entry);
    touch();
    return true;
  });
}

Expected<bool> PolicyStore::remove_list_entry(const std::string& tenant, const ListEntry& e, const std::string& actor) {
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    auto owner = list_owner(tenant, e.user);
    if (!owner) return owner.error();
    const auto [id, uid] = *owner;
    Stmt q(db, "DELETE FROM list_entries WHERE tenant = ? AND user_id = ? AND kind = ? AND entry = ?;");
    if (q.bind(1, id).bind(2, uid).bind(3, e.kind).bind(4, e.entry).step() != kStepDone)
      return db_error(db, "list remove");
    if (db.changes() == 0) return Error{"'" + cut(e.entry, 80) + "' is not on that list", Error::Kind::kNotFound};
    store_.audit(actor, e.kind + " remove", e.user.empty() ? "tenant " + tenant : "user " + *normal_address(e.user),
                 e.entry);
    touch();
    return true;
  });
}

std::vector<ListEntry> PolicyStore::list_entries(const std::string& tenant) {
  std::vector<ListEntry> out;
  auto id = tenant_id(tenant);
  if (!id) return out;
  Stmt q(*store_.db_,
         "SELECT coalesce(u.address, ''), l.kind, l.entry FROM list_entries l LEFT JOIN users u ON u.id = l.user_id "
         "WHERE l.tenant = ? ORDER BY l.user_id, l.kind, l.id;");
  q.bind(1, *id);
  while (q.step() == kStepRow) out.push_back(ListEntry{q.text(0), q.text(1), q.text(2)});
  return out;
}

Compiled PolicyStore::compile() {
  Db& db = *store_.db_;
  Compiled c;
  c.document = "# compiled by mxgate-control from its store\n";
  std::vector<int64_t> pushed;
  {
    Stmt t(db, "SELECT id, name, suspended FROM tenants ORDER BY id;");
    Stmt d(db, "SELECT name FROM domains WHERE tenant = ? ORDER BY name;");
    Stmt s(db, "SELECT key, value FROM tenant_settings WHERE tenant = ? ORDER BY key;");
    Stmt l(db, "SELECT kind, entry FROM list_entries WHERE tenant = ? AND user_id = 0 ORDER BY id;");
    while (t.step() == kStepRow) {
      const int64_t id = t.i64(0);
      const std::string name = t.text(1);
      if (t.i64(2)) {
        c.left_out.push_back("tenant " + name + ": suspended");
        continue;
      }
      std::vector<std::string> domains;
      d.reset();
      d.bind(1, id);
      while (d.step() == kStepRow) domains.push_back(d.text(0));
      std::string settings;
      bool route = false;
      s.reset();
      s.bind(1, id);
      while (s.step() == kStepRow) {
        const std::string k = s.text(0);
        route |= k == "route";
        settings += k + " = " + s.text(1) + "\n";
      }
      if (domains.empty() || !route) {
        c.left_out.push_back("tenant " + name + (domains.empty() ? ": no domain" : ": no route"));
        continue;
      }
      std::vector<std::string> allow, block;
      l.reset();
      l.bind(1, id);
      while (l.step() == kStepRow) (l.text(0) == "allow" ? allow : block).push_back(l.text(1));
      c.document += "\n[[tenant]]\nname = " + ipc::toml_quote(name) + "\ndomains = " + toml_list(domains) + "\n" + settings;
      if (!allow.empty()) c.document += "allow_senders = " + toml_list(allow) + "\n";
      if (!block.empty()) c.document += "block_senders = " + toml_list(block) + "\n";
      pushed.push_back(id);
      ++c.tenants;
    }
  }
  // Users in one pass each over settings and lists (ordered by user), not a query per user:
  // a million users compile in seconds, not minutes.
  Stmt u(db, "SELECT id, address FROM users WHERE tenant = ? ORDER BY id;");
  Stmt s(db, "SELECT x.user_id, x.key, x.value FROM user_settings x JOIN users y ON y.id = x.user_id "
             "WHERE y.tenant = ? ORDER BY x.user_id, x.key;");
  Stmt l(db, "SELECT user_id, kind, entry FROM list_entries WHERE tenant = ? AND user_id != 0 ORDER BY user_id, id;");
  for (int64_t id : pushed) {
    u.reset();
    s.reset();
    l.reset();
    u.bind(1, id);
    s.bind(1, id);
    l.bind(1, id);
    int sr = s.step(), lr = l.step();
    while (u.step() == kStepRow) {
      const int64_t uid = u.i64(0);
      c.document += "\n[[user]]\naddress = " + ipc::toml_quote(u.text(1)) + "\n";
      while (sr == kStepRow && s.i64(0) < uid) sr = s.step();
      while (sr == kStepRow && s.i64(0) == uid) {
        c.document += s.text(1) + " = " + s.text(2) + "\n";
        sr = s.step();
      }
      std::vector<std::string> allow, block;
      while (lr == kStepRow && l.i64(0) < uid) lr = l.step();
      while (lr == kStepRow && l.i64(0) == uid) {
        (l.text(1) == "allow" ? allow : block).push_back(l.text(2));
        lr = l.step();
      }
      if (!allow.empty()) c.document += "allow_senders = " + toml_list(allow) + "\n";
      if (!block.empty()) c.document += "block_senders = " + toml_list(block) + "\n";
      ++c.users;
    }
  }
  return c;
}

Expected<Compiled> PolicyStore::import_document(const std::string& document, const std::string& actor,
                                                bool inline_rules) {
  auto doc = cfg::parse_toml(document, "snapshot", ipc::kMaxSnapshotDocumentBytes);
  if (!doc) return doc.error();
  if (inline_rules)
    for (const cfg::TomlTable& t : doc->tables)
      if (t.name == "tenant")
        if (const cfg::TomlValue* v = t.find("rules"))
          return Error{"snapshot:" + std::to_string(v->line) +
                       ": rules: a file name; send the rules inline (rules_text; mxgatectl import does)"};
  auto snap = ipc::parse_snapshot(document, "snapshot", 0);
  if (!snap) return snap.error();
  Db& db = *store_.db_;
  auto r = in_transaction(db, [&]() -> Expected<bool> {
    for (const char* sql : {"DELETE FROM list_entries;", "DELETE FROM user_settings;", "DELETE FROM users;",
                            "DELETE FROM domains;", "DELETE FROM tenant_settings;"}) {
      Stmt q(db, sql);
      if (q.step() != kStepDone) return db_error(db, "import");
    }
    // Tenants are kept (with their ids, so their API tokens stay valid) when the document names
    // them again; the others go.
    std::unordered_set<std::string> names;
    for (const cfg::TomlTable& t : doc->tables)
      if (t.name == "tenant")
        if (const cfg::TomlValue* n = t.find("name")) names.insert(n->str);
    {
      Stmt all(db, "SELECT name FROM tenants;");
      std::vector<std::string> gone;
      while (all.step() == kStepRow)
        if (!names.contains(all.text(0))) gone.push_back(all.text(0));
      Stmt del(db, "DELETE FROM tenants WHERE name = ?;");
      for (const std::string& g : gone) {
        del.reset();
        if (del.bind(1, g).step() != kStepDone) return db_error(db, "import");
      }
    }
    Stmt ins_t(db, "INSERT INTO tenants (name, created) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET suspended = 0;");
    Stmt get_t(db, "SELECT id FROM tenants WHERE name = ?;");
    Stmt ins_s(db, "INSERT INTO tenant_settings (tenant, key, value) VALUES (?, ?, ?);");
    Stmt ins_d(db, "INSERT INTO domains (name, tenant) VALUES (?, ?);");
    Stmt ins_l(db, "INSERT INTO list_entries (tenant, user_id, kind, entry) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING;");
    Stmt ins_u(db, "INSERT INTO users (tenant, address) VALUES (?, ?) RETURNING id;");
    Stmt ins_us(db, "INSERT INTO user_settings (user_id, key, value) VALUES (?, ?, ?);");
    Stmt dom_t(db, "SELECT tenant FROM domains WHERE name = ?;");
    const std::string now = utc_now();
    auto lists = [&](const cfg::TomlTable& t, int64_t tenant, int64_t user) -> Expected<bool> {
      for (const char* key : {"allow_senders", "block_senders"})
        if (const cfg::TomlValue* v = t.find(key))
          for (const cfg::TomlValue& e : v->arr) {
            ins_l.reset();
            ins_l.bind(1, tenant).bind(2, user).bind(3, std::string(key[0] == 'a' ? "allow" : "block")).bind(4, e.str);
            if (ins_l.step() != kStepDone) return db_error(db, "import");
          }
      return true;
    };
    for (const cfg::TomlTable& t : doc->tables) {
      if (t.name == "tenant") {
        const std::string name = t.find("name")->str;
        ins_t.reset();
        if (ins_t.bind(1, name).bind(2, now).step() != kStepDone) return db_error(db, "import");
        get_t.reset();
        get_t.bind(1, name);
        if (get_t.step() != kStepRow) return db_error(db, "import");
        const int64_t id = get_t.i64(0);
        for (const auto& [key, value] : t.entries) {
          if (key == "name" || key == "allow_senders" || key == "block_senders") continue;
          if (key == "domains") {
            for (const cfg::TomlValue& d : value.arr) {
              ins_d.reset();
              if (ins_d.bind(1, ascii_lower(d.str)).bind(2, id).step() != kStepDone) return db_error(db, "import");
            }
            continue;
          }
          if (key == "rules") return Error{"snapshot: rules: a file name; send the rules inline (rules_text)"};
          ins_s.reset();
          if (ins_s.bind(1, id).bind(2, key).bind(3, toml_text(value)).step() != kStepDone)
            return db_error(db, "import");
        }
        if (auto lr = lists(t, id, 0); !lr) return lr;
      } else if (t.name == "user") {
        auto a = normal_address(t.find("address")->str);
        if (!a) return Error{"snapshot: user '" + cut(t.find("address")->str, 80) + "' is not local@domain"};
        dom_t.reset();
        dom_t.bind(1, a->substr(a->rfind('@') + 1));
        if (dom_t.step() != kStepRow) return Error{"snapshot: user " + *a + ": no tenant has its domain"};
        const int64_t tenant = dom_t.i64(0);
        ins_u.reset();
        if (ins_u.bind(1, tenant).bind(2, *a).step() != kStepRow) return db_error(db, "import");
        const int64_t uid = ins_u.i64(0);
        ins_u.reset();  // a statement left mid-way would keep the transaction from committing
        for (const auto& [key, value] : t.entries) {
          if (key == "address" || key == "allow_senders" || key == "block_senders") continue;
          ins_us.reset();
          if (ins_us.bind(1, uid).bind(2, key).bind(3, toml_text(value)).step() != kStepDone)
            return db_error(db, "import");
        }
        if (auto lr = lists(t, tenant, uid); !lr) return lr;
      }
    }
    store_.audit(actor, "import", "policy",
                 std::to_string((*snap)->tenants().size()) + " tenant(s), " + std::to_string((*snap)->users().size()) +
                     " user(s) replace the stored objects");
    touch();
    return true;
  });
  if (!r) return r.error();
  return compile();
}

Expected<std::string> PolicyStore::create_token(const std::string& name, const std::string& tenant,
                                                const std::string& actor) {
  if (!valid_tenant_name(name) || name.size() > kMaxTokenName)
    return Error{"token name '" + cut(name, 80) + "' must be 1-64 letters, digits, _ . -"};
  unsigned char raw[kTokenSecretBytes];
  if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    return Error{"no randomness for a token", Error::Kind::kInternal};
  const std::string secret = "mxg_" + hex(raw, sizeof raw);
  Db& db = *store_.db_;
  auto r = in_transaction(db, [&]() -> Expected<bool> {
    Stmt q(db, "INSERT INTO tokens (name, hash, tenant, created) VALUES (?, ?, ?, ?);");
    q.bind(1, name).bind(2, sha256_hex(secret));
    if (tenant.empty()) {
      q.bind_null(3);
    } else {
      auto id = tenant_id(tenant);
      if (!id) return Error{"no tenant " + cut(tenant, 80), Error::Kind::kNotFound};
      q.bind(3, *id);
    }
    q.bind(4, utc_now());
    if (q.step() != kStepDone) {
      if (db.unique_violation()) return Error{"token " + name + " exists", Error::Kind::kConflict};
      return db_error(db, "token add");
    }
    store_.audit(actor, "token add", "token " + name, tenant.empty() ? "operator" : "tenant " + tenant);
    return true;
  });
  if (!r) return r.error();
  return secret;
}

Expected<bool> PolicyStore::remove_token(const std::string& name, const std::string& actor) {
  Db& db = *store_.db_;
  return in_transaction(db, [&]() -> Expected<bool> {
    Stmt q(db, "DELETE FROM tokens WHERE name = ?;");
    if (q.bind(1, name).step() != kStepDone) return db_error(db, "token remove");
    if (db.changes() == 0) return Error{"no token " + cut(name, 80), Error::Kind::kNotFound};
    store_.audit(actor, "token remove", "token " + name, "");
    return true;
  });
}

std::vector<TokenInfo> PolicyStore::tokens() {
  Stmt q(*store_.db_,
         "SELECT k.name, coalesce(t.name, ''), k.created FROM tokens k LEFT JOIN tenants t ON t.id = k.tenant "
         "ORDER BY k.name;");
  std::vector<TokenInfo> out;
  while (q.step() == kStepRow) out.push_back(TokenInfo{q.text(0), q.text(1), q.text(2)});
  return out;
}

std::optional<Scope> PolicyStore::check_token(std::string_view secret) {
  if (secret.size() != 4 + 2 * kTokenSecretBytes) return std::nullopt;
  // Looked up by the digest: the comparison is of hashes, so its timing tells nothing of the secret.
  Stmt q(*store_.db_,
         "SELECT k.tenant IS NULL, coalesce(t.name, ''), k.name FROM tokens k LEFT JOIN tenants t ON t.id = k.tenant "
         "WHERE k.hash = ?;");
  q.bind(1, sha256_hex(secret));
  if (q.step() != kStepRow) return std::nullopt;
  Scope s;
  s.operator_ = q.i64(0) != 0;
  s.tenant = q.text(1);
  s.token = q.text(2);
  return s;
}

Expected<std::vector<PolicyChange>> diff_documents(const std::string& a, const std::string& b) {
  // Each document as object -> key -> TOML value text.
  using Objects = std::map<std::string, std::map<std::string, std::string>>;
  auto objects = [](const std::string& text, const char* src) -> Expected<Objects> {
    Objects o;
    if (text.empty()) return o;
    auto doc = cfg::parse_toml(text, src, ipc::kMaxSnapshotDocumentBytes);
    if (!doc) return doc.error();
    for (const cfg::TomlTable& t : doc->tables) {
      std::string id;
      if (t.name == "tenant" && t.find("name")) id = "tenant " + t.find("name")->str;
      else if (t.name == "user" && t.find("address")) id = "user " + t.find("address")->str;
      else continue;
      auto& keys = o[id];
      for (const auto& [k, v] : t.entries) {
        if (k == "name" || k == "address") continue;
        if (k == "domains") {  // a set: the order they were written in means nothing
          cfg::TomlValue sorted = v;
          for (auto& d : sorted.arr) d.str = ascii_lower(d.str);
          std::sort(sorted.arr.begin(), sorted.arr.end(), [](const auto& x, const auto& y) { return x.str < y.str; });
          keys[k] = toml_text(sorted);
          continue;
        }
        keys[k] = toml_text(v);
      }
    }
    return o;
  };
  auto oa = objects(a, "current");
  if (!oa) return oa.error();
  auto ob = objects(b, "draft");
  if (!ob) return ob.error();
  std::vector<PolicyChange> out;
  for (const auto& [id, keys] : *oa)
    if (!ob->count(id)) out.push_back(PolicyChange{"remove", id, "", "", ""});
  for (const auto& [id, keys] : *ob) {
    auto it = oa->find(id);
    if (it == oa->end()) {
      out.push_back(PolicyChange{"add", id, "", "", ""});
      continue;
    }
    std::map<std::string, int> all;
    for (const auto& kv : it->second) all[kv.first] = 1;
    for (const auto& kv : keys) all[kv.first] = 1;
    for (const auto& [k, unused] : all) {
      auto x = it->second.find(k);
      auto y = keys.find(k);
      const std::string before = x == it->second.end() ? "" : x->second;
      const std::string after = y == keys.end() ? "" : y->second;
      if (before != after) out.push_back(PolicyChange{"change", id, k, before, after});
    }
  }
  return out;
}

}  // namespace mx::control
