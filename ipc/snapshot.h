// ipc/snapshot.h — the tenant snapshot: tenants, their domains, the route to their mail
// server, its TLS policy, their rules, users' preferences, spooling, limits. Read from a TOML
// file (format in docs/tenants.md) at start and on SIGHUP; mxgate-control will push the same
// format. A snapshot is immutable once built and shared (std::shared_ptr) by every session that
// started under it, so a swap never disturbs a session in flight.
//
// SECURITY: the file is operator input, validated whole before it replaces anything: every error
// names file:line and key, and a bad file leaves the running snapshot in place. Recipient
// domains and addresses from the network are looked up, never parsed here.
// STANDARDS: RFC 5321 4.1.2 (domains compared case-insensitively), RFC 5233 (sub-addresses
// "user+detail" get the user's preferences).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ascii.h"
#include "common/expected.h"
#include "common/net_types.h"
#include "common/tls_policy.h"
#include "scan/hs_rules.h"
#include "scan/policy.h"

namespace mx::ipc {

constexpr size_t kMaxTenants = 10000;
constexpr size_t kMaxTenantDomains = 1000;   // per tenant
constexpr uint64_t kMaxLogRetentionDays = 3650;  // ten years: a tenant's log_retention_days
constexpr size_t kMaxUsers = 1000000;
constexpr size_t kMaxListEntries = 10000;    // allow/block entries per list
constexpr size_t kMaxRulesFileBytes = 16u << 20;
// A snapshot document, rules inline (what mxgate-control pushes; ipc/frame.h bounds the frame).
constexpr size_t kMaxSnapshotDocumentBytes = 256u << 20;
// RFC 5233 section 2: "user+detail" is the user's mailbox with a detail part.
constexpr char kSubAddressSeparator = '+';

struct Tenant {
  uint32_t index = 0;
  std::string name;
  std::vector<std::string> domains;  // lower case
  Ipv4Addr route_ip;
  uint16_t route_port = 25;
  TlsPolicy route_tls = TlsPolicy::kOpportunistic;
  // The route's host name (its MX name): sent as SNI and, with required-verify, what the
  // server's certificate must match. Empty: the route's address (no SNI; an IP SAN must match).
  std::string route_tls_name;
  bool spool = false;                // may mail be spooled when the route is down
  // Each recipient is checked with the tenant's server (MAIL, RCPT, QUIT) before the sender's
  // RCPT is answered, so recipients it refuses are refused to the sender, not bounced later.
  bool verify_recipients = true;
  uint64_t max_message_size = 0;     // 0: the gateway's
  // How long mxgate-control keeps the tenant's transaction records, in days (0: control's
  // --log-retention-days). Control's own setting: the data plane reads and ignores it.
  uint32_t log_retention_days = 0;
  scan::TenantPolicy policy;
  std::shared_ptr<const scan::HsRules> rules;
  std::string rules_text;            // the source, for the scan thread's scratch and the log
};

struct User {
  uint32_t tenant = 0;
  std::string address;  // local@domain, domain lower case
  scan::UserPrefs prefs;
};

// The policy a recipient gets: its tenant and, when it has preferences, its user entry.
struct PolicyKey {
  uint32_t tenant = 0;
  int64_t user = -1;
  bool operator==(const PolicyKey&) const = default;
};

class Snapshot {
 public:
  // The tenant that owns `domain` (any case), or null.
  const Tenant* tenant_for_domain(std::string_view domain) const;
  // The policy of local@domain: null tenant when the domain is nobody's. The user entry is
  // local@domain's (exact spelling, then lower case), else, for a sub-address "user+detail",
  // user@domain's (RFC 5233).
  const Tenant* lookup(std::string_view local, std::string_view domain, PolicyKey& key) const;
  const User* user(int64_t index) const { return index < 0 ? nullptr : &users_[static_cast<size_t>(index)]; }
  const std::vector<Tenant>& tenants() const { return tenants_; }
  const std::vector<User>& users() const { return users_; }
  uint64_t generation() const { return generation_; }
  const std::string& source() const { return source_; }

 private:
  friend Expected<std::shared_ptr<Snapshot>> parse_snapshot(std::string_view, const std::string&, uint64_t);
  int64_t user_index(std::string_view local, std::string_view domain) const;  // -1: none
  std::vector<Tenant> tenants_;
  std::vector<User> users_;
  std::map<std::string, uint32_t, std::less<>> domains_;  // lower-case domain -> tenant
  std::map<std::string, uint32_t, std::less<>> addresses_;  // lower-case address -> user
  uint64_t generation_ = 0;
  std::string source_;
};

// Parses and compiles (each tenant's rules into Hyperscan); `source` names the file in errors
// and is the directory that relative rule paths are read from.
Expected<std::shared_ptr<Snapshot>> parse_snapshot(std::string_view text, const std::string& source,
                                                   uint64_t generation);
Expected<std::shared_ptr<Snapshot>> load_snapshot(const std::string& path, uint64_t generation);

// The same document with every tenant's `rules = "FILE"` replaced by `rules_text = "..."` (the
// file's content, read relative to `source`), so that it can be pushed to nodes that do not have
// the files. The document is validated first (parse_snapshot): errors name source:line and key.
Expected<std::string> self_contained_snapshot(std::string_view text, const std::string& source);
// A TOML basic string (quoted, escaped) holding `s`.
std::string toml_quote(std::string_view s);

}  // namespace mx::ipc
