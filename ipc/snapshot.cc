// ipc/snapshot.cc — the tenant snapshot's schema (docs/tenants.md).
#include "ipc/snapshot.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ipc/toml.h"
#include "ipc/toml_reader.h"
#include "scan/rules.h"

namespace mx::ipc {
namespace {

using cfg::TomlReader;
using cfg::TomlTable;
using cfg::TomlValue;

std::optional<scan::PolicyAction> parse_action(std::string_view s) {
  using A = scan::PolicyAction;
  for (A a : {A::kDeliver, A::kTag, A::kQuarantine, A::kTempfail, A::kReject})
    if (scan::policy_action_name(a) == s) return a;
  return std::nullopt;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.' || d.front() == '-') return false;
  return d.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string_view::npos &&
         d.find("..") == std::string_view::npos;
}

// Sender list entries: "local@domain" (address), "a.b.c.d/len" or "a.b.c.d" (client network),
// anything else a domain.
std::optional<Error> read_list(const TomlReader& r, const char* key, scan::SenderList& out) {
  std::vector<std::string> v;
  std::optional<Error> err;
  r.str_list(key, v, err);
  if (err) return err;
  if (v.size() > kMaxListEntries)
    return Error{r.where(*r.raw(key), key) + "more than " + std::to_string(kMaxListEntries) + " entries"};
  for (const std::string& e : v) {
    if (e.find('@') != std::string::npos) {
      out.addresses.push_back(e);
    } else if (auto p = Ipv4Prefix::parse(e)) {
      out.networks.push_back(*p);
    } else if (auto a = Ipv4Addr::parse(e)) {
      out.networks.push_back(Ipv4Prefix{*a, 32});
    } else if (valid_domain(ascii_lower(e))) {
      out.domains.push_back(ascii_lower(e));
    } else {
      return Error{r.where(*r.raw(key), key) + "'" + e + "' is not an address, a domain or an IPv4 network"};
    }
  }
  return std::nullopt;
}

std::optional<Error> read_score(const TomlReader& r, const char* key, int64_t& out) {
  std::string s;
  std::optional<Error> err;
  r.str(key, s, err);
  if (err || !r.raw(key)) return err;
  if (!scan::parse_score(s, out)) return Error{r.where(*r.raw(key), key) + "'" + s + "' is not a score like \"5.0\""};
  return std::nullopt;
}

std::optional<Error> read_action(const TomlReader& r, const char* key, std::optional<scan::PolicyAction>& out) {
  std::string s;
  std::optional<Error> err;
  r.str(key, s, err);
  if (err || !r.raw(key)) return err;
  out = parse_action(s);
  if (!out) return Error{r.where(*r.raw(key), key) + "'" + s + "' is not deliver, tag, quarantine, tempfail or reject"};
  return std::nullopt;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

Expected<std::string> read_file(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open"};
  std::string text(max + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return Error{path + ": read error"};
  if (text.size() > max) return Error{path + ": larger than " + std::to_string(max) + " bytes"};
  return text;
}

std::optional<Error> read_tenant(const std::string& src, const TomlTable& t, Tenant& out) {
  TomlReader r(src, t);
  if (auto err = r.unknown_keys({"name", "domains", "route", "route_tls", "route_tls_name", "spool", "verify_recipients", "rules", "rules_text", "spam_threshold",
                                 "bulk_threshold", "action_clean", "action_bulk", "action_spam", "action_phish",
                                 "action_unscannable", "subject_tag", "allow_senders", "block_senders",
                                 "max_message_size", "log_retention_days"}))
    return err;
  for (const char* k : {"name", "domains", "route"})
    if (auto err = r.missing(k)) return err;
  std::optional<Error> err;
  std::string route, tls = "opportunistic", rules;
  r.str("name", out.name, err);
  r.str_list("domains", out.domains, err);
  r.str("route", route, err);
  r.str("route_tls", tls, err);
  r.str("route_tls_name", out.route_tls_name, err);
  r.boolean("spool", out.spool, err);
  r.boolean("verify_recipients", out.verify_recipients, err);
  r.str("rules", rules, err);
  r.str("rules_text", out.rules_text, err);
  if (!err && r.raw("rules") && r.raw("rules_text"))
    return Error{r.where(*r.raw("rules_text"), "rules_text") + "a tenant has rules or rules_text, not both"};
  if (!err && out.rules_text.size() > kMaxRulesFileBytes)
    return Error{r.where(*r.raw("rules_text"), "rules_text") + "larger than " + std::to_string(kMaxRulesFileBytes) + " bytes"};
  r.str("subject_tag", out.policy.subject_tag, err);
  r.uint("max_message_size", out.max_message_size, 1024, 1ull << 30, err);
  uint64_t retention = 0;
  r.uint("log_retention_days", retention, 1, kMaxLogRetentionDays, err);
  out.log_retention_days = static_cast<uint32_t>(retention);
  if (err) return err;
  if (out.name.empty() || out.name.size() > 64 ||
      out.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos)
    return Error{r.where(*r.raw("name"), "name") + "'" + out.name + "' must be 1-64 letters, digits, _ . -"};
  if (out.domains.empty() || out.domains.size() > kMaxTenantDomains)
    return Error{r.where(*r.raw("domains"), "domains") + "needs 1.." + std::to_string(kMaxTenantDomains) + " domains"};
  for (std::string& d : out.domains) {
    d = ascii_lower(d);
    if (!valid_domain(d)) return Error{r.where(*r.raw("domains"), "domains") + "'" + d + "' is not a domain"};
  }
  auto ep = cfg::parse_ipv4_port(route, 25);
  if (!ep) return Error{r.where(*r.raw("route"), "route") + "'" + route + "' is not IPv4[:port] like 198.18.0.1:2526"};
  out.route_ip = ep->first;
  out.route_port = ep->second;
  out.route_tls_name = ascii_lower(out.route_tls_name);
  if (!out.route_tls_name.empty() && (!valid_domain(out.route_tls_name) || Ipv4Addr::parse(out.route_tls_name)))
    return Error{r.where(*r.raw("route_tls_name"), "route_tls_name") + "'" + out.route_tls_name +
                 "' is not a host name (the route's MX name, e.g. mx1.example.test)"};
  using P = TlsPolicy;
  if (tls == "none") out.route_tls = P::kNone;
  else if (tls == "opportunistic") out.route_tls = P::kOpportunistic;
  else if (tls == "required") out.route_tls = P::kRequired;
  else if (tls == "required-verify") out.route_tls = P::kRequiredVerify;
  else return Error{r.where(*r.raw("route_tls"), "route_tls") + "'" + tls + "' is not none, opportunistic, required or required-verify"};
  if (auto e = read_score(r, "spam_threshold", out.policy.spam_threshold)) return e;
  if (auto e = read_score(r, "bulk_threshold", out.policy.bulk_threshold)) return e;
  const char* action_keys[] = {"action_clean", "action_bulk", "action_spam", "action_phish", "action_unscannable"};
  for (size_t i = 0; i < 5; ++i) {
    std::optional<scan::PolicyAction> a;
    if (auto e = read_action(r, action_keys[i], a)) return e;
    if (a) out.policy.actions[i] = *a;
  }
  if (auto e = read_list(r, "allow_senders", out.policy.allow)) return e;
  if (auto e = read_list(r, "block_senders", out.policy.block)) return e;
  if (!rules.empty()) {
    const std::string path = rules[0] == '/' ? rules : dir_of(src) + rules;
    auto text = read_file(path, kMaxRulesFileBytes);
    if (!text) return Error{r.where(*r.raw("rules"), "rules") + text.error().message};
    out.rules_text = std::move(*text);
  }
  auto compiled = scan::HsRules::compile(out.rules_text);
  if (!compiled) return Error{src + ":" + std::to_string(t.line) + ": tenant '" + out.name + "': rules: " +
                              compiled.error().message};
  out.rules = std::make_shared<const scan::HsRules>(std::move(*compiled));
  return std::nullopt;
}

std::optional<Error> read_user(const std::string& src, const TomlTable& t, User& out) {
  TomlReader r(src, t);
  if (auto err = r.unknown_keys({"address", "spam_threshold", "spam_action", "bulk_action", "allow_senders",
                                 "block_senders"}))
    return err;
  if (auto err = r.missing("address")) return err;
  std::optional<Error> err;
  r.str("address", out.address, err);
  if (err) return err;
  const size_t at = out.address.rfind('@');
  if (at == std::string::npos || at == 0 || at > 64 || !valid_domain(ascii_lower(out.address.substr(at + 1))))
    return Error{r.where(*r.raw("address"), "address") + "'" + out.address + "' is not local@domain"};
  out.address = out.address.substr(0, at + 1) + ascii_lower(out.address.substr(at + 1));
  if (r.raw("spam_threshold")) {
    int64_t v = 0;
    if (auto e = read_score(r, "spam_threshold", v)) return e;
    out.prefs.spam_threshold = v;
  }
  if (auto e = read_action(r, "spam_action", out.prefs.spam_action)) return e;
  if (auto e = read_action(r, "bulk_action", out.prefs.bulk_action)) return e;
  if (auto e = read_list(r, "allow_senders", out.prefs.allow)) return e;
  if (auto e = read_list(r, "block_senders", out.prefs.block)) return e;
  return std::nullopt;
}

}  // namespace

const Tenant* Snapshot::tenant_for_domain(std::string_view domain) const {
  auto it = domains_.find(ascii_lower(domain));
  return it == domains_.end() ? nullptr : &tenants_[it->second];
}

int64_t Snapshot::user_index(std::string_view local, std::string_view domain) const {
  // Local parts compare case-sensitively in principle (RFC 5321 2.4); users are listed as the
  // tenant's directory spells them, and lookups try the exact form and then lower case.
  const std::string addr = std::string(local) + "@" + ascii_lower(domain);
  auto it = addresses_.find(addr);
  if (it == addresses_.end()) it = addresses_.find(ascii_lower(addr));
  return it == addresses_.end() ? -1 : static_cast<int64_t>(it->second);
}

const Tenant* Snapshot::lookup(std::string_view local, std::string_view domain, PolicyKey& key) const {
  const Tenant* t = tenant_for_domain(domain);
  if (!t) return nullptr;
  key.tenant = t->index;
  key.user = -1;
  if (addresses_.empty()) return t;
  key.user = user_index(local, domain);
  // A sub-address "user+detail" (RFC 5233 section 2; the detail starts at the first '+') has
  // the user's preferences unless it has an entry of its own, so that a tag cannot escape them.
  const size_t plus = local.find(kSubAddressSeparator);
  if (key.user < 0 && plus != std::string_view::npos && plus > 0) key.user = user_index(local.substr(0, plus), domain);
  return t;
}

Expected<std::shared_ptr<Snapshot>> parse_snapshot(std::string_view text, const std::string& source,
                                                   uint64_t generation) {
  auto doc = cfg::parse_toml(text, source, kMaxSnapshotDocumentBytes);
  if (!doc) return doc.error();
  auto snap = std::make_shared<Snapshot>();
  snap->generation_ = generation;
  snap->source_ = source;
  for (const TomlTable& t : doc->tables) {
    std::optional<Error> err;
    if (t.name.empty()) {
      if (!t.entries.empty())
        err = Error{source + ":" + std::to_string(t.entries[0].second.line) + ": unknown key '" +
                    t.entries[0].first + "' outside any section"};
    } else if (t.name == "tenant" && t.array) {
      if (snap->tenants_.size() >= kMaxTenants) return Error{source + ": more than " + std::to_string(kMaxTenants) + " tenants"};
      Tenant tn;
      tn.index = static_cast<uint32_t>(snap->tenants_.size());
      err = read_tenant(source, t, tn);
      if (!err) {
        for (const Tenant& o : snap->tenants_)
          if (o.name == tn.name) err = Error{source + ":" + std::to_string(t.line) + ": tenant '" + tn.name + "' twice"};
        for (const std::string& d : tn.domains)
          if (!err && !snap->domains_.emplace(d, tn.index).second)
            err = Error{source + ":" + std::to_string(t.line) + ": domain '" + d + "' belongs to two tenants"};
      }
      if (!err) snap->tenants_.push_back(std::move(tn));
    } else if (t.name == "user" && t.array) {
      if (snap->users_.size() >= kMaxUsers) return Error{source + ": more than " + std::to_string(kMaxUsers) + " users"};
      User u;
      err = read_user(source, t, u);
      if (!err) {
        const std::string domain = u.address.substr(u.address.rfind('@') + 1);
        auto it = snap->domains_.find(domain);
        if (it == snap->domains_.end())
          err = Error{source + ":" + std::to_string(t.line) + ": user '" + u.address +
                      "': no tenant (declared above it) has domain '" + domain + "'"};
        else if (!snap->addresses_.emplace(u.address, static_cast<uint32_t>(snap->users_.size())).second)
          err = Error{source + ":" + std::to_string(t.line) + ": user '" + u.address + "' twice"};
        else
          u.tenant = it->second;
        // Also by the all-lower-case form, unless another user is spelled that way.
        if (!err) snap->addresses_.emplace(ascii_lower(u.address), static_cast<uint32_t>(snap->users_.size()));
      }
      if (!err) snap->users_.push_back(std::move(u));
    } else {
      err = Error{source + ":" + std::to_string(t.line) + ": unknown section " + (t.array ? "[[" : "[") + t.name +
                  (t.array ? "]]" : "]") + " (known: [[tenant]], [[user]])"};
    }
    if (err) return *err;
  }
  if (snap->tenants_.empty()) return Error{source + ": no [[tenant]]"};
  return snap;
}

Expected<std::shared_ptr<Snapshot>> load_snapshot(const std::string& path, uint64_t generation) {
  auto text = read_file(path, cfg::kTomlMaxBytes);
  if (!text) return text.error();
  return parse_snapshot(*text, path, generation);
}

std::string toml_quote(std::string_view s) {
  std::string o = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += ch;
        }
    }
  }
  o += '"';
  return o;
}

Expected<std::string> self_contained_snapshot(std::string_view text, const std::string& source) {
  if (auto snap = parse_snapshot(text, source, 0); !snap) return snap.error();
  auto doc = cfg::parse_toml(text, source, kMaxSnapshotDocumentBytes);
  if (!doc) return doc.error();
  // The lines that name a rules file, and what replaces each (one key per line in this TOML).
  std::map<int, std::string> replace;
  for (const TomlTable& t : doc->tables) {
    if (t.name != "tenant") continue;
    for (const auto& [key, value] : t.entries) {
      if (key != "rules" || value.str.empty()) continue;
      const std::string path = value.str[0] == '/' ? value.str : dir_of(source) + value.str;
      auto rules = read_file(path, kMaxRulesFileBytes);
      if (!rules) return Error{source + ":" + std::to_string(value.line) + ": rules: " + rules.error().message};
      replace[value.line] = "rules_text = " + toml_quote(*rules);
    }
  }
  std::string out;
  int line = 1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    const size_t end = eol == std::string_view::npos ? text.size() : eol + 1;
    auto it = replace.find(line);
    if (it != replace.end()) {
      out += it->second;
      out += '\n';
    } else {
      out.append(text.substr(pos, end - pos));
    }
    pos = end;
    ++line;
  }
  return out;
}

}  // namespace mx::ipc
