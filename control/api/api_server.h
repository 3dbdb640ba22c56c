// control/api/api_server.h — mxgate-control's JSON API over HTTP/1.1 on a local Unix socket (the
// socket's mode, 0600, is the access control for now: root on the control host). The one API
// that mxgatectl uses (and the web interface will):
//
//   GET  /v1/status                  generation, nodes connected, schema version
//   GET  /v1/nodes                   every node: state, generation acknowledged, last refusal
//   GET  /v1/generations[?limit=N]   newest first (no documents)
//   GET  /v1/generations/N           one, with its document
//   POST /v1/snapshot[?actor=&comment=]   body: a self-contained snapshot document (rules
//                                    inline): validated, committed as a new generation, pushed
//   POST /v1/rollback/N[?actor=]     generation N's document committed again as a new one
//   GET  /v1/log[?tenant=&sender=&rcpt=&message_id=&client_ip=&action=&class=&since=&until=&limit=]
//                                    transaction records collected from nodes, newest first
//   GET  /v1/audit[?limit=N]         newest first
//   GET  /metrics                    Prometheus text exposition: generation, nodes, log records
//
// Errors are JSON {"error": "..."} with 400 (a document that does not validate, with its
// line), 404, 405, 413 and the parser's statuses (control/api/http.h).
//
// SECURITY: requests are parsed with bounds (HttpParser); documents are validated whole by the
// same reader the data plane uses (ipc::parse_snapshot) before anything is stored or pushed.
// STANDARDS: RFC 9110, RFC 9112, RFC 8259.
#pragma once

#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "control/api/http.h"
#include "control/push/push_server.h"
#include "control/store/store.h"

namespace mx::control {

constexpr size_t kMaxApiClients = 64;
constexpr uint64_t kApiIdleMs = 30000;  // a client silent (or stuck mid-request) this long is closed
constexpr size_t kMaxListLimit = 1000;

class ApiServer {
 public:
  static Expected<std::unique_ptr<ApiServer>> listen(const std::string& socket_path, Store& store, PushServer& push);
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
    HttpParser parser;
    std::string in;   // read, not yet parsed (pipelined requests wait for the previous answer)
    std::string out;
    size_t out_off = 0;
    bool close_after = false;
    uint64_t last_ms = 0;
  };
  ApiServer(int fd, std::string path, Store& store, PushServer& push)
      : lfd_(fd), path_(std::move(path)), store_(store), push_(push) {}
  void on_readable(Client& c);
  void process(Client& c);  // one request at a time: the next is parsed once the answer is out
  bool flush(Client& c);    // true when everything queued is written
  HttpResponse post_snapshot(const HttpRequest& req);
  HttpResponse post_rollback(const HttpRequest& req, uint64_t gen);
  HttpResponse metrics();

  int lfd_ = -1;
  std::string path_;
  Store& store_;
  PushServer& push_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace mx::control
