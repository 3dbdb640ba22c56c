// control/api/api_server.cc — the JSON API (control/api/api_server.h).
#include "control/api/api_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "common/ascii.h"
#include "ipc/json.h"
#include "ipc/node_stats.h"
#include "ipc/snapshot.h"
#include "ipc/toml.h"
#include "ipc/txlog.h"

namespace mx::control {
namespace {

void kv(std::string& o, const char* k, std::string_view v) {
  if (o.back() != '{') o += ',';
  ipc::json_string(o, k);
  o += ':';
  ipc::json_string(o, v);
}

void kb(std::string& o, const char* k, bool v) {
  if (o.back() != '{') o += ',';
  ipc::json_string(o, k);
  o += v ? ":true" : ":false";
}

void kn(std::string& o, const char* k, uint64_t v) {
  if (o.back() != '{') o += ',';
  ipc::json_string(o, k);
  o += ':';
  o += std::to_string(v);
}

HttpResponse json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

HttpResponse error(int status, std::string_view why) {
  std::string o = "{";
  kv(o, "error", why);
  o += '}';
  return json(status, std::move(o));
}

std::string generation_json(const Generation& g, bool with_document) {
  std::string o = "{";
  kn(o, "generation", g.gen);
  kv(o, "created", g.created);
  kv(o, "actor", g.actor);
  kv(o, "comment", g.comment);
  kn(o, "tenants", g.tenants);
  kn(o, "users", g.users);
  kn(o, "rollback_of", g.rollback_of);
  if (with_document) kv(o, "document", g.document);
  o += '}';
  return o;
}

std::string node_json(const NodeState& n) {
  std::string o = "{";
  kv(o, "name", n.name);
  kv(o, "state", n.state);
  kn(o, "generation", n.generation);
  kn(o, "nacked", n.nacked);
  kv(o, "reason", n.reason);
  kv(o, "last_seen", n.last_seen);
  o += '}';
  return o;
}

uint64_t mono_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

size_t limit_of(const HttpRequest& req) {
  uint64_t v = 100;
  if (!req.param("limit").empty() && !parse_u64(req.param("limit"), v)) v = 100;
  return static_cast<size_t>(std::clamp<uint64_t>(v, 1, kMaxListLimit));
}

std::string actor_of(const HttpRequest& req) {
  const std::string_view a = req.param("actor");
  return a.empty() ? std::string("api") : std::string(a.substr(0, kMaxActor));
}

}  // namespace

Expected<std::unique_ptr<ApiServer>> ApiServer::listen(const std::string& socket_path, Store& store, PushServer& push,
                                                       ApiLimits limits) {
  auto fd = listen_unix(socket_path);
  if (!fd) return fd.error();
  return std::unique_ptr<ApiServer>(new ApiServer(*fd, socket_path, store, push, limits));
}

Expected<uint16_t> ApiServer::listen_tls(const std::string& address, std::shared_ptr<const tls::Context> ctx) {
  if (tls_lfd_ >= 0) return Error{address + ": an HTTPS listener exists already"};
  auto l = listen_tcp(address);
  if (!l) return l.error();
  tls_lfd_ = l->first;
  tls_ctx_ = std::move(ctx);
  return l->second;
}

ApiServer::~ApiServer() {
  for (auto& c : clients_) close_client(*c);
  if (tls_lfd_ >= 0) ::close(tls_lfd_);
  ::close(lfd_);
  ::unlink(path_.c_str());
}

void ApiServer::close_client(Client& c) {
  if (c.fd < 0) return;
  if (c.tls) {
    c.tls->close_notify();
    c.tls.reset();
  }
  ::close(c.fd);
  c.fd = -1;
}

void ApiServer::fill(std::vector<pollfd>& fds) const {
  fds.push_back(pollfd{lfd_, POLLIN, 0});
  if (tls_lfd_ >= 0) fds.push_back(pollfd{tls_lfd_, POLLIN, 0});
  for (const auto& c : clients_) {
    if (c->fd < 0) continue;
    const short want = c->out_off < c->out.size() ? POLLOUT : POLLIN;
    fds.push_back(pollfd{c->fd, c->tls ? c->tls->events(want) : want, 0});
  }
}

void ApiServer::accept_all(int lfd) {
  while (true) {
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= kMaxApiClients) {  // both listeners together
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    c->since_ms = c->last_ms = mono_ms();
    if (lfd == tls_lfd_ && !(c->tls = tls::Stream::accept(tls_ctx_, fd))) {
      ::close(fd);
      continue;
    }
    clients_.push_back(std::move(c));
  }
}

void ApiServer::handle(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (!p.revents) continue;
    if (p.fd == lfd_ || p.fd == tls_lfd_) {
      accept_all(p.fd);
      continue;
    }
    auto it = std::find_if(clients_.begin(), clients_.end(), [&](const auto& c) { return c->fd == p.fd; });
    if (it == clients_.end()) continue;
    Client& c = **it;
    if (c.tls && !c.tls->established()) {
      // The handshake is stepped here, never waited for; a client that stalls it is cut by
      // sweep(). A failure (plain HTTP on this port, no common version or suite) just closes.
      const tls::Io io = c.tls->handshake();
      if (io == tls::Io::kOk) c.last_ms = mono_ms();
      else if (io != tls::Io::kAgain) close_client(c);
      continue;
    }
    const bool pending = c.out_off < c.out.size();
    // A TLS write that waits for the client's bytes is retried on POLLIN; a TLS read that waits
    // to write, on POLLOUT.
    const bool write_retry = c.tls && c.tls->write_wants_read() && pending;
    const bool read_retry = c.tls && c.tls->read_wants_write() && !pending && (p.revents & POLLOUT);
    if (((p.revents & POLLOUT) && !read_retry) || write_retry) {
      if (flush(c)) process(c);  // the answer is out: the next pipelined request, if any
    } else if (p.revents & (POLLIN | POLLHUP | POLLERR) || read_retry) {
      on_readable(c);
    }
  }
  clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                [](const auto& c) {
                                  if (c->fd >= 0) return false;
                                  return true;
                                }),
                 clients_.end());
}

void ApiServer::sweep() {
  const uint64_t now = mono_ms();
  for (auto& c : clients_)
    if (c->fd >= 0 && ((c->tls && !c->tls->established() && now - c->since_ms > limits_.handshake_ms) ||
                       now - c->last_ms > limits_.idle_ms))
      close_client(*c);
  clients_.erase(std::remove_if(clients_.begin(), clients_.end(), [](const auto& c) { return c->fd < 0; }),
                 clients_.end());
}

void ApiServer::on_readable(Client& c) {
  char buf[kApiReadChunk];
  size_t n = 0;
  std::string err;
  const tls::Io io = tls::read_some(c.fd, c.tls.get(), buf, sizeof buf, n, err);
  if (io == tls::Io::kClosed || io == tls::Io::kError) return close_client(c);
  if (io == tls::Io::kAgain) return;
  c.last_ms = mono_ms();
  c.in.append(buf, n);
  process(c);
}

void ApiServer::process(Client& c) {
  while (c.fd >= 0 && c.out.empty() && !c.close_after) {
    if (c.parser.state() == HttpParser::State::kNeedMore) {
      const size_t used = c.parser.feed(c.in);
      c.in.erase(0, used);
      if (c.parser.state() == HttpParser::State::kNeedMore) return;  // wait for more bytes
    }
    if (c.parser.state() == HttpParser::State::kBad) {
      c.out = format_response(error(c.parser.status(), c.parser.error()), false);
      c.close_after = true;
    } else {
      const HttpRequest req = c.parser.take();
      // Over HTTPS "no credentials" is nobody: the operator-by-default rule is the Unix
      // socket's (its mode admits root alone). A token that is there is route()'s to check.
      if (c.tls && req.header("authorization").empty()) {
        HttpResponse r = error(401, "an API token is required over HTTPS (Authorization: Bearer mxg_...)");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"mxgate-control\"");
        c.out = format_response(r, req.keep_alive);
      } else {
        c.out = format_response(route(req), req.keep_alive);
      }
      c.close_after = !req.keep_alive;
    }
    if (!flush(c)) return;  // POLLOUT brings us back
  }
}

bool ApiServer::flush(Client& c) {
  while (c.out_off < c.out.size()) {
    size_t n = 0;
    std::string err;
    const tls::Io io = tls::write_some(c.fd, c.tls.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, n, err);
    if (io == tls::Io::kAgain) return false;
    if (io != tls::Io::kOk) {
      close_client(c);
      return false;
    }
    c.out_off += n;
    c.last_ms = mono_ms();
  }
  c.out.clear();
  c.out_off = 0;
  if (c.close_after) {
    close_client(c);
    return false;
  }
  return true;
}

std::string_view ApiServer::Call::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

const std::vector<ApiServer::Route>& ApiServer::table() {
  using A = Access;
  static const std::vector<Route> t = {
      {{"GET", "/v1/status", A::kOperator}, &ApiServer::status},
      {{"GET", "/metrics", A::kOperator}, &ApiServer::metrics},
      {{"GET", "/v1/nodes", A::kOperator}, &ApiServer::nodes},
      {{"GET", "/v1/generations", A::kOperator}, &ApiServer::generations},
      {{"GET", "/v1/generations/{gen}", A::kOperator}, &ApiServer::generation},
      {{"POST", "/v1/snapshot", A::kOperator}, &ApiServer::post_snapshot},
      {{"POST", "/v1/commit", A::kOperator}, &ApiServer::post_commit},
      {{"POST", "/v1/rollback/{gen}", A::kOperator}, &ApiServer::post_rollback},
      {{"GET", "/v1/export", A::kOperator}, &ApiServer::get_export},
      {{"GET", "/v1/diff", A::kOperator}, &ApiServer::get_diff},
      {{"GET", "/v1/audit", A::kOperator}, &ApiServer::audit},
      {{"GET", "/v1/log", A::kTenant}, &ApiServer::log},
      {{"GET", "/v1/keys", A::kTenant}, &ApiServer::keys},
      {{"GET", "/v1/tenants", A::kTenant}, &ApiServer::tenants},
      {{"POST", "/v1/tenants", A::kOperator}, &ApiServer::tenant_add},
      {{"GET", "/v1/tenants/{tenant}", A::kTenant}, &ApiServer::tenant_get},
      {{"PATCH", "/v1/tenants/{tenant}", A::kTenant}, &ApiServer::tenant_patch},
      {{"DELETE", "/v1/tenants/{tenant}", A::kOperator}, &ApiServer::tenant_remove},
      {{"GET", "/v1/tenants/{tenant}/domains", A::kTenant}, &ApiServer::domains},
      {{"POST", "/v1/tenants/{tenant}/domains", A::kTenant}, &ApiServer::domain_add},
      {{"DELETE", "/v1/tenants/{tenant}/domains/{domain}", A::kTenant}, &ApiServer::domain_remove},
      {{"GET", "/v1/tenants/{tenant}/users", A::kTenant}, &ApiServer::users},
      {{"POST", "/v1/tenants/{tenant}/users", A::kTenant}, &ApiServer::user_add},
      {{"GET", "/v1/tenants/{tenant}/users/{user}", A::kTenant}, &ApiServer::user_get},
      {{"PATCH", "/v1/tenants/{tenant}/users/{user}", A::kTenant}, &ApiServer::user_patch},
      {{"DELETE", "/v1/tenants/{tenant}/users/{user}", A::kTenant}, &ApiServer::user_remove},
      {{"GET", "/v1/tenants/{tenant}/lists", A::kTenant}, &ApiServer::lists},
      {{"POST", "/v1/tenants/{tenant}/lists", A::kTenant}, &ApiServer::list_add},
      {{"DELETE", "/v1/tenants/{tenant}/lists", A::kTenant}, &ApiServer::list_remove},
      {{"GET", "/v1/tokens", A::kOperator}, &ApiServer::tokens},
      {{"POST", "/v1/tokens", A::kOperator}, &ApiServer::token_add},
      {{"DELETE", "/v1/tokens/{token}", A::kOperator}, &ApiServer::token_remove},
  };
  return t;
}

std::vector<ApiRouteInfo> ApiServer::routes() {
  std::vector<ApiRouteInfo> out;
  for (const Route& r : table()) out.push_back(r.info);
  return out;
}

namespace {

// `path` against `pattern`: literal segments equal, {name} any non-empty segment.
bool match(std::string_view pattern, std::string_view path, PathParams& params) {
  params.clear();
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const size_t pe = std::min(pattern.find('/'), pattern.size());
    const size_t se = std::min(path.find('/'), path.size());
    const std::string_view ps = pattern.substr(0, pe), ss = path.substr(0, se);
    if (ps.size() > 2 && ps.front() == '{' && ps.back() == '}') {
      if (ss.empty()) return false;
      params.emplace_back(std::string(ps.substr(1, ps.size() - 2)), std::string(ss));
    } else if (ps != ss) {
      return false;
    }
    pattern.remove_prefix(pe);
    path.remove_prefix(se);
  }
  return true;
}

}  // namespace

HttpResponse ApiServer::route(const HttpRequest& req) {
  PathParams params;
  std::string allow;
  const Route* found = nullptr;
  PathParams found_params;
  for (const Route& r : table()) {
    if (!match(r.info.pattern, req.path, params)) continue;
    if (req.method == r.info.method) {
      found = &r;
      found_params = params;
      break;
    }
    if (allow.find(r.info.method) == std::string::npos) allow += allow.empty() ? r.info.method : std::string(", ") + r.info.method;
  }
  if (!found) {
    if (allow.empty()) return error(404, "no such endpoint");
    HttpResponse r = error(405, "method not allowed; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  // Who is asking (RFC 6750 2.1): no credentials on the local socket is the operator.
  Scope scope;
  const std::string_view auth = req.header("authorization");
  if (auth.empty()) {
    scope.operator_ = true;
  } else {
    constexpr std::string_view kBearer = "Bearer ";
    auto s = auth.size() > kBearer.size() && iequals(auth.substr(0, kBearer.size()), kBearer)
                 ? policy_.check_token(auth.substr(kBearer.size()))
                 : std::nullopt;
    if (!s) {
      HttpResponse r = error(401, "unknown or malformed API token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"mxgate-control\"");
      return r;
    }
    scope = *s;
  }
  if (!scope.operator_) {
    if (found->info.access == Access::kOperator) return error(403, "this endpoint needs an operator token");
    for (const auto& [k, v] : found_params)
      if (k == "tenant" && v != scope.tenant) return error(404, "no tenant " + v.substr(0, kMaxTenantName));
  }
  std::string actor = scope.operator_ && scope.token.empty() ? actor_of(req) : "token " + scope.token;
  const Call call{req, found_params, scope, std::move(actor)};
  return (this->*(found->fn))(call);
}

HttpResponse ApiServer::status(const Call&) {
  const auto cur = store_.list(1);
  std::string o = "{";
  kn(o, "generation", cur.empty() ? 0 : cur[0].gen);
  kn(o, "nodes_connected", push_.connected());
  kn(o, "schema_version", static_cast<uint64_t>(store_.schema_version()));
  kn(o, "log_records", store_.log_count());
  kb(o, "uncommitted_changes", policy_.changed());
  o += '}';
  return json(200, std::move(o));
}

HttpResponse ApiServer::nodes(const Call&) {
  std::string o = "[";
  for (const NodeState& n : store_.nodes()) {
    if (o.size() > 1) o += ',';
    o += node_json(n);
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::generations(const Call& c) {
  std::string o = "[";
  for (const Generation& g : store_.list(limit_of(c.req))) {
    if (o.size() > 1) o += ',';
    o += generation_json(g, false);
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::generation(const Call& c) {
  uint64_t g = 0;
  if (!parse_u64(c.param("gen"), g)) return error(404, "no such generation");
  auto gen = store_.get(g);
  if (!gen) return error(404, "no such generation");
  return json(200, generation_json(*gen, true));
}

HttpResponse ApiServer::log(const Call& c) {
  const HttpRequest& req = c.req;
  LogQuery q;
  q.tenant = req.param("tenant");
  if (!c.scope.operator_) {
    // A tenant's token sees its own records only, whatever it asks for.
    if (!q.tenant.empty() && q.tenant != c.scope.tenant) return json(200, "[]");
    q.tenant = c.scope.tenant;
  }
  q.sender = req.param("sender");
  q.rcpt = req.param("rcpt");
  q.message_id = req.param("message_id");
  q.client_ip = req.param("client_ip");
  q.action = req.param("action");
  q.cls = req.param("class");
  q.since = req.param("since");
  q.until = req.param("until");
  q.limit = limit_of(req);
  std::string o = "[";
  for (const LogRecord& r : store_.search_log(q)) {
    if (o.size() > 1) o += ',';
    o += "{";
    kv(o, "node", r.node);
    kn(o, "seq", r.seq);
    kv(o, "record", r.line);  // the node's JSON line, as a string (clients parse it)
    o += '}';
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::audit(const Call& c) {
  std::string o = "[";
  for (const AuditEntry& a : store_.audit_log(limit_of(c.req))) {
    if (o.size() > 1) o += ',';
    o += "{";
    kn(o, "id", static_cast<uint64_t>(a.id));
    kv(o, "time", a.time);
    kv(o, "actor", a.actor);
    kv(o, "action", a.action);
    kv(o, "object", a.object);
    kv(o, "detail", a.detail);
    o += '}';
  }
  o += ']';
  return json(200, std::move(o));
}

// Prometheus text exposition (version 0.0.4): control's own state, what each node last
// reported, and every connected node's own counters as its latest stats frame gave them, each
// sample with node="NAME" added (ipc::merge_node_stats; docs/ipc.md). Label values are escaped
// as the format requires (backslash, quote, newline).
HttpResponse ApiServer::metrics(const Call&) {
  auto label = [](std::string_view v) {
    std::string o;
    for (char ch : v) {
      if (ch == '\\' || ch == '"') o += '\\';
      if (ch == '\n') {
        o += "\\n";
        continue;
      }
      o += ch;
    }
    return o;
  };
  const auto cur = store_.list(1);
  const auto nodes = store_.nodes();
  std::string o;
  o += "# HELP mxgate_control_generation The newest policy generation.\n# TYPE mxgate_control_generation gauge\n";
  o += "mxgate_control_generation " + std::to_string(cur.empty() ? 0 : cur[0].gen) + "\n";
  o += "# HELP mxgate_control_nodes_connected Data planes connected now.\n# TYPE mxgate_control_nodes_connected gauge\n";
  o += "mxgate_control_nodes_connected " + std::to_string(push_.connected()) + "\n";
  o += "# HELP mxgate_control_log_records Transaction records stored.\n# TYPE mxgate_control_log_records gauge\n";
  o += "mxgate_control_log_records " + std::to_string(store_.log_count()) + "\n";
  o += "# HELP mxgate_node_generation The generation a node serves (as it last acknowledged).\n"
       "# TYPE mxgate_node_generation gauge\n";
  for (const NodeState& n : nodes)
    o += "mxgate_node_generation{node=\"" + label(n.name) + "\"} " + std::to_string(n.generation) + "\n";
  o += "# HELP mxgate_node_connected 1 when the node is connected.\n# TYPE mxgate_node_connected gauge\n";
  for (const NodeState& n : nodes)
    o += "mxgate_node_connected{node=\"" + label(n.name) + "\"} " + (n.state == "connected" ? "1" : "0") + "\n";
  o += "# HELP mxgate_node_refused_generation The last generation a node refused (0: none).\n"
       "# TYPE mxgate_node_refused_generation gauge\n";
  for (const NodeState& n : nodes)
    o += "mxgate_node_refused_generation{node=\"" + label(n.name) + "\"} " + std::to_string(n.nacked) + "\n";
  std::string relayed;
  const size_t left_out = ipc::merge_node_stats(relayed, push_.node_stats());
  o += "# HELP mxgate_control_stats_refused_total Stats frames refused (text outside docs/ipc.md's subset).\n"
       "# TYPE mxgate_control_stats_refused_total counter\n";
  o += "mxgate_control_stats_refused_total " + std::to_string(push_.stats_refused()) + "\n";
  o += "# HELP mxgate_control_stats_left_out Node metric families left out of this answer (a type that differs "
       "between nodes).\n# TYPE mxgate_control_stats_left_out gauge\n";
  o += "mxgate_control_stats_left_out " + std::to_string(left_out) + "\n";
  o += relayed;
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(o);
  return r;
}


namespace {

// The status for a refused change, by the error's kind: missing objects 404, conflicts (a name
// taken, a limit reached, something left to remove first) 409, the store failing 500, the rest
// (the input is wrong) 400.
HttpResponse refused(const Error& e) {
  switch (e.kind) {
    case Error::Kind::kNotFound: return error(404, e.message);
    case Error::Kind::kConflict: return error(409, e.message);
    case Error::Kind::kInternal: return error(500, e.message);
    case Error::Kind::kInvalid: break;
  }
  return error(400, e.message);
}

HttpResponse done(int status = 200) { return json(status, "{\"ok\":true}"); }

// A request body that must be a JSON object.
Expected<ipc::JsonValue> body_object(const HttpRequest& req) {
  if (req.body.size() > kMaxApiJsonBody) return Error{"request body larger than " + std::to_string(kMaxApiJsonBody) + " bytes"};
  auto v = ipc::parse_json(req.body, kMaxApiJsonBody);
  if (!v) return Error{"request body: " + v.error().message};
  if (v->kind != ipc::JsonValue::Kind::kObject) return Error{"request body: expected a JSON object"};
  return v;
}

// {"settings": {"key": "value" | true | 123 | null}} as key=value pairs (null or "": unset).
Expected<std::vector<std::pair<std::string, std::string>>> settings_of(const ipc::JsonValue& body) {
  std::vector<std::pair<std::string, std::string>> out;
  const ipc::JsonValue* s = body.get("settings");
  if (!s) return out;
  if (s->kind != ipc::JsonValue::Kind::kObject) return Error{"settings: expected an object"};
  for (const auto& [k, v] : s->members) {
    switch (v.kind) {
      case ipc::JsonValue::Kind::kString: out.emplace_back(k, v.str); break;
      case ipc::JsonValue::Kind::kBool: out.emplace_back(k, v.b ? "true" : "false"); break;
      case ipc::JsonValue::Kind::kNull: out.emplace_back(k, ""); break;
      case ipc::JsonValue::Kind::kNumber:
        if (!v.is_int || v.i < 0) return Error{"settings: " + k + ": expected a whole number"};
        out.emplace_back(k, std::to_string(v.i));
        break;
      default: return Error{"settings: " + k + ": expected a string, a number, a boolean or null"};
    }
  }
  return out;
}

void settings_json(std::string& o, const std::vector<std::pair<std::string, std::string>>& settings) {
  if (o.back() != '{') o += ',';
  o += "\"settings\":{";
  for (const auto& [k, v] : settings) kv(o, k.c_str(), v);  // TOML values, as text
  o += '}';
}

void lists_json(std::string& o, const std::vector<ListEntry>& lists) {
  if (o.back() != '{') o += ',';
  o += "\"lists\":[";
  bool first = true;
  for (const ListEntry& e : lists) {
    if (!first) o += ',';
    first = false;
    o += '{';
    kv(o, "user", e.user);
    kv(o, "kind", e.kind);
    kv(o, "entry", e.entry);
    o += '}';
  }
  o += ']';
}

std::string tenant_json(const TenantInfo& t) {
  std::string o = "{";
  kv(o, "name", t.name);
  kv(o, "created", t.created);
  kb(o, "suspended", t.suspended);
  kv(o, "not_pushed", t.missing);
  o += ",\"domains\":[";
  for (size_t i = 0; i < t.domains.size(); ++i) {
    if (i) o += ',';
    ipc::json_string(o, t.domains[i]);
  }
  o += ']';
  kn(o, "users", t.users);
  settings_json(o, t.settings);
  lists_json(o, t.lists);
  o += '}';
  return o;
}

std::string user_json(const UserInfo& u) {
  std::string o = "{";
  kv(o, "tenant", u.tenant);
  kv(o, "address", u.address);
  settings_json(o, u.settings);
  lists_json(o, u.lists);
  o += '}';
  return o;
}

}  // namespace

HttpResponse ApiServer::commit_objects(const std::string& actor, const std::string& comment, uint64_t rollback_of,
                                       bool imported) {
  Compiled c = policy_.compile();
  if (!imported) {
    auto snap = ipc::parse_snapshot(c.document, "compiled policy", 0);
    if (!snap) return error(400, snap.error().message);
    c.tenants = (*snap)->tenants().size();
    c.users = (*snap)->users().size();
  }
  auto gen = store_.commit(c.document, actor, comment, c.tenants, c.users, rollback_of);
  if (!gen) return error(500, gen.error().message);
  policy_.mark_committed();
  push_.publish(*gen, c.document);
  std::string o = "{";
  kn(o, "generation", *gen);
  kn(o, "tenants", c.tenants);
  kn(o, "users", c.users);
  kn(o, "nodes_connected", push_.connected());
  if (rollback_of) kn(o, "rollback_of", rollback_of);
  o += ",\"left_out\":[";
  for (size_t i = 0; i < c.left_out.size(); ++i) {
    if (i) o += ',';
    ipc::json_string(o, c.left_out[i]);
  }
  o += "]}";
  return json(201, std::move(o));
}

HttpResponse ApiServer::post_snapshot(const Call& c) {
  const HttpRequest& req = c.req;
  if (req.body.size() > ipc::kMaxSnapshotDocumentBytes) return error(413, "snapshot document too large");
  // The document replaces the stored objects, and they are committed: later changes build on it.
  // Nodes have no rule files: the document must carry its rules inline (mxgatectl import does).
  auto imported = policy_.import_document(req.body, c.actor, true);
  if (!imported) return error(400, imported.error().message);
  return commit_objects(c.actor, std::string(req.param("comment").substr(0, kMaxComment)), 0, true);
}

HttpResponse ApiServer::post_rollback(const Call& c) {
  uint64_t g = 0;
  if (!parse_u64(c.param("gen"), g)) return error(404, "no such generation");
  auto old = store_.get(g);
  if (!old) return error(404, "no such generation");
  auto imported = policy_.import_document(old->document, c.actor);
  if (!imported) return error(409, "generation " + std::to_string(g) + " cannot be restored: " + imported.error().message);
  return commit_objects(c.actor, std::string(c.req.param("comment").substr(0, kMaxComment)), g, true);
}

HttpResponse ApiServer::post_commit(const Call& c) {
  const auto cur = store_.list(1);
  if (!cur.empty() && !policy_.changed()) {
    std::string o = "{";
    kn(o, "generation", cur[0].gen);
    kb(o, "unchanged", true);
    o += '}';
    return json(200, std::move(o));
  }
  return commit_objects(c.actor, std::string(c.req.param("comment").substr(0, kMaxComment)), 0);
}

HttpResponse ApiServer::get_export(const Call&) {
  Compiled c = policy_.compile();
  HttpResponse r;
  r.content_type = "application/toml; charset=utf-8";
  r.body = std::move(c.document);
  return r;
}

HttpResponse ApiServer::get_diff(const Call&) {
  const auto cur = store_.current();
  Compiled c = policy_.compile();
  auto changes = diff_documents(cur ? cur->document : std::string(), c.document);
  if (!changes) return error(500, changes.error().message);
  std::string o = "{";
  kn(o, "generation", cur ? cur->gen : 0);
  o += ",\"changes\":[";
  bool first = true;
  for (const PolicyChange& ch : *changes) {
    if (!first) o += ',';
    first = false;
    o += '{';
    kv(o, "op", ch.op);
    kv(o, "object", ch.object);
    kv(o, "key", ch.key);
    kv(o, "before", ch.before.substr(0, kMaxDiffValue));
    kv(o, "after", ch.after.substr(0, kMaxDiffValue));
    o += '}';
  }
  o += "],\"left_out\":[";
  for (size_t i = 0; i < c.left_out.size(); ++i) {
    if (i) o += ',';
    ipc::json_string(o, c.left_out[i]);
  }
  o += "]}";
  return json(200, std::move(o));
}

HttpResponse ApiServer::keys(const Call&) {
  std::string o = "{";
  for (const auto& [what, list] : {std::pair{"tenant", &tenant_setting_keys()}, std::pair{"user", &user_setting_keys()}}) {
    if (o.back() != '{') o += ',';
    ipc::json_string(o, what);
    o += ":[";
    bool first = true;
    for (const SettingKey& k : *list) {
      if (!first) o += ',';
      first = false;
      o += '{';
      kv(o, "key", k.name);
      kv(o, "type", k.type == SettingType::kBool ? "bool" : k.type == SettingType::kInt ? "int" : "string");
      kv(o, "help", k.help);
      o += '}';
    }
    o += ']';
  }
  o += '}';
  return json(200, std::move(o));
}

HttpResponse ApiServer::tenants(const Call& c) {
  std::string o = "[";
  for (const TenantInfo& t : policy_.tenants()) {
    if (!c.scope.operator_ && t.name != c.scope.tenant) continue;
    if (o.size() > 1) o += ',';
    o += tenant_json(t);
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::tenant_add(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  const std::string name(b->get_str("name"));
  if (auto r = policy_.add_tenant(name, c.actor); !r) return refused(r.error());
  return json(201, tenant_json(*policy_.tenant(name)));
}

HttpResponse ApiServer::tenant_get(const Call& c) {
  auto t = policy_.tenant(std::string(c.param("tenant")));
  if (!t) return error(404, "no tenant " + std::string(c.param("tenant")).substr(0, kMaxTenantName));
  return json(200, tenant_json(*t));
}

HttpResponse ApiServer::tenant_patch(const Call& c) {
  const std::string name(c.param("tenant"));
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  auto settings = settings_of(*b);
  if (!settings) return error(400, settings.error().message);
  const ipc::JsonValue* susp = b->get("suspended");
  if (susp && !c.scope.operator_) return error(403, "only an operator suspends or resumes a tenant");
  if (!susp && settings->empty()) return error(400, "nothing to change: send settings or suspended");
  if (!settings->empty())
    if (auto r = policy_.set_tenant(name, *settings, c.actor); !r) return refused(r.error());
  if (susp) {
    if (susp->kind != ipc::JsonValue::Kind::kBool) return error(400, "suspended: expected true or false");
    if (auto r = policy_.suspend_tenant(name, susp->b, c.actor); !r) return refused(r.error());
  }
  auto t = policy_.tenant(name);
  if (!t) return error(404, "no tenant " + name.substr(0, kMaxTenantName));
  return json(200, tenant_json(*t));
}

HttpResponse ApiServer::tenant_remove(const Call& c) {
  if (auto r = policy_.remove_tenant(std::string(c.param("tenant")), c.actor); !r) return refused(r.error());
  return done();
}

HttpResponse ApiServer::domains(const Call& c) {
  auto t = policy_.tenant(std::string(c.param("tenant")));
  if (!t) return error(404, "no tenant " + std::string(c.param("tenant")).substr(0, kMaxTenantName));
  std::string o = "[";
  for (const std::string& d : t->domains) {
    if (o.size() > 1) o += ',';
    ipc::json_string(o, d);
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::domain_add(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  if (auto r = policy_.add_domain(std::string(c.param("tenant")), std::string(b->get_str("domain")), c.actor); !r)
    return refused(r.error());
  return done(201);
}

HttpResponse ApiServer::domain_remove(const Call& c) {
  if (auto r = policy_.remove_domain(std::string(c.param("tenant")), std::string(c.param("domain")), c.actor); !r)
    return refused(r.error());
  return done();
}

HttpResponse ApiServer::users(const Call& c) {
  const std::string t(c.param("tenant"));
  if (!policy_.tenant(t)) return error(404, "no tenant " + t.substr(0, kMaxTenantName));
  uint64_t offset = 0;
  if (!c.req.param("offset").empty() && !parse_u64(c.req.param("offset"), offset)) return error(400, "offset: a number");
  std::string o = "[";
  for (const UserInfo& u : policy_.users(t, limit_of(c.req), static_cast<size_t>(offset))) {
    if (o.size() > 1) o += ',';
    o += user_json(u);
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::user_add(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  const std::string t(c.param("tenant")), a(b->get_str("address"));
  if (auto r = policy_.add_user(t, a, c.actor); !r) return refused(r.error());
  auto settings = settings_of(*b);
  if (!settings) return error(400, settings.error().message);
  if (!settings->empty())
    if (auto r = policy_.set_user(t, a, *settings, c.actor); !r) {
      (void)policy_.remove_user(t, a, c.actor);  // all or nothing
      return refused(r.error());
    }
  return json(201, user_json(*policy_.user(t, a)));
}

HttpResponse ApiServer::user_get(const Call& c) {
  auto u = policy_.user(std::string(c.param("tenant")), std::string(c.param("user")));
  if (!u) return error(404, "no such user");
  return json(200, user_json(*u));
}

HttpResponse ApiServer::user_patch(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  auto settings = settings_of(*b);
  if (!settings) return error(400, settings.error().message);
  const std::string t(c.param("tenant")), a(c.param("user"));
  if (auto r = policy_.set_user(t, a, *settings, c.actor); !r) return refused(r.error());
  return json(200, user_json(*policy_.user(t, a)));
}

HttpResponse ApiServer::user_remove(const Call& c) {
  if (auto r = policy_.remove_user(std::string(c.param("tenant")), std::string(c.param("user")), c.actor); !r)
    return refused(r.error());
  return done();
}

HttpResponse ApiServer::lists(const Call& c) {
  const std::string t(c.param("tenant"));
  if (!policy_.tenant(t)) return error(404, "no tenant " + t.substr(0, kMaxTenantName));
  std::string o = "{";
  lists_json(o, policy_.list_entries(t));
  o += '}';
  return json(200, std::move(o));
}

HttpResponse ApiServer::list_add(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  ListEntry e{std::string(b->get_str("user")), std::string(b->get_str("kind")), std::string(b->get_str("entry"))};
  if (auto r = policy_.add_list_entry(std::string(c.param("tenant")), e, c.actor); !r) return refused(r.error());
  return done(201);
}

HttpResponse ApiServer::list_remove(const Call& c) {
  ListEntry e{std::string(c.req.param("user")), std::string(c.req.param("kind")), std::string(c.req.param("entry"))};
  if (auto r = policy_.remove_list_entry(std::string(c.param("tenant")), e, c.actor); !r) return refused(r.error());
  return done();
}

HttpResponse ApiServer::tokens(const Call&) {
  std::string o = "[";
  for (const TokenInfo& t : policy_.tokens()) {
    if (o.size() > 1) o += ',';
    o += '{';
    kv(o, "name", t.name);
    kv(o, "scope", t.tenant.empty() ? "operator" : "tenant");
    kv(o, "tenant", t.tenant);
    kv(o, "created", t.created);
    o += '}';
  }
  o += ']';
  return json(200, std::move(o));
}

HttpResponse ApiServer::token_add(const Call& c) {
  auto b = body_object(c.req);
  if (!b) return error(400, b.error().message);
  auto secret = policy_.create_token(std::string(b->get_str("name")), std::string(b->get_str("tenant")), c.actor);
  if (!secret) return refused(secret.error());
  std::string o = "{";
  kv(o, "name", b->get_str("name"));
  kv(o, "tenant", b->get_str("tenant"));
  kv(o, "token", *secret);  // shown once: only its digest is stored
  o += '}';
  return json(201, std::move(o));
}

HttpResponse ApiServer::token_remove(const Call& c) {
  if (auto r = policy_.remove_token(std::string(c.param("token")), c.actor); !r) return refused(r.error());
  return done();
}

}  // namespace mx::control
