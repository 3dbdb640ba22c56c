// control/cli/mxgatectl.cc — the operators' CLI: a client of mxgate-control's JSON API
// (control/api/api_server.h) on its local socket. Tables for people, --json for scripts.
//
// SECURITY: reads the operator's files and the API's answers (parsed with bounds,
// ipc/json.h); prints server-provided text through ipc::terminal_text so that a name or a
// reason cannot send control sequences to the operator's terminal.
// STANDARDS: RFC 9112 (the request it sends), RFC 8259.
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/api/http.h"
#include "ipc/json.h"
#include "ipc/snapshot.h"
#include "ipc/toml.h"
#include "ipc/txlog.h"
#include "scan/hs_rules.h"
#include "scan/rules.h"

namespace {

// Exit codes (also in --help and docs/control.md).
constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;      // control refused the request (4xx), or a node refused the push
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;  // no mxgate-control on the socket
constexpr int kExitFailed = 4;       // control failed (5xx) or answered something unreadable
constexpr int kExitTimeout = 5;      // --wait: not every connected node answered in time
constexpr size_t kMaxResponseBytes = 300u << 20;
constexpr time_t kIoTimeoutS = 120;  // per read or write on the API socket

struct Reply {
  int status = 0;
  std::string body;
};

int usage(const char* why);

// One request over a fresh connection (Connection: close); status 0 when unreachable.
Reply call(const std::string& sock, const std::string& token, const std::string& method, const std::string& target,
           const std::string& body, std::string& err) {
  Reply r;
  sockaddr_un a{};
  if (sock.size() >= sizeof a.sun_path) {
    err = sock + ": path too long";
    return r;
  }
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, sock.c_str(), sock.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    err = "cannot reach mxgate-control at " + sock + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return r;
  }
  // A control that stalls does not hang the CLI for ever.
  const timeval tv{kIoTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  if (method != "GET")
    req += std::string("Content-Type: ") + (target.starts_with("/v1/snapshot") ? "application/toml" : "application/json") +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  size_t off = 0;
  while (off < req.size()) {
    const ssize_t n = ::write(fd, req.data() + off, req.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (errno == EPIPE || errno == ECONNRESET) break;  // control answered early (e.g. 413): read it
      err = std::string("writing the request: ") + std::strerror(errno);
      ::close(fd);
      r.status = -1;
      return r;
    }
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > kMaxResponseBytes) break;
  }
  ::close(fd);
  const size_t eoh = resp.find("\r\n\r\n");
  if (resp.compare(0, 9, "HTTP/1.1 ") != 0 || eoh == std::string::npos || resp.size() < 12) {
    err = "mxgate-control answered something that is not HTTP";
    r.status = -1;
    return r;
  }
  r.status = std::atoi(resp.substr(9, 3).c_str());
  r.body = resp.substr(eoh + 4);
  return r;
}

std::string show(std::string_view s) { return mx::ipc::terminal_text(s); }

struct Ctx {
  std::string sock;
  std::string token;  // an API token (--token or $MXGATECTL_TOKEN); none: the local operator
  bool json = false;
  bool yes = false;   // commit without asking
  std::string comment, user, tls, tls_name;
  long limit = 20, offset = 0;
  double wait = 0;
  double duration = 0;  // log follow: stop after this many seconds (0: at Ctrl-C)
  std::vector<std::pair<std::string, std::string>> filters;  // log search
};

// Calls and parses; prints the error and returns the exit code when it is not 2xx.
int fetch(const Ctx& c, const std::string& method, const std::string& target, const std::string& body,
          mx::ipc::JsonValue& out, std::string* raw = nullptr) {
  std::string err;
  const Reply r = call(c.sock, c.token, method, target, body, err);
  if (r.status == 0) {
    std::fprintf(stderr, "mxgatectl: %s\n", err.c_str());
    return kExitUnreachable;
  }
  if (r.status < 0) {
    std::fprintf(stderr, "mxgatectl: %s\n", err.c_str());
    return kExitFailed;
  }
  auto v = mx::ipc::parse_json(r.body);
  if (!v) {
    std::fprintf(stderr, "mxgatectl: HTTP %d with an unreadable body: %s\n", r.status, v.error().message.c_str());
    return kExitFailed;
  }
  if (r.status >= 300) {
    std::fprintf(stderr, "mxgatectl: %s (HTTP %d)\n", show(v->get_str("error", "error")).c_str(), r.status);
    return r.status >= 500 ? kExitFailed : kExitRefused;
  }
  out = std::move(*v);
  if (raw) *raw = r.body;
  return kExitOk;
}

int cmd_status(const Ctx& c) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/status", "", v, &raw)) return rc;
  if (c.json) {
    std::fputs(raw.c_str(), stdout);
    return kExitOk;
  }
  std::printf("generation       %lld\nnodes connected  %lld\nschema version   %lld\nlog records      %lld\n"
              "uncommitted      %s\n",
              static_cast<long long>(v.get_int("generation")), static_cast<long long>(v.get_int("nodes_connected")),
              static_cast<long long>(v.get_int("schema_version")), static_cast<long long>(v.get_int("log_records")),
              v.get_bool("uncommitted_changes") ? "yes (mxgatectl diff)" : "no");
  return kExitOk;
}

int cmd_nodes(const Ctx& c) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/nodes", "", v, &raw)) return rc;
  if (c.json) {
    std::fputs(raw.c_str(), stdout);
    return kExitOk;
  }
  std::printf("%-20s %-10s %10s %8s  %-24s %s\n", "NODE", "STATE", "GENERATION", "REFUSED", "LAST SEEN", "REASON");
  for (const auto& n : v.items)
    std::printf("%-20s %-10s %10lld %8s  %-24s %s\n", show(n.get_str("name")).c_str(), show(n.get_str("state")).c_str(),
                static_cast<long long>(n.get_int("generation")),
                n.get_int("nacked") ? std::to_string(n.get_int("nacked")).c_str() : "-",
                show(n.get_str("last_seen")).c_str(), show(n.get_str("reason")).c_str());
  return kExitOk;
}

int cmd_generations(const Ctx& c, long limit) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/generations?limit=" + std::to_string(limit), "", v, &raw)) return rc;
  if (c.json) {
    std::fputs(raw.c_str(), stdout);
    return kExitOk;
  }
  std::printf("%10s  %-24s %-16s %7s %7s  %s\n", "GENERATION", "CREATED", "ACTOR", "TENANTS", "USERS", "COMMENT");
  for (const auto& g : v.items) {
    std::string comment(show(g.get_str("comment")));
    if (g.get_int("rollback_of")) comment = "(rollback to " + std::to_string(g.get_int("rollback_of")) + ") " + comment;
    std::printf("%10lld  %-24s %-16s %7lld %7lld  %s\n", static_cast<long long>(g.get_int("generation")),
                show(g.get_str("created")).c_str(), show(g.get_str("actor")).c_str(),
                static_cast<long long>(g.get_int("tenants")), static_cast<long long>(g.get_int("users")), comment.c_str());
  }
  return kExitOk;
}

int cmd_generation_show(const Ctx& c, const std::string& n) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/generations/" + n, "", v, &raw)) return rc;
  if (c.json) std::fputs(raw.c_str(), stdout);
  else std::fputs(show(v.get_str("document")).c_str(), stdout);
  return kExitOk;
}

// Until every connected node serves `gen` or refused it; prints each node's answer.
int wait_nodes(const Ctx& c, int64_t gen, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (true) {
    mx::ipc::JsonValue v;
    if (int rc = fetch(c, "GET", "/v1/nodes", "", v)) return rc;
    bool all = true, refused = false;
    for (const auto& n : v.items) {
      if (n.get_str("state") != "connected") continue;
      if (n.get_int("nacked") == gen) refused = true;
      else if (n.get_int("generation") < gen) all = false;
    }
    if (all || std::chrono::steady_clock::now() >= until) {
      for (const auto& n : v.items) {
        if (n.get_str("state") != "connected") continue;
        const bool nack = n.get_int("nacked") == gen;
        const bool ok = !nack && n.get_int("generation") >= gen;
        if (!c.json)
          std::printf("node %s: %s%s\n", show(n.get_str("name")).c_str(),
                      ok ? "serving generation " : nack ? "REFUSED: " : "no answer yet, serving ",
                      ok || !nack ? std::to_string(n.get_int("generation")).c_str() : show(n.get_str("reason")).c_str());
      }
      if (!all) {
        std::fprintf(stderr, "mxgatectl: not every connected node answered within %.1f s\n", seconds);
        return kExitTimeout;
      }
      return refused ? kExitRefused : kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string query_escape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      o += static_cast<char>(ch);
    } else {
      o += '%';
      o += kHex[ch >> 4];
      o += kHex[ch & 15];
    }
  }
  return o;
}

// Who runs the command, for the audit log: the sudo caller, else the login of the uid.
std::string actor() {
  const char* u = std::getenv("SUDO_USER");
  if (!u || !*u) {
    const passwd* pw = ::getpwuid(::getuid());
    u = pw ? pw->pw_name : nullptr;
  }
  return std::string("cli:") + (u ? u : std::to_string(::getuid()).c_str());
}

int cmd_import(const Ctx& c, const std::string& file, const std::string& comment, double wait) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mxgatectl: %s: cannot open\n", file.c_str());
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  // Validated here first (errors name the file and line), with the rule files inlined.
  auto doc = mx::ipc::self_contained_snapshot(ss.str(), file);
  if (!doc) {
    std::fprintf(stderr, "mxgatectl: %s\n", doc.error().message.c_str());
    return kExitRefused;
  }
  if (doc->size() > mx::control::kMaxBodyBytes) {
    std::fprintf(stderr, "mxgatectl: %s: %zu bytes with its rules, more than the API takes (%zu)\n", file.c_str(),
                 doc->size(), mx::control::kMaxBodyBytes);
    return kExitRefused;
  }
  mx::ipc::JsonValue v;
  std::string raw;
  const std::string target = "/v1/snapshot?actor=" + query_escape(actor()) + "&comment=" + query_escape(comment);
  if (int rc = fetch(c, "POST", target, *doc, v, &raw)) return rc;
  const int64_t gen = v.get_int("generation");
  if (c.json) std::fputs(raw.c_str(), stdout);
  else
    std::printf("generation %lld committed: %lld tenant(s), %lld user(s); pushed to %lld connected node(s)\n",
                static_cast<long long>(gen), static_cast<long long>(v.get_int("tenants")),
                static_cast<long long>(v.get_int("users")), static_cast<long long>(v.get_int("nodes_connected")));
  return wait > 0 ? wait_nodes(c, gen, wait) : kExitOk;
}

int cmd_rollback(const Ctx& c, const std::string& n, double wait) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "POST", "/v1/rollback/" + n + "?actor=" + query_escape(actor()), "", v, &raw)) return rc;
  const int64_t gen = v.get_int("generation");
  if (c.json) std::fputs(raw.c_str(), stdout);
  else std::printf("generation %lld committed: the document of generation %s\n", static_cast<long long>(gen), n.c_str());
  return wait > 0 ? wait_nodes(c, gen, wait) : kExitOk;
}

void print_record_row(const mx::ipc::JsonValue& item);

int cmd_log_search(const Ctx& c, const std::vector<std::pair<std::string, std::string>>& filters, long limit) {
  std::string target = "/v1/log?limit=" + std::to_string(limit);
  for (const auto& [k, v] : filters) target += "&" + k + "=" + query_escape(v);
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", target, "", v, &raw)) return rc;
  if (c.json) {
    std::fputs(raw.c_str(), stdout);
    return kExitOk;
  }
  std::printf("%-24s %-10s %-26s %-26s %-8s %-10s %s\n", "TIME", "TENANT", "FROM", "TO", "CLASS", "ACTION", "SUBJECT");
  for (const auto& item : v.items) print_record_row(item);
  return kExitOk;
}

void print_record_row(const mx::ipc::JsonValue& item) {
  auto r = mx::ipc::parse_json(item.get_str("record"));
  if (!r) {
    std::printf("(unparsed record) %s\n", show(item.get_str("record")).c_str());
    return;
  }
  std::string to;
  if (const auto* rc = r->get("rcpts"))
    for (const auto& x : rc->items) to += (to.empty() ? "" : ",") + x.str;
  std::printf("%-24s %-10s %-26s %-26s %-8s %-10s %s\n", show(r->get_str("time")).c_str(),
              show(r->get_str("tenant")).c_str(), show(r->get_str("mail_from", "<>")).c_str(), show(to).c_str(),
              show(r->get_str("class", "-")).c_str(), show(r->get_str("action", r->get_str("event"))).c_str(),
              show(r->get_str("subject")).c_str());
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// Records as they arrive, oldest first: polls for records at or after the newest time seen
// (records of that same millisecond are told apart by node and position). Stops at Ctrl-C or
// after --duration seconds. One poll returns at most kFollowBatch records; more than that in one
// poll interval is said, not silently skipped.
int cmd_log_follow(const Ctx& c) {
  constexpr long kFollowBatch = 1000;
  constexpr auto kFollowPoll = std::chrono::milliseconds(250);
  ::signal(SIGINT, on_interrupt);
  ::signal(SIGTERM, on_interrupt);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(c.duration * 1000));
  std::string since = mx::ipc::log_time();  // from now on
  std::vector<std::string> seen_at_since;   // node:seq of the records printed with time == since
  if (!c.json)
    std::printf("%-24s %-10s %-26s %-26s %-8s %-10s %s\n", "TIME", "TENANT", "FROM", "TO", "CLASS", "ACTION", "SUBJECT");
  std::fflush(stdout);
  while (!g_interrupted.load() && (c.duration <= 0 || std::chrono::steady_clock::now() < until)) {
    std::string target = "/v1/log?limit=" + std::to_string(kFollowBatch) + "&since=" + query_escape(since);
    for (const auto& [k, v] : c.filters)
      if (k != "since" && k != "until") target += "&" + k + "=" + query_escape(v);
    mx::ipc::JsonValue v;
    if (int rc = fetch(c, "GET", target, "", v)) return rc;
    if (v.items.size() >= static_cast<size_t>(kFollowBatch))
      std::fprintf(stderr, "mxgatectl: more than %ld records in one poll; some may not be shown (use log search)\n",
                   kFollowBatch);
    for (auto it = v.items.rbegin(); it != v.items.rend(); ++it) {  // newest first -> oldest first
      const std::string key = std::string(it->get_str("node")) + ":" + std::to_string(it->get_int("seq"));
      auto rec = mx::ipc::parse_json(it->get_str("record"));
      const std::string t = rec ? std::string(rec->get_str("time")) : std::string();
      if (t == since && std::find(seen_at_since.begin(), seen_at_since.end(), key) != seen_at_since.end()) continue;
      if (t > since) {
        since = t;
        seen_at_since.clear();
      }
      seen_at_since.push_back(key);
      if (c.json) std::printf("%s\n", std::string(it->get_str("record")).c_str());
      else print_record_row(*it);
    }
    std::fflush(stdout);
    std::this_thread::sleep_for(kFollowPoll);
  }
  return kExitOk;
}

int cmd_rules_check(const Ctx& c, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mxgatectl: %s: cannot open\n", file.c_str());
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto set = mx::scan::parse_rules(text);
  auto compiled = set ? mx::scan::HsRules::compile(text) : mx::Expected<mx::scan::HsRules>(set.error());
  if (c.json) {
    std::string o = "{\"file\":";
    mx::ipc::json_string(o, file);
    o += compiled ? ",\"ok\":true,\"rules\":" + std::to_string(set->rules.size()) : ",\"ok\":false,\"error\":";
    if (!compiled) mx::ipc::json_string(o, compiled.error().message);
    std::printf("%s}\n", o.c_str());
  } else if (compiled) {
    std::printf("%s: %zu rule(s) compile\n", file.c_str(), set->rules.size());
  } else {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), compiled.error().message.c_str());
  }
  return compiled ? kExitOk : kExitRefused;
}

int cmd_audit(const Ctx& c, long limit) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/audit?limit=" + std::to_string(limit), "", v, &raw)) return rc;
  if (c.json) {
    std::fputs(raw.c_str(), stdout);
    return kExitOk;
  }
  std::printf("%-24s %-20s %-10s %-16s %s\n", "TIME", "ACTOR", "ACTION", "OBJECT", "DETAIL");
  for (const auto& a : v.items)
    std::printf("%-24s %-20s %-10s %-16s %s\n", show(a.get_str("time")).c_str(), show(a.get_str("actor")).c_str(),
                show(a.get_str("action")).c_str(), show(a.get_str("object")).c_str(), show(a.get_str("detail")).c_str());
  return kExitOk;
}

bool number(const std::string& s, long& out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::atol(s.c_str());
  return true;
}

std::string path_escape(std::string_view s) { return query_escape(s); }

// Prints the raw JSON for --json, else nothing (the caller prints its table).
bool print_json(const Ctx& c, const std::string& raw) {
  if (c.json) std::fputs(raw.c_str(), stdout);
  return c.json;
}

// A JSON object with string members, for request bodies.
std::string json_object(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string o = "{";
  for (const auto& [k, v] : members) {
    if (o.size() > 1) o += ',';
    mx::ipc::json_string(o, k);
    o += ':';
    mx::ipc::json_string(o, v);
  }
  return o + "}";
}

// KEY=VALUE arguments as {"settings": {...}}; an empty VALUE unsets the key.
std::optional<std::string> settings_body(const std::vector<std::string>& kvs) {
  std::vector<std::pair<std::string, std::string>> m;
  for (const std::string& kv : kvs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return std::nullopt;
    m.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return "{\"settings\":" + json_object(m) + "}";
}

// A change that answers {"ok": true} or an object: prints `what` for people.
int change(const Ctx& c, const std::string& method, const std::string& target, const std::string& body,
           const std::string& what) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, method, target, body, v, &raw)) return rc;
  if (!print_json(c, raw)) std::printf("%s (not pushed until: mxgatectl commit)\n", what.c_str());
  return kExitOk;
}

std::string tenant_path(const std::string& t) { return "/v1/tenants/" + path_escape(t); }

// A setting as people read it: a TOML basic string without its quotes and escapes.
std::string plain(const std::string& toml) {
  if (toml.size() < 2 || toml.front() != '"' || toml.back() != '"') return toml;
  std::string o;
  for (size_t i = 1; i + 1 < toml.size(); ++i) {
    if (toml[i] == '\\' && i + 2 < toml.size()) {
      const char n = toml[++i];
      o += n == 'n' ? '\n' : n == 't' ? '\t' : n;
      continue;
    }
    o += toml[i];
  }
  return o;
}

void print_settings(const mx::ipc::JsonValue& obj, const char* indent) {
  if (const auto* st = obj.get("settings"))
    for (const auto& [k, v] : st->members) {
      const std::string p = plain(v.str);
      std::string val = p.size() > 200 ? p.substr(0, 200) + "... (" + std::to_string(p.size()) + " bytes)" : p;
      std::printf("%s%-20s %s\n", indent, show(k).c_str(), show(val).c_str());
    }
}

void print_lists(const mx::ipc::JsonValue& obj, bool with_user) {
  if (const auto* l = obj.get("lists"))
    for (const auto& e : l->items) {
      if (with_user) std::printf("%-32s ", e.get_str("user").empty() ? "(tenant)" : show(e.get_str("user")).c_str());
      std::printf("%-6s %s\n", show(e.get_str("kind")).c_str(), show(e.get_str("entry")).c_str());
    }
}

using Args = std::vector<std::string>;  // the command's own arguments (after its words)

int cmd_tenant_list(const Ctx& c, const Args&) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/tenants", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("%-20s %7s %7s  %-24s %s\n", "TENANT", "DOMAINS", "USERS", "ROUTE", "PUSHED");
  for (const auto& t : v.items) {
    std::string route = "-";
    if (const auto* st = t.get("settings"))
      if (const auto* r = st->get("route")) route = plain(r->str);
    const auto* d = t.get("domains");
    std::printf("%-20s %7zu %7lld  %-24s %s\n", show(t.get_str("name")).c_str(), d ? d->items.size() : 0,
                static_cast<long long>(t.get_int("users")), show(route).c_str(),
                t.get_str("not_pushed").empty() ? "yes" : ("no: " + show(t.get_str("not_pushed"))).c_str());
  }
  return kExitOk;
}

int cmd_tenant_show(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]), "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("tenant      %s\ncreated     %s\nsuspended   %s\npushed      %s\nusers       %lld\ndomains    ",
              show(v.get_str("name")).c_str(), show(v.get_str("created")).c_str(), v.get_bool("suspended") ? "yes" : "no",
              v.get_str("not_pushed").empty() ? "yes" : ("no: " + show(v.get_str("not_pushed"))).c_str(),
              static_cast<long long>(v.get_int("users")));
  if (const auto* d = v.get("domains"))
    for (const auto& x : d->items) std::printf(" %s", show(x.str).c_str());
  std::printf("\nsettings\n");
  print_settings(v, "  ");
  std::printf("lists\n");
  print_lists(v, false);
  return kExitOk;
}

int cmd_tenant_add(const Ctx& c, const Args& a) {
  return change(c, "POST", "/v1/tenants?actor=" + query_escape(actor()), json_object({{"name", a[0]}}),
                "tenant " + a[0] + " added");
}

int cmd_tenant_remove(const Ctx& c, const Args& a) {
  return change(c, "DELETE", tenant_path(a[0]) + "?actor=" + query_escape(actor()), "", "tenant " + a[0] + " removed");
}

int cmd_tenant_set(const Ctx& c, const Args& a) {
  auto body = settings_body(Args(a.begin() + 1, a.end()));
  if (!body) return usage("settings are KEY=VALUE (an empty VALUE unsets the key)");
  return change(c, "PATCH", tenant_path(a[0]) + "?actor=" + query_escape(actor()), *body, "tenant " + a[0] + " changed");
}

int cmd_tenant_suspend(const Ctx& c, const Args& a, bool suspend) {
  return change(c, "PATCH", tenant_path(a[0]) + "?actor=" + query_escape(actor()),
                suspend ? "{\"suspended\":true}" : "{\"suspended\":false}",
                "tenant " + a[0] + (suspend ? " suspended" : " resumed"));
}

int cmd_keys(const Ctx& c, const char* which) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/keys", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  if (const auto* k = v.get(which))
    for (const auto& x : k->items)
      std::printf("%-20s %-7s %s\n", show(x.get_str("key")).c_str(), show(x.get_str("type")).c_str(),
                  show(x.get_str("help")).c_str());
  return kExitOk;
}

int cmd_domain_list(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]) + "/domains", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  for (const auto& d : v.items) std::printf("%s\n", show(d.str).c_str());
  return kExitOk;
}

int cmd_domain_add(const Ctx& c, const Args& a) {
  return change(c, "POST", tenant_path(a[0]) + "/domains?actor=" + query_escape(actor()), json_object({{"domain", a[1]}}),
                "domain " + a[1] + " added to tenant " + a[0]);
}

int cmd_domain_remove(const Ctx& c, const Args& a) {
  return change(c, "DELETE", tenant_path(a[0]) + "/domains/" + path_escape(a[1]) + "?actor=" + query_escape(actor()), "",
                "domain " + a[1] + " removed from tenant " + a[0]);
}

int cmd_route_set(const Ctx& c, const Args& a) {
  std::vector<std::pair<std::string, std::string>> m{{"route", a[1]}};
  if (!c.tls.empty()) m.emplace_back("route_tls", c.tls);
  if (!c.tls_name.empty()) m.emplace_back("route_tls_name", c.tls_name);
  return change(c, "PATCH", tenant_path(a[0]) + "?actor=" + query_escape(actor()), "{\"settings\":" + json_object(m) + "}",
                "route of tenant " + a[0] + " set to " + a[1]);
}

int cmd_route_show(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]), "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  const auto* st = v.get("settings");
  for (const char* k : {"route", "route_tls", "route_tls_name"}) {
    const auto* x = st ? st->get(k) : nullptr;
    std::printf("%-16s %s\n", k, x ? show(plain(x->str)).c_str() : "(default)");
  }
  return kExitOk;
}

int cmd_user_list(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]) + "/users?limit=" + std::to_string(c.limit) + "&offset=" +
                                   std::to_string(c.offset), "", v, &raw))
    return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("%-40s %s\n", "USER", "SETTINGS");
  for (const auto& u : v.items) {
    std::string st;
    if (const auto* s = u.get("settings"))
      for (const auto& [k, x] : s->members) st += (st.empty() ? "" : " ") + k + "=" + plain(x.str);
    const auto* l = u.get("lists");
    if (l && !l->items.empty()) st += (st.empty() ? "" : " ") + std::to_string(l->items.size()) + " list entries";
    std::printf("%-40s %s\n", show(u.get_str("address")).c_str(), show(st).c_str());
  }
  return kExitOk;
}

int cmd_user_show(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]) + "/users/" + path_escape(a[1]), "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("user    %s\ntenant  %s\nsettings\n", show(v.get_str("address")).c_str(), show(v.get_str("tenant")).c_str());
  print_settings(v, "  ");
  std::printf("lists\n");
  print_lists(v, false);
  return kExitOk;
}

int cmd_user_add(const Ctx& c, const Args& a) {
  auto body = settings_body(Args(a.begin() + 2, a.end()));
  if (!body) return usage("settings are KEY=VALUE");
  std::string b = "{\"address\":";
  mx::ipc::json_string(b, a[1]);
  b += "," + body->substr(1);
  return change(c, "POST", tenant_path(a[0]) + "/users?actor=" + query_escape(actor()), b,
                "user " + a[1] + " added to tenant " + a[0]);
}

int cmd_user_set(const Ctx& c, const Args& a) {
  auto body = settings_body(Args(a.begin() + 2, a.end()));
  if (!body) return usage("settings are KEY=VALUE (an empty VALUE unsets the key)");
  return change(c, "PATCH", tenant_path(a[0]) + "/users/" + path_escape(a[1]) + "?actor=" + query_escape(actor()), *body,
                "user " + a[1] + " changed");
}

int cmd_user_remove(const Ctx& c, const Args& a) {
  return change(c, "DELETE", tenant_path(a[0]) + "/users/" + path_escape(a[1]) + "?actor=" + query_escape(actor()), "",
                "user " + a[1] + " removed");
}

int cmd_list_show(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", tenant_path(a[0]) + "/lists", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("%-32s %-6s %s\n", "SCOPE", "LIST", "ENTRY");
  print_lists(v, true);
  return kExitOk;
}

int cmd_list_change(const Ctx& c, const Args& a, bool add) {
  if (a[1] != "allow" && a[1] != "block") return usage("the list is allow or block");
  const std::string who = c.user.empty() ? "tenant " + a[0] : "user " + c.user;
  if (add)
    return change(c, "POST", tenant_path(a[0]) + "/lists?actor=" + query_escape(actor()),
                  json_object({{"kind", a[1]}, {"entry", a[2]}, {"user", c.user}}),
                  a[2] + " added to the " + a[1] + " list of " + who);
  return change(c, "DELETE",
                tenant_path(a[0]) + "/lists?actor=" + query_escape(actor()) + "&kind=" + a[1] + "&entry=" +
                    query_escape(a[2]) + "&user=" + query_escape(c.user),
                "", a[2] + " removed from the " + a[1] + " list of " + who);
}

// Prints the changes between the current generation and the stored objects; returns how many.
int print_diff(const mx::ipc::JsonValue& v) {
  int n = 0;
  if (const auto* ch = v.get("changes"))
    for (const auto& x : ch->items) {
      ++n;
      const std::string op(x.get_str("op"));
      if (op == "change")
        std::printf("~ %s: %s: %s -> %s\n", show(x.get_str("object")).c_str(), show(x.get_str("key")).c_str(),
                    x.get_str("before").empty() ? "(unset)" : show(x.get_str("before")).c_str(),
                    x.get_str("after").empty() ? "(unset)" : show(x.get_str("after")).c_str());
      else
        std::printf("%s %s\n", op == "add" ? "+" : "-", show(x.get_str("object")).c_str());
    }
  if (const auto* lo = v.get("left_out"))
    for (const auto& x : lo->items) std::printf("  (not pushed: %s)\n", show(x.str).c_str());
  return n;
}

int cmd_diff(const Ctx& c, const Args&) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/diff", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  if (print_diff(v) == 0) std::printf("no changes since generation %lld\n", static_cast<long long>(v.get_int("generation")));
  return kExitOk;
}

int cmd_commit(const Ctx& c, const Args&) {
  mx::ipc::JsonValue d;
  if (int rc = fetch(c, "GET", "/v1/diff", "", d)) return rc;
  if (!c.json) {
    const int n = print_diff(d);
    if (n == 0) std::printf("no changes since generation %lld\n", static_cast<long long>(d.get_int("generation")));
    // The confirmation: asked only of a person at a terminal (scripts pass --yes or pipe).
    if (n > 0 && !c.yes && ::isatty(0) && ::isatty(1)) {
      std::printf("commit these %d change(s) and push them? [y/N] ", n);
      std::fflush(stdout);
      char line[16] = {};
      if (!std::fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y')) {
        std::printf("not committed\n");
        return kExitRefused;
      }
    }
  }
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "POST", "/v1/commit?actor=" + query_escape(actor()) + "&comment=" + query_escape(c.comment), "",
                     v, &raw))
    return rc;
  const int64_t gen = v.get_int("generation");
  if (print_json(c, raw)) {
  } else if (v.get_bool("unchanged")) {
    std::printf("nothing to commit: generation %lld is current\n", static_cast<long long>(gen));
  } else {
    std::printf("generation %lld committed: %lld tenant(s), %lld user(s); pushed to %lld connected node(s)\n",
                static_cast<long long>(gen), static_cast<long long>(v.get_int("tenants")),
                static_cast<long long>(v.get_int("users")), static_cast<long long>(v.get_int("nodes_connected")));
  }
  return c.wait > 0 ? wait_nodes(c, gen, c.wait) : kExitOk;
}

int cmd_export(const Ctx& c, const Args& a) {
  std::string err;
  const Reply r = call(c.sock, c.token, "GET", "/v1/export", "", err);
  if (r.status == 0 || r.status < 0) {
    std::fprintf(stderr, "mxgatectl: %s\n", err.c_str());
    return r.status == 0 ? kExitUnreachable : kExitFailed;
  }
  if (r.status >= 300) {
    auto v = mx::ipc::parse_json(r.body);
    std::fprintf(stderr, "mxgatectl: %s (HTTP %d)\n", v ? show(v->get_str("error", "error")).c_str() : "error", r.status);
    return r.status >= 500 ? kExitFailed : kExitRefused;
  }
  if (a.empty() || a[0] == "-") {
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    return kExitOk;
  }
  std::ofstream out(a[0], std::ios::binary | std::ios::trunc);
  out << r.body;
  if (!out.flush()) {
    std::fprintf(stderr, "mxgatectl: %s: cannot write\n", a[0].c_str());
    return kExitFailed;
  }
  std::printf("%zu bytes written to %s\n", r.body.size(), a[0].c_str());
  return kExitOk;
}

int cmd_token_list(const Ctx& c, const Args&) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "GET", "/v1/tokens", "", v, &raw)) return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("%-24s %-9s %-20s %s\n", "TOKEN", "SCOPE", "TENANT", "CREATED");
  for (const auto& t : v.items)
    std::printf("%-24s %-9s %-20s %s\n", show(t.get_str("name")).c_str(), show(t.get_str("scope")).c_str(),
                t.get_str("tenant").empty() ? "-" : show(t.get_str("tenant")).c_str(), show(t.get_str("created")).c_str());
  return kExitOk;
}

int cmd_token_add(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  // --tenant is also a log-search filter: here it scopes the token.
  std::string tenant;
  for (const auto& [k, x] : c.filters)
    if (k == "tenant") tenant = x;
  if (int rc = fetch(c, "POST", "/v1/tokens?actor=" + query_escape(actor()), json_object({{"name", a[0]}, {"tenant", tenant}}),
                     v, &raw))
    return rc;
  if (print_json(c, raw)) return kExitOk;
  std::printf("token %s (%s): %s\nkeep it now: it is not shown again (only its digest is stored)\n", a[0].c_str(),
              tenant.empty() ? "operator" : ("tenant " + tenant).c_str(), show(v.get_str("token")).c_str());
  return kExitOk;
}

int cmd_token_remove(const Ctx& c, const Args& a) {
  mx::ipc::JsonValue v;
  std::string raw;
  if (int rc = fetch(c, "DELETE", "/v1/tokens/" + path_escape(a[0]) + "?actor=" + query_escape(actor()), "", v, &raw))
    return rc;
  if (!print_json(c, raw)) std::printf("token %s removed\n", a[0].c_str());
  return kExitOk;
}

// A tenant's stored rules (its rules_text setting, a TOML string, decoded by the TOML reader).
std::optional<std::string> stored_rules(const Ctx& c, const std::string& tenant, int& rc) {
  mx::ipc::JsonValue v;
  rc = fetch(c, "GET", tenant_path(tenant), "", v);
  if (rc) return std::nullopt;
  const auto* st = v.get("settings");
  const auto* r = st ? st->get("rules_text") : nullptr;
  if (!r) return std::string();
  auto doc = mx::cfg::parse_toml("x = " + r->str + "\n", "rules_text", mx::ipc::kMaxSnapshotDocumentBytes);
  if (!doc || doc->tables.empty() || !doc->tables[0].find("x")) {
    rc = kExitFailed;
    std::fprintf(stderr, "mxgatectl: the stored rules_text is not a TOML string\n");
    return std::nullopt;
  }
  return doc->tables[0].find("x")->str;
}

std::optional<std::string> read_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A line diff (longest common subsequence) of two rule files, as "-"/"+" lines with their line
// numbers; files too large for the table (kMaxDiffCells) are compared by counts only.
void print_line_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  constexpr size_t kMaxDiffCells = 16u << 20;
  if ((a.size() + 1) * (b.size() + 1) > kMaxDiffCells) {
    std::printf("(too large to diff line by line: %zu lines stored, %zu in the file)\n", a.size(), b.size());
    return;
  }
  const size_t n = a.size(), m = b.size();
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;) at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ++i, ++j;
    } else if (j < m && (i == n || at(i, j + 1) >= at(i + 1, j))) {
      std::printf("+%zu: %s\n", j + 1, show(b[j]).c_str());
      ++j;
    } else {
      std::printf("-%zu: %s\n", i + 1, show(a[i]).c_str());
      ++i;
    }
  }
}

// Compiles a rule file as a node would; prints the error (file, line, reason) when it does not.
std::optional<size_t> check_rules(const std::string& file, const std::string& text) {
  auto set = mx::scan::parse_rules(text);
  auto compiled = set ? mx::scan::HsRules::compile(text) : mx::Expected<mx::scan::HsRules>(set.error());
  if (!compiled) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), compiled.error().message.c_str());
    return std::nullopt;
  }
  return set->rules.size();
}

int cmd_rules_push(const Ctx& c, const Args& a) {
  auto text = read_file(a[1]);
  if (!text) {
    std::fprintf(stderr, "mxgatectl: %s: cannot open\n", a[1].c_str());
    return kExitUsage;
  }
  auto n = check_rules(a[1], *text);
  if (!n) return kExitRefused;  // nothing is sent: the file does not compile
  return change(c, "PATCH", tenant_path(a[0]) + "?actor=" + query_escape(actor()),
                "{\"settings\":" + json_object({{"rules_text", *text}}) + "}",
                "rules of tenant " + a[0] + " set from " + a[1] + " (" + std::to_string(*n) + " rules)");
}

int cmd_rules_diff(const Ctx& c, const Args& a) {
  auto text = read_file(a[1]);
  if (!text) {
    std::fprintf(stderr, "mxgatectl: %s: cannot open\n", a[1].c_str());
    return kExitUsage;
  }
  int rc = 0;
  auto stored = stored_rules(c, a[0], rc);
  if (!stored) return rc;
  if (*stored == *text) {
    std::printf("no difference: tenant %s has these rules\n", a[0].c_str());
    return kExitOk;
  }
  print_line_diff(lines_of(*stored), lines_of(*text));
  return kExitOk;
}

int cmd_rules_show(const Ctx& c, const Args& a) {
  int rc = 0;
  auto stored = stored_rules(c, a[0], rc);
  if (!stored) return rc;
  std::fputs(show(*stored).c_str(), stdout);
  return kExitOk;
}

// Every command: its words, its arguments, what it does, and its handler. --help, the bash
// completion and the man page are all generated from this table.
struct Command {
  const char* words;  // "tenant add"
  const char* args;   // "TENANT"
  size_t min_args, max_args;
  const char* help;
  int (*run)(const Ctx&, const Args&);
};

int run_completion(const Ctx&, const Args& a);
int run_man(const Ctx&, const Args&);

constexpr size_t kMany = 1000;

const std::vector<Command>& commands() {
  static const std::vector<Command> t = {
      {"status", "", 0, 0, "the current generation, nodes connected, uncommitted changes",
       [](const Ctx& c, const Args&) { return cmd_status(c); }},
      {"node list", "", 0, 0, "every data plane: state, generation served, last refusal",
       [](const Ctx& c, const Args&) { return cmd_nodes(c); }},
      {"tenant list", "", 0, 0, "every tenant: domains, users, route, whether it is pushed", cmd_tenant_list},
      {"tenant show", "TENANT", 1, 1, "one tenant: domains, settings, lists", cmd_tenant_show},
      {"tenant add", "TENANT", 1, 1, "a new tenant (pushed once it has a domain and a route)", cmd_tenant_add},
      {"tenant remove", "TENANT", 1, 1, "a tenant with its domains, users, lists and tokens", cmd_tenant_remove},
      {"tenant set", "TENANT KEY=VALUE...", 2, kMany, "tenant settings (tenant keys lists them; KEY= unsets)",
       cmd_tenant_set},
      {"tenant suspend", "TENANT", 1, 1, "leave the tenant out of what is pushed (its mail is refused)",
       [](const Ctx& c, const Args& a) { return cmd_tenant_suspend(c, a, true); }},
      {"tenant resume", "TENANT", 1, 1, "push a suspended tenant again",
       [](const Ctx& c, const Args& a) { return cmd_tenant_suspend(c, a, false); }},
      {"tenant keys", "", 0, 0, "the settings a tenant takes", [](const Ctx& c, const Args&) { return cmd_keys(c, "tenant"); }},
      {"domain list", "TENANT", 1, 1, "the tenant's domains", cmd_domain_list},
      {"domain add", "TENANT DOMAIN", 2, 2, "a domain the tenant receives mail for", cmd_domain_add},
      {"domain remove", "TENANT DOMAIN", 2, 2, "a domain (refused while users are at it)", cmd_domain_remove},
      {"route set", "TENANT IPV4[:PORT] [--tls MODE] [--tls-name NAME]", 2, 2,
       "the tenant's mail server; MODE none, opportunistic, required or required-verify", cmd_route_set},
      {"route show", "TENANT", 1, 1, "the tenant's route and its TLS policy", cmd_route_show},
      {"user list", "TENANT [--limit N] [--offset N]", 1, 1, "the tenant's users with preferences of their own",
       cmd_user_list},
      {"user show", "TENANT ADDRESS", 2, 2, "one user's preferences and lists", cmd_user_show},
      {"user add", "TENANT ADDRESS [KEY=VALUE...]", 2, kMany, "a user at one of the tenant's domains", cmd_user_add},
      {"user set", "TENANT ADDRESS KEY=VALUE...", 3, kMany, "user preferences (user keys lists them; KEY= unsets)",
       cmd_user_set},
      {"user remove", "TENANT ADDRESS", 2, 2, "a user and its lists", cmd_user_remove},
      {"user keys", "", 0, 0, "the preferences a user takes", [](const Ctx& c, const Args&) { return cmd_keys(c, "user"); }},
      {"list show", "TENANT", 1, 1, "the allow and block lists of the tenant and its users", cmd_list_show},
      {"list add", "TENANT allow|block ENTRY [--user ADDRESS]", 3, 3,
       "a sender address, domain or IPv4 network on a tenant's (or --user's) list",
       [](const Ctx& c, const Args& a) { return cmd_list_change(c, a, true); }},
      {"list remove", "TENANT allow|block ENTRY [--user ADDRESS]", 3, 3, "an entry off a list",
       [](const Ctx& c, const Args& a) { return cmd_list_change(c, a, false); }},
      {"diff", "", 0, 0, "what a commit would change, object by object", cmd_diff},
      {"commit", "[--comment TEXT] [--yes] [--wait SECONDS]", 0, 0,
       "compile the stored objects into a new generation and push it (shows the diff and asks first at a terminal)",
       cmd_commit},
      {"export", "[FILE]", 0, 1, "the snapshot document the stored objects compile to (docs/tenants.md)", cmd_export},
      {"import", "FILE [--comment TEXT] [--wait SECONDS]", 1, 1,
       "replace every tenant with a snapshot document's (rule files are sent inline) and commit it",
       [](const Ctx& c, const Args& a) { return cmd_import(c, a[0], c.comment, c.wait); }},
      {"generation list", "[--limit N]", 0, 0, "the policy generations, newest first",
       [](const Ctx& c, const Args&) { return cmd_generations(c, c.limit); }},
      {"generation show", "N", 1, 1, "one generation's snapshot document",
       [](const Ctx& c, const Args& a) {
         long n = 0;
         return number(a[0], n) ? cmd_generation_show(c, a[0]) : usage("a generation is a number");
       }},
      {"rollback", "N [--wait SECONDS]", 1, 1, "generation N's document committed again (and restored as the objects)",
       [](const Ctx& c, const Args& a) {
         long n = 0;
         return number(a[0], n) ? cmd_rollback(c, a[0], c.wait) : usage("a generation is a number");
       }},
      {"audit", "[--limit N]", 0, 0, "who changed what, newest first",
       [](const Ctx& c, const Args&) { return cmd_audit(c, c.limit); }},
      {"rules check", "FILE", 1, 1, "compile a rule file (docs/rules.md) as a node would; errors name the line",
       [](const Ctx& c, const Args& a) { return cmd_rules_check(c, a[0]); }},
      {"rules push", "TENANT FILE", 2, 2,
       "check a rule file, then store it as the tenant's rules (pushed at the next commit)", cmd_rules_push},
      {"rules diff", "TENANT FILE", 2, 2, "the lines a rule file changes against the tenant's stored rules",
       cmd_rules_diff},
      {"rules show", "TENANT", 1, 1, "the tenant's stored rules", cmd_rules_show},
      {"log search",
       "[--sender A] [--rcpt A] [--tenant T] [--message-id ID] [--ip IP] [--action A] [--class C] [--since TIME] "
       "[--until TIME] [--limit N]",
       0, 0, "transaction records collected from the nodes, newest first (TIME like 2026-12-03T10:00:00Z)",
       [](const Ctx& c, const Args&) { return cmd_log_search(c, c.filters, c.limit); }},
      {"log follow", "[filters as for log search] [--duration SECONDS]", 0, 0,
       "records as they arrive, oldest first, until Ctrl-C or --duration (--json: one record per line)",
       [](const Ctx& c, const Args&) { return cmd_log_follow(c); }},
      {"token list", "", 0, 0, "the API tokens (names and scopes; secrets are never shown again)", cmd_token_list},
      {"token add", "NAME [--tenant TENANT]", 1, 1, "an API token for the operator or, with --tenant, one tenant",
       cmd_token_add},
      {"token remove", "NAME", 1, 1, "revoke an API token", cmd_token_remove},
      {"completion", "bash", 1, 1, "the bash completion script (source <(mxgatectl completion bash))", run_completion},
      {"man", "", 0, 0, "this manual as a man page (troff): mxgatectl man | man -l -", run_man},
  };
  return t;
}

constexpr const char* kOptions =
    "  --socket PATH   mxgate-control's API socket [$MXGATECTL_SOCKET or /run/mxgate/api.sock]\n"
    "  --token TOKEN   an API token [$MXGATECTL_TOKEN]; without one, the local socket is the operator\n"
    "  --json          print the API's JSON instead of a table\n"
    "  --help          this text; after a command, that command's\n";

constexpr const char* kExitCodes =
    "Exit codes: 0 done; 1 refused (by control, or by a node for --wait); 2 usage; 3 control\n"
    "unreachable; 4 control failed; 5 --wait timed out.\n";

void print_usage(FILE* f) {
  std::fputs("usage: mxgatectl [--socket PATH] [--token TOKEN] [--json] COMMAND [ARGS]\n\nCommands:\n", f);
  for (const Command& c : commands()) {
    const std::string head = std::string(c.words) + (*c.args ? " " : "") + c.args;
    if (head.size() <= 34) std::fprintf(f, "  %-34s %s\n", head.c_str(), c.help);
    else std::fprintf(f, "  %s\n  %-34s %s\n", head.c_str(), "", c.help);
  }
  std::fprintf(f, "\nChanges to tenants, domains, routes, users and lists are stored at once and reach the\n"
                  "nodes at the next `mxgatectl commit`.\n\nOptions:\n%s\n%s", kOptions, kExitCodes);
}

int usage(const char* why) {
  std::fprintf(stderr, "mxgatectl: %s\n", why);
  print_usage(stderr);
  return kExitUsage;
}

int run_completion(const Ctx&, const Args& a) {
  if (a[0] != "bash") return usage("completion: only bash");
  // The first words, and the second words of each, from the command table.
  std::vector<std::string> firsts;
  std::vector<std::pair<std::string, std::string>> seconds;
  for (const Command& c : commands()) {
    const std::string w = c.words;
    const size_t sp = w.find(' ');
    const std::string first = w.substr(0, sp);
    if (std::find(firsts.begin(), firsts.end(), first) == firsts.end()) firsts.push_back(first);
    if (sp != std::string::npos) seconds.emplace_back(first, w.substr(sp + 1));
  }
  std::printf("# bash completion for mxgatectl (generated by: mxgatectl completion bash)\n_mxgatectl() {\n"
              "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" words=()\n  local i\n"
              "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
              "    case \"${COMP_WORDS[i]}\" in\n"
              "      --socket|--token|--comment|--limit|--offset|--wait|--duration|--tls|--tls-name|--user|--sender|--rcpt|"
              "--tenant|--message-id|--ip|--action|--class|--since|--until) ((i++)) ;;\n"
              "      -*) ;;\n      *) words+=(\"${COMP_WORDS[i]}\") ;;\n    esac\n  done\n"
              "  if [[ \"$cur\" == -* ]]; then\n"
              "    COMPREPLY=($(compgen -W \"--socket --token --json --help --comment --limit --offset --wait --yes "
              "--duration --tls --tls-name --user --sender --rcpt --tenant --message-id --ip --action --class --since --until\" "
              "-- \"$cur\"))\n    return\n  fi\n"
              "  case \"${#words[@]}\" in\n    0) COMPREPLY=($(compgen -W \"");
  for (size_t i = 0; i < firsts.size(); ++i) std::printf("%s%s", i ? " " : "", firsts[i].c_str());
  std::printf("\" -- \"$cur\")) ;;\n    1)\n      case \"${words[0]}\" in\n");
  for (const std::string& f : firsts) {
    std::string subs;
    for (const auto& [a1, b1] : seconds)
      if (a1 == f) subs += (subs.empty() ? "" : " ") + b1;
    if (!subs.empty()) std::printf("        %s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")) ;;\n", f.c_str(), subs.c_str());
  }
  std::printf("        import|export|rules) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n      esac ;;\n"
              "    *) [[ \"${words[0]}\" == rules || \"${words[0]}\" == import ]] && "
              "COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n  esac\n}\ncomplete -F _mxgatectl mxgatectl\n");
  return kExitOk;
}

// troff needs backslashes doubled and a leading dot or quote escaped.
std::string roff(std::string_view s) {
  std::string o;
  for (char ch : s) {
    if (ch == '\\') o += "\\e";
    else if (ch == '-') o += "\\-";
    else o += ch;
  }
  if (!o.empty() && (o[0] == '.' || o[0] == '\'')) o.insert(0, "\\&");
  return o;
}

int run_man(const Ctx&, const Args&) {
  std::printf(".TH MXGATECTL 8 \"\" \"mxgate\" \"mxgate manual\"\n.SH NAME\nmxgatectl \\- the operators' CLI of "
              "mxgate\\-control\n.SH SYNOPSIS\n.B mxgatectl\n[\\-\\-socket PATH] [\\-\\-token TOKEN] [\\-\\-json] COMMAND "
              "[ARGS]\n.SH DESCRIPTION\nA client of mxgate\\-control's JSON API. Changes to tenants, domains, routes, users "
              "and lists are stored at once and reach the nodes at the next\n.BR \"mxgatectl commit\" .\n"
              ".SH COMMANDS\n");
  for (const Command& c : commands()) {
    std::printf(".TP\n.B %s\n", roff(c.words).c_str());
    if (*c.args) std::printf(".I %s\n.br\n", roff(c.args).c_str());
    std::printf("%s\n", roff(c.help).c_str());
  }
  std::printf(".SH OPTIONS\n");
  std::istringstream opts(kOptions);
  for (std::string line; std::getline(opts, line);) {
    const size_t start = line.find_first_not_of(' ');
    const size_t gap = line.find("  ", start);
    if (start == std::string::npos || gap == std::string::npos) continue;
    std::printf(".TP\n.B %s\n%s\n", roff(line.substr(start, gap - start)).c_str(),
                roff(line.substr(line.find_first_not_of(' ', gap))).c_str());
  }
  std::printf(".SH EXIT STATUS\n%s.SH ENVIRONMENT\n.TP\n.B MXGATECTL_SOCKET\nthe API socket\n.TP\n.B MXGATECTL_TOKEN\n"
              "an API token\n.SH SEE ALSO\ndocs/control.md, docs/tenants.md\n",
              roff(kExitCodes).c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error to report, not a silent death
  Ctx c;
  const char* env = std::getenv("MXGATECTL_SOCKET");
  c.sock = env && *env ? env : "/run/mxgate/api.sock";
  const char* tok = std::getenv("MXGATECTL_TOKEN");
  if (tok) c.token = tok;
  std::vector<std::string> args;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      help = true;
    } else if (a == "--json") {
      c.json = true;
    } else if (a == "--yes" || a == "-y") {
      c.yes = true;
    } else if (a == "--sender" || a == "--rcpt" || a == "--tenant" || a == "--message-id" || a == "--ip" ||
               a == "--action" || a == "--class" || a == "--since" || a == "--until") {
      auto v = value();
      if (!v) return usage((a + " needs a value").c_str());
      static const std::pair<const char*, const char*> kParam[] = {
          {"--sender", "sender"}, {"--rcpt", "rcpt"}, {"--tenant", "tenant"}, {"--message-id", "message_id"},
          {"--ip", "client_ip"}, {"--action", "action"}, {"--class", "class"}, {"--since", "since"}, {"--until", "until"}};
      for (const auto& [opt, param] : kParam)
        if (a == opt) c.filters.emplace_back(param, *v);
    } else if (a == "--socket" || a == "--token" || a == "--comment" || a == "--limit" || a == "--offset" ||
               a == "--wait" || a == "--tls" || a == "--tls-name" || a == "--user" || a == "--duration") {
      auto v = value();
      if (!v) return usage((a + " needs a value").c_str());
      if (a == "--socket") c.sock = *v;
      else if (a == "--token") c.token = *v;
      else if (a == "--comment") c.comment = *v;
      else if (a == "--tls") c.tls = *v;
      else if (a == "--tls-name") c.tls_name = *v;
      else if (a == "--user") c.user = *v;
      else if (a == "--limit" && !number(*v, c.limit)) return usage("--limit takes a number");
      else if (a == "--offset" && !number(*v, c.offset)) return usage("--offset takes a number");
      else if (a == "--duration") {
        char* end = nullptr;
        c.duration = std::strtod(v->c_str(), &end);
        if (!end || *end || c.duration <= 0 || c.duration > 86400) return usage("--duration takes seconds (0 < s <= 86400)");
      } else if (a == "--wait") {
        char* end = nullptr;
        c.wait = std::strtod(v->c_str(), &end);
        if (!end || *end || c.wait <= 0 || c.wait > 3600) return usage("--wait takes seconds (0 < s <= 3600)");
      }
    } else if (a.starts_with("--")) {
      return usage(("unknown option " + a).c_str());
    } else {
      args.push_back(a);
    }
  }
  if (args.size() == 1 && args[0] == "help") help = true, args.clear();
  if (args.empty()) {
    if (help) {
      print_usage(stdout);
      return kExitOk;
    }
    return usage("a command is needed");
  }
  // The command whose words the arguments start with (two words before one).
  const Command* found = nullptr;
  size_t used = 0;
  for (const Command& cmd : commands()) {
    std::istringstream ws(cmd.words);
    std::vector<std::string> words;
    for (std::string w; ws >> w;) words.push_back(w);
    if (words.size() > args.size() || words.size() <= used) continue;
    if (std::equal(words.begin(), words.end(), args.begin())) {
      found = &cmd;
      used = words.size();
    }
  }
  if (!found) return usage(("unknown command: " + args[0]).c_str());
  if (help) {
    std::printf("usage: mxgatectl %s %s\n\n%s\n\nOptions:\n%s\n%s", found->words, found->args, found->help, kOptions,
                kExitCodes);
    return kExitOk;
  }
  const Args rest(args.begin() + static_cast<std::ptrdiff_t>(used), args.end());
  if (rest.size() < found->min_args || rest.size() > found->max_args)
    return usage((std::string("usage: mxgatectl ") + found->words + " " + found->args).c_str());
  return found->run(c, rest);
}
