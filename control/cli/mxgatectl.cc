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

constexpr const char* kUsage =
    "usage: mxgatectl [--socket PATH] [--json] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  status                          the current generation and the nodes connected\n"
    "  node list                       every data plane: state, generation served, last refusal\n"
    "  generation list [--limit N]     the policy generations, newest first\n"
    "  generation show N               one generation's snapshot document\n"
    "  import FILE [--comment TEXT] [--wait SECONDS]\n"
    "                                  validate a tenant snapshot (docs/tenants.md; rule files are\n"
    "                                  read and sent inline), commit it as a new generation and push\n"
    "                                  it; --wait: until every connected node acknowledged or refused\n"
    "  rollback N [--wait SECONDS]     commit generation N's document again, as a new generation\n"
    "  audit [--limit N]               who changed what, newest first\n"
    "  rules check FILE                compile a rule file (docs/rules.md) as a node would; errors\n"
    "                                  name the line (needs no mxgate-control)\n"
    "  log search [--sender A] [--rcpt A] [--tenant T] [--message-id ID] [--ip IP] [--action A]\n"
    "             [--class C] [--since TIME] [--until TIME] [--limit N]\n"
    "                                  transaction records collected from the nodes, newest first\n"
    "                                  (TIME as in the records, e.g. 2026-12-03T10:00:00Z)\n"
    "\n"
    "Options:\n"
    "  --socket PATH   mxgate-control's API socket [$MXGATECTL_SOCKET or /run/mxgate/api.sock]\n"
    "  --json          print the API's JSON instead of a table\n"
    "  --help\n"
    "\n"
    "Exit codes: 0 done; 1 refused (by control, or by a node for --wait); 2 usage; 3 control\n"
    "unreachable; 4 control failed; 5 --wait timed out.\n";

struct Reply {
  int status = 0;
  std::string body;
};

int usage(const char* why) {
  std::fprintf(stderr, "mxgatectl: %s\n%s", why, kUsage);
  return kExitUsage;
}

// One request over a fresh connection (Connection: close); status 0 when unreachable.
Reply call(const std::string& sock, const std::string& method, const std::string& target, const std::string& body,
           std::string& err) {
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
  if (method == "POST") req += "Content-Type: application/toml\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
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
  bool json = false;
};

// Calls and parses; prints the error and returns the exit code when it is not 2xx.
int fetch(const Ctx& c, const std::string& method, const std::string& target, const std::string& body,
          mx::ipc::JsonValue& out, std::string* raw = nullptr) {
  std::string err;
  const Reply r = call(c.sock, method, target, body, err);
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
  std::printf("generation       %lld\nnodes connected  %lld\nschema version   %lld\nlog records      %lld\n",
              static_cast<long long>(v.get_int("generation")), static_cast<long long>(v.get_int("nodes_connected")),
              static_cast<long long>(v.get_int("schema_version")), static_cast<long long>(v.get_int("log_records")));
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
  for (const auto& item : v.items) {
    auto r = mx::ipc::parse_json(item.get_str("record"));
    if (!r) {
      std::printf("(unparsed record) %s\n", show(item.get_str("record")).c_str());
      continue;
    }
    std::string to;
    if (const auto* rc = r->get("rcpts"))
      for (const auto& x : rc->items) to += (to.empty() ? "" : ",") + x.str;
    std::printf("%-24s %-10s %-26s %-26s %-8s %-10s %s\n", show(r->get_str("time")).c_str(),
                show(r->get_str("tenant")).c_str(), show(r->get_str("mail_from", "<>")).c_str(), show(to).c_str(),
                show(r->get_str("class", "-")).c_str(), show(r->get_str("action", r->get_str("event"))).c_str(),
                show(r->get_str("subject")).c_str());
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

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error to report, not a silent death
  Ctx c;
  const char* env = std::getenv("MXGATECTL_SOCKET");
  c.sock = env && *env ? env : "/run/mxgate/api.sock";
  std::vector<std::string> args;
  std::string comment;
  std::vector<std::pair<std::string, std::string>> filters;  // log search
  long limit = 20;
  double wait = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      (void)what;
      return std::string(argv[++i]);
    };
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (a == "--json") {
      c.json = true;
    } else if (a == "--sender" || a == "--rcpt" || a == "--tenant" || a == "--message-id" || a == "--ip" ||
               a == "--action" || a == "--class" || a == "--since" || a == "--until") {
      auto v = value(a.c_str());
      if (!v) return usage((a + " needs a value").c_str());
      static const std::pair<const char*, const char*> kParam[] = {
          {"--sender", "sender"}, {"--rcpt", "rcpt"}, {"--tenant", "tenant"}, {"--message-id", "message_id"},
          {"--ip", "client_ip"}, {"--action", "action"}, {"--class", "class"}, {"--since", "since"}, {"--until", "until"}};
      for (const auto& [opt, param] : kParam)
        if (a == opt) filters.emplace_back(param, *v);
    } else if (a == "--socket" || a == "--comment" || a == "--limit" || a == "--wait") {
      auto v = value(a.c_str());
      if (!v) return usage((a + " needs a value").c_str());
      if (a == "--socket") c.sock = *v;
      else if (a == "--comment") comment = *v;
      else if (a == "--limit" && !number(*v, limit)) return usage("--limit takes a number");
      else if (a == "--wait") {
        char* end = nullptr;
        wait = std::strtod(v->c_str(), &end);
        if (!end || *end || wait <= 0 || wait > 3600) return usage("--wait takes seconds (0 < s <= 3600)");
      }
    } else if (a.starts_with("--")) {
      return usage(("unknown option " + a).c_str());
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) return usage("a command is needed");
  const std::string& cmd = args[0];
  long n = 0;
  if (cmd == "status" && args.size() == 1) return cmd_status(c);
  if (cmd == "node" && args.size() == 2 && args[1] == "list") return cmd_nodes(c);
  if (cmd == "generation" && args.size() == 2 && args[1] == "list") return cmd_generations(c, limit);
  if (cmd == "generation" && args.size() == 3 && args[1] == "show" && number(args[2], n)) return cmd_generation_show(c, args[2]);
  if (cmd == "import" && args.size() == 2) return cmd_import(c, args[1], comment, wait);
  if (cmd == "rollback" && args.size() == 2 && number(args[1], n)) return cmd_rollback(c, args[1], wait);
  if (cmd == "audit" && args.size() == 1) return cmd_audit(c, limit);
  if (cmd == "rules" && args.size() == 3 && args[1] == "check") return cmd_rules_check(c, args[2]);
  if (cmd == "log" && args.size() == 2 && args[1] == "search") return cmd_log_search(c, filters, limit);
  return usage(("unknown command or arguments: " + cmd).c_str());
}
