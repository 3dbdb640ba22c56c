// control/api/api_server.h — mxgate-control's JSON API over HTTP/1.1 on a local Unix socket, and
// optionally over HTTPS on a TCP address (listen_tls). The one API that mxgatectl uses (and the
// web interface will). Every endpoint is a row of the
// route table (routes()), with the scope it needs:
//
//   operator   GET  /v1/status, /metrics, /v1/nodes, /v1/generations[/N], /v1/audit, /v1/export,
//                   /v1/diff, /v1/tokens
//              POST /v1/snapshot (import a document and commit it), /v1/commit, /v1/rollback/N,
//                   /v1/tenants, /v1/tokens;  DELETE /v1/tenants/T, /v1/tokens/NAME
//   tenant     GET/PATCH /v1/tenants/T;  GET/POST /v1/tenants/T/domains, DELETE .../domains/D;
//              GET/POST /v1/tenants/T/users, GET/PATCH/DELETE .../users/ADDRESS;
//              GET/POST/DELETE /v1/tenants/T/lists;  GET /v1/tenants and /v1/log (answers
//              limited to the token's tenant);  GET /v1/keys
//
// Who asks: a request without credentials on the Unix socket is the operator (the socket's
// mode, 0600, admits root on the control host only); over HTTPS a request without credentials
// is 401, before any route is looked at (nothing there is the operator by default);
// `Authorization: Bearer mxg_...` names an
// API token (mxgatectl token add), scoped to the operator or to one tenant. A tenant's token
// gets 403 on operator endpoints and 404 for any other tenant's objects (as if they did not
// exist); an unknown token gets 401.
//
// Changes to objects are stored at once and reach nodes at the next commit (POST /v1/commit,
// which compiles the objects into a snapshot document; GET /v1/diff shows what it would change).
//
// Errors are JSON {"error": "..."} with 400 (a value or document that does not validate,
// naming the key), 401, 403, 404, 405, 409 (exists, taken, in use), 413 and the parser's
// statuses (control/api/http.h).
//
// SECURITY: requests are parsed with bounds (HttpParser, ipc::parse_json); every change is
// validated by the reader the data plane runs (ipc::parse_snapshot) before it is stored. Both
// listeners share the bounds: kMaxApiClients connections in all, one request answered at a time
// per connection, a connection without progress for ApiLimits::idle_ms closed, reads of at most
// kApiReadChunk per round; over HTTPS the TLS handshake is stepped in the poll loop and must
// finish within ApiLimits::handshake_ms (common/tls_channel.h: TLS 1.2+, no client certificate
// asked). No Server header (no version banner).
// STANDARDS: RFC 9110, RFC 9112, RFC 8259, RFC 6750 (bearer tokens), RFC 9110 11.6.1 and RFC
// 6750 3 (WWW-Authenticate); HTTPS: RFC 9110 4.2.2, TLS as in common/tls_channel.h.
#pragma once

#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/tls_channel.h"
#include "control/api/http.h"
#include "control/push/push_server.h"
#include "control/store/policy_store.h"
#include "control/store/store.h"

namespace mx::control {

constexpr size_t kMaxApiClients = 64;
constexpr uint64_t kApiIdleMs = 30000;  // a client silent (or stuck mid-request) this long is closed
constexpr size_t kApiReadChunk = 65536;  // bytes read from one client per poll round
constexpr size_t kMaxListLimit = 1000;
constexpr size_t kMaxApiJsonBody = 17u << 20;  // a change (rules_text may be 16 MiB)
constexpr size_t kMaxDiffValue = 4096;          // a value shown in a diff, cut

// Who may call an endpoint: the operator only, or also a token of the tenant that the path's
// {tenant} names (without {tenant}: any tenant's token, the answer limited to its tenant).
enum class Access { kOperator, kTenant };

struct ApiRouteInfo {
  const char* method;
  const char* pattern;  // "/v1/tenants/{tenant}/users/{user}"
  Access access;
};

using PathParams = std::vector<std::pair<std::string, std::string>>;

// Deadlines (tests shorten them).
struct ApiLimits {
  uint64_t idle_ms = kApiIdleMs;
  uint64_t handshake_ms = tls::kHandshakeTimeoutMs;  // from the accept, over HTTPS
};

class ApiServer {
 public:
  // Every endpoint (the isolation test walks it, so a new endpoint cannot be forgotten).
  static std::vector<ApiRouteInfo> routes();
  static Expected<std::unique_ptr<ApiServer>> listen(const std::string& socket_path, Store& store, PushServer& push,
                                                     ApiLimits limits = {});
  // The API also over HTTPS at `address` (HOST:PORT; port 0: any), with `ctx` a server context
  // (no client CA). Returns the port listened on.
  Expected<uint16_t> listen_tls(const std::string& address, std::shared_ptr<const tls::Context> ctx);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  void fill(std::vector<pollfd>& fds) const;
  void handle(const std::vector<pollfd>& fds);
  void sweep();  // idle deadlines; call every loop round
  // The response to one request (exposed for tests).
  HttpResponse route(const HttpRequest& req);

 private:
  struct Client {
    int fd = -1;
    std::unique_ptr<tls::Stream> tls;  // over HTTPS; null on the Unix socket
    uint64_t since_ms = 0;             // accepted at
    HttpParser parser;
    std::string in;   // read, not yet parsed (pipelined requests wait for the previous answer)
    std::string out;
    size_t out_off = 0;
    bool close_after = false;
    uint64_t last_ms = 0;
  };
  ApiServer(int fd, std::string path, Store& store, PushServer& push, ApiLimits limits)
      : lfd_(fd), path_(std::move(path)), store_(store), policy_(store), push_(push), limits_(limits) {}
  void accept_all(int lfd);
  void close_client(Client& c);
  void on_readable(Client& c);
  void process(Client& c);  // one request at a time: the next is parsed once the answer is out
  bool flush(Client& c);    // true when everything queued is written
  struct Call {
    const HttpRequest& req;
    const PathParams& params;
    const Scope& scope;
    std::string actor;
    std::string_view param(std::string_view name) const;
  };
  using Handler = HttpResponse (ApiServer::*)(const Call&);
  struct Route {
    ApiRouteInfo info;
    Handler fn;
  };
  static const std::vector<Route>& table();

  HttpResponse status(const Call&);
  HttpResponse metrics(const Call&);
  HttpResponse nodes(const Call&);
  HttpResponse generations(const Call&);
  HttpResponse generation(const Call&);
  HttpResponse post_snapshot(const Call&);
  HttpResponse post_rollback(const Call&);
  HttpResponse post_commit(const Call&);
  HttpResponse get_export(const Call&);
  HttpResponse get_diff(const Call&);
  HttpResponse log(const Call&);
  HttpResponse audit(const Call&);
  HttpResponse keys(const Call&);
  HttpResponse tenants(const Call&);
  HttpResponse tenant_add(const Call&);
  HttpResponse tenant_get(const Call&);
  HttpResponse tenant_patch(const Call&);
  HttpResponse tenant_remove(const Call&);
  HttpResponse domains(const Call&);
  HttpResponse domain_add(const Call&);
  HttpResponse domain_remove(const Call&);
  HttpResponse users(const Call&);
  HttpResponse user_add(const Call&);
  HttpResponse user_get(const Call&);
  HttpResponse user_patch(const Call&);
  HttpResponse user_remove(const Call&);
  HttpResponse lists(const Call&);
  HttpResponse list_add(const Call&);
  HttpResponse list_remove(const Call&);
  HttpResponse tokens(const Call&);
  HttpResponse token_add(const Call&);
  HttpResponse token_remove(const Call&);
  // Compiles the stored objects, validates and commits them as a new generation, pushes it.
  // `imported`: the objects were just made from a document that parse_snapshot accepted, so the
  // compiled one (the same policy) is not parsed again (at 1M users that parse is ~5 s).
  HttpResponse commit_objects(const std::string& actor, const std::string& comment, uint64_t rollback_of,
                              bool imported = false);

  int lfd_ = -1;
  std::string path_;
  Store& store_;
  PolicyStore policy_;
  PushServer& push_;
  ApiLimits limits_;
  int tls_lfd_ = -1;                             // HTTPS; -1: none
  std::shared_ptr<const tls::Context> tls_ctx_;  // for tls_lfd_
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace mx::control
