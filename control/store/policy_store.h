// control/store/policy_store.h — the policy as objects: tenants and their settings, domains,
// users with preferences of their own, allow/block list entries, and the API tokens. Operators
// change them one at a time (mxgatectl tenant/domain/route/user/list, the API); `compile()`
// turns them into the snapshot document (ipc/snapshot.h, docs/tenants.md) that a commit stores
// as a new generation and pushes. Nothing reaches a node before a commit.
//
// Settings are kept per key as TOML values (the snapshot format's own spelling), so every key
// that docs/tenants.md documents can be set and a document round-trips through import/export.
// A tenant without a domain or a route is kept but left out of what is pushed (commit reports
// it), as is a suspended one; their users go with them.
//
// SECURITY: every change is validated before it is stored: the tenant's own section (with its
// users when they matter) goes through ipc::parse_snapshot, the reader the data plane runs, so a
// value a node would refuse is refused here with the key and the reason. Names, domains,
// addresses and list entries are bounded (constants below and ipc/snapshot.h). API tokens are
// stored as SHA-256 digests only; the secret is shown once, at creation.
// STANDARDS: RFC 5321 (domains compared case-insensitively).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "control/store/store.h"

namespace mx::control {

constexpr size_t kMaxTenantName = 64;
constexpr size_t kMaxDomainName = 253;
constexpr size_t kMaxAddress = 320;      // RFC 5321 4.5.3.1: 64 + 1 + 255
constexpr size_t kMaxSettingValue = 16u << 20;  // rules_text, as ipc::kMaxRulesFileBytes
constexpr size_t kMaxListEntry = 320;
constexpr size_t kMaxTokenName = 64;
constexpr size_t kTokenSecretBytes = 32;  // random bytes behind a token (64 hex digits)

enum class SettingType { kString, kBool, kInt };
struct SettingKey {
  const char* name;
  SettingType type;
  const char* help;
};
// The keys `tenant set` / `user set` take (docs/tenants.md); name, domains and the lists have
// their own commands.
const std::vector<SettingKey>& tenant_setting_keys();
const std::vector<SettingKey>& user_setting_keys();

struct ListEntry {
  std::string user;  // empty: the tenant's own list
  std::string kind;  // "allow" or "block"
  std::string entry;
};

struct TenantInfo {
  std::string name, created;
  bool suspended = false;
  std::vector<std::pair<std::string, std::string>> settings;  // key -> TOML value, by key
  std::vector<std::string> domains;
  uint64_t users = 0;
  std::vector<ListEntry> lists;  // the tenant's own
  std::string missing;           // why it is not pushed ("" when it is)
};

struct UserInfo {
  std::string tenant, address;
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<ListEntry> lists;
};

struct Compiled {
  std::string document;
  uint64_t tenants = 0, users = 0;
  std::vector<std::string> left_out;  // "tenant x: no route", "tenant y: suspended"
};

// One difference between two snapshot documents, object by object.
struct PolicyChange {
  std::string op;      // "add", "remove", "change"
  std::string object;  // "tenant acme", "user alice@acme.test"
  std::string key;     // for "change": the key ("domains", "spam_threshold", ...)
  std::string before, after;  // TOML values
};

struct TokenInfo {
  std::string name, tenant, created;  // tenant empty: an operator token
};

// A token's authority: the whole system (operator) or one tenant.
struct Scope {
  bool operator_ = false;
  std::string tenant;
  std::string token;  // the token's name (the actor in the audit log)
};

class PolicyStore {
 public:
  explicit PolicyStore(Store& store) : store_(store) {}

  // Tenants. `settings`: key=value pairs as people type them ("spam_threshold", "6.0");
  // an empty value unsets the key.
  Expected<bool> add_tenant(const std::string& name, const std::string& actor);
  Expected<bool> remove_tenant(const std::string& name, const std::string& actor);
  Expected<bool> suspend_tenant(const std::string& name, bool suspended, const std::string& actor);
  Expected<bool> set_tenant(const std::string& name, const std::vector<std::pair<std::string, std::string>>& settings,
                            const std::string& actor);
  std::vector<TenantInfo> tenants();
  std::optional<TenantInfo> tenant(const std::string& name);

  // Domains: a domain belongs to one tenant; one with users at it is not removed.
  Expected<bool> add_domain(const std::string& tenant, const std::string& domain, const std::string& actor);
  Expected<bool> remove_domain(const std::string& tenant, const std::string& domain, const std::string& actor);

  // Users: the address's domain must be one of the tenant's.
  Expected<bool> add_user(const std::string& tenant, const std::string& address, const std::string& actor);
  Expected<bool> remove_user(const std::string& tenant, const std::string& address, const std::string& actor);
  Expected<bool> set_user(const std::string& tenant, const std::string& address,
                          const std::vector<std::pair<std::string, std::string>>& settings, const std::string& actor);
  std::vector<UserInfo> users(const std::string& tenant, size_t limit, size_t offset);
  std::optional<UserInfo> user(const std::string& tenant, const std::string& address);

  // Allow/block list entries of a tenant or, with `user`, of one of its users.
  Expected<bool> add_list_entry(const std::string& tenant, const ListEntry& e, const std::string& actor);
  Expected<bool> remove_list_entry(const std::string& tenant, const ListEntry& e, const std::string& actor);
  std::vector<ListEntry> list_entries(const std::string& tenant);  // the tenant's and its users'

  // The document a commit would push (complete, unsuspended tenants, in the order they were
  // added), and what it leaves out. Not validated here (the committer runs parse_snapshot).
  Compiled compile();
  // Replaces every tenant, domain, user and list entry with a document's (validated first,
  // whole; one transaction). Used by import and rollback, so that later changes build on it.
  // inline_rules: refuse a tenant's `rules` (a file name; a pushed document carries rules_text),
  // checked before anything reads the document's files.
  Expected<Compiled> import_document(const std::string& document, const std::string& actor, bool inline_rules = false);
  // Whether anything changed since the last commit, and the mark that a commit clears.
  bool changed();
  void mark_committed();

  // API tokens. create_token returns the secret (shown once); check_token the scope of a secret.
  Expected<std::string> create_token(const std::string& name, const std::string& tenant, const std::string& actor);
  Expected<bool> remove_token(const std::string& name, const std::string& actor);
  std::vector<TokenInfo> tokens();
  std::optional<Scope> check_token(std::string_view secret);

  // How long the log keeps records: `default_days` and each tenant's log_retention_days as set
  // (in effect at once: it is control's own, not pushed).
  LogRetention log_retention(int default_days);

 private:
  std::optional<int64_t> tenant_id(const std::string& name);
  std::optional<int64_t> user_id(int64_t tenant, const std::string& address);
  // The list a list entry belongs to: (tenant id, user id or 0 for the tenant's own).
  Expected<std::pair<int64_t, int64_t>> list_owner(const std::string& tenant, const std::string& user);
  // The tenant's section (and, when `with_users`, its users') through parse_snapshot; missing
  // domains or route are filled with placeholders so that only the values are judged.
  Expected<bool> validate_tenant(int64_t id, const std::string& name, bool with_users, const std::string& only_user = "");
  void touch();  // the policy changed since the last commit
  Store& store_;
};

// Object-level differences from document `a` to document `b` (both snapshot documents).
Expected<std::vector<PolicyChange>> diff_documents(const std::string& a, const std::string& b);

}  // namespace mx::control
