// control/api/api_server.cc — the JSON API (control/api/api_server.h).
#include "control/api/api_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

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

Expected<std::unique_ptr<ApiServer>> ApiServer::listen(const std::string& socket_path, Store& store, PushServer& push) {
  auto fd = listen_unix(socket_path);
  if (!fd) return fd.error();
  return std::unique_ptr<ApiServer>(new ApiServer(*fd, socket_path, store, push));
}

ApiServer::~ApiServer() {
  for (auto& c : clients_) ::close(c->fd);
  ::close(lfd_);
  ::unlink(path_.c_str());
}

void ApiServer::fill(std::vector<pollfd>& fds) const {
  fds.push_back(pollfd{lfd_, POLLIN, 0});
  for (const auto& c : clients_)
    if (c->fd >= 0) fds.push_back(pollfd{c->fd, static_cast<short>(c->out_off < c->out.size() ? POLLOUT : POLLIN), 0});
}

void ApiServer::handle(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (!p.revents) continue;
    if (p.fd == lfd_) {
      while (true) {
        const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (clients_.size() >= kMaxApiClients) {
          ::close(fd);
          continue;
        }
        auto c = std::make_unique<Client>();
        c->fd = fd;
        c->last_ms = mono_ms();
        clients_.push_back(std::move(c));
      }
      continue;
    }
    auto it = std::find_if(clients_.begin(), clients_.end(), [&](const auto& c) { return c->fd == p.fd; });
    if (it == clients_.end()) continue;
    Client& c = **it;
    if (p.revents & POLLOUT) {
      if (flush(c)) process(c);  // the answer is out: the next pipelined request, if any
    } else if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
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
    if (c->fd >= 0 && now - c->last_ms > kApiIdleMs) {
      ::close(c->fd);
      c->fd = -1;
    }
  clients_.erase(std::remove_if(clients_.begin(), clients_.end(), [](const auto& c) { return c->fd < 0; }),
                 clients_.end());
}

void ApiServer::on_readable(Client& c) {
  char buf[65536];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    ::close(c.fd);
    c.fd = -1;
    return;
  }
  if (n < 0) return;
  c.last_ms = mono_ms();
  c.in.append(buf, static_cast<size_t>(n));
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
      c.out = format_response(route(req), req.keep_alive);
      c.close_after = !req.keep_alive;
    }
    if (!flush(c)) return;  // POLLOUT brings us back
  }
}

bool ApiServer::flush(Client& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = ::write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return false;
      ::close(c.fd);
      c.fd = -1;
      return false;
    }
    c.out_off += static_cast<size_t>(n);
    c.last_ms = mono_ms();
  }
  c.out.clear();
  c.out_off = 0;
  if (c.close_after) {
    ::close(c.fd);
    c.fd = -1;
    return false;
  }
  return true;
}

HttpResponse ApiServer::route(const HttpRequest& req) {
  const std::string_view p = req.path;
  const bool get = req.method == "GET", post = req.method == "POST";
  auto only = [&](bool ok, const char* allow) -> std::optional<HttpResponse> {
    if (ok) return std::nullopt;
    HttpResponse r = error(405, std::string("method not allowed; allowed: ") + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (p == "/v1/status") {
    if (auto r = only(get, "GET")) return *r;
    const auto cur = store_.list(1);
    std::string o = "{";
    kn(o, "generation", cur.empty() ? 0 : cur[0].gen);
    kn(o, "nodes_connected", push_.connected());
    kn(o, "schema_version", static_cast<uint64_t>(store_.schema_version()));
    kn(o, "log_records", store_.log_count());
    o += '}';
    return json(200, std::move(o));
  }
  if (p == "/metrics") {
    if (auto r = only(get, "GET")) return *r;
    return metrics();
  }
  if (p == "/v1/nodes") {
    if (auto r = only(get, "GET")) return *r;
    std::string o = "[";
    for (const NodeState& n : store_.nodes()) {
      if (o.size() > 1) o += ',';
      o += node_json(n);
    }
    o += ']';
    return json(200, std::move(o));
  }
  if (p == "/v1/generations") {
    if (auto r = only(get, "GET")) return *r;
    std::string o = "[";
    for (const Generation& g : store_.list(limit_of(req))) {
      if (o.size() > 1) o += ',';
      o += generation_json(g, false);
    }
    o += ']';
    return json(200, std::move(o));
  }
  if (p.starts_with("/v1/generations/")) {
    if (auto r = only(get, "GET")) return *r;
    uint64_t g = 0;
    if (!parse_u64(p.substr(16), g)) return error(404, "no such generation");
    auto gen = store_.get(g);
    if (!gen) return error(404, "no such generation");
    return json(200, generation_json(*gen, true));
  }
  if (p == "/v1/snapshot") {
    if (auto r = only(post, "POST")) return *r;
    return post_snapshot(req);
  }
  if (p.starts_with("/v1/rollback/")) {
    if (auto r = only(post, "POST")) return *r;
    uint64_t g = 0;
    if (!parse_u64(p.substr(13), g)) return error(404, "no such generation");
    return post_rollback(req, g);
  }
  if (p == "/v1/log") {
    if (auto r = only(get, "GET")) return *r;
    LogQuery q;
    q.tenant = req.param("tenant");
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
  if (p == "/v1/audit") {
    if (auto r = only(get, "GET")) return *r;
    std::string o = "[";
    for (const AuditEntry& a : store_.audit_log(limit_of(req))) {
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
  return error(404, "no such endpoint");
}

// Prometheus text exposition (version 0.0.4): control's own state and what each node last
// reported. Label values are escaped as the format requires (backslash, quote, newline).
HttpResponse ApiServer::metrics() {
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
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(o);
  return r;
}

HttpResponse ApiServer::post_snapshot(const HttpRequest& req) {
  if (req.body.size() > ipc::kMaxSnapshotDocumentBytes) return error(413, "snapshot document too large");
  // Nodes have no rule files: the document must carry its rules inline (mxgatectl import does).
  auto doc = cfg::parse_toml(req.body, "snapshot", ipc::kMaxSnapshotDocumentBytes);
  if (!doc) return error(400, doc.error().message);
  for (const cfg::TomlTable& t : doc->tables)
    for (const auto& [key, value] : t.entries)
      if (t.name == "tenant" && key == "rules")
        return error(400, "snapshot:" + std::to_string(value.line) +
                              ": rules: a file name; send the rules inline (rules_text; mxgatectl import does)");
  auto snap = ipc::parse_snapshot(req.body, "snapshot", 0);
  if (!snap) return error(400, snap.error().message);
  auto gen = store_.commit(req.body, actor_of(req), std::string(req.param("comment").substr(0, kMaxComment)),
                           (*snap)->tenants().size(), (*snap)->users().size());
  if (!gen) return error(500, gen.error().message);
  push_.publish(*gen, req.body);
  std::string o = "{";
  kn(o, "generation", *gen);
  kn(o, "tenants", (*snap)->tenants().size());
  kn(o, "users", (*snap)->users().size());
  kn(o, "nodes_connected", push_.connected());
  o += '}';
  return json(201, std::move(o));
}

HttpResponse ApiServer::post_rollback(const HttpRequest& req, uint64_t g) {
  auto old = store_.get(g);
  if (!old) return error(404, "no such generation");
  auto gen = store_.commit(old->document, actor_of(req), std::string(req.param("comment").substr(0, kMaxComment)),
                           old->tenants, old->users, g);
  if (!gen) return error(500, gen.error().message);
  push_.publish(*gen, old->document);
  std::string o = "{";
  kn(o, "generation", *gen);
  kn(o, "rollback_of", g);
  kn(o, "nodes_connected", push_.connected());
  o += '}';
  return json(201, std::move(o));
}

}  // namespace mx::control
