// smtp/connection.h — one server connection: a ServerSession, plus TLS once STARTTLS is done.
// The transport (tcpstack in the data plane, a kernel socket in tests) feeds wire bytes and
// sends output(); this class decides which bytes are plaintext and which go through TLS.
//
// SECURITY: after "220 Ready to start TLS" no plaintext byte is ever given to the session; a
// handshake that fails or does not finish within kTlsHandshakeTimeoutNs closes the connection.
#pragma once

#include <memory>
#include <string>

#include "smtp/server.h"
#include "smtp/tls.h"

namespace mx::smtp {

constexpr uint64_t kTlsHandshakeTimeoutNs = 30 * kNsPerSec;
// Decrypted bytes held while the session waits for a decision; beyond it, wire input waits.
constexpr size_t kMaxTlsPlainBacklog = 64 * 1024;

class ServerConnection {
 public:
  // tls may be null: STARTTLS is then not offered.
  ServerConnection(const ServerConfig& cfg, std::shared_ptr<const TlsServerContext> tls, ServerHandler& h);

  void start(Tick now);
  size_t feed(ByteSpan wire, Tick now);
  void resume(const Decision& d, Tick now);
  void tick(Tick now);

  // Input held while output piles up: call after output was consumed (the peer reads again).
  void process_buffered(Tick now);
  bool has_buffered_input() const { return !plain_in_.empty() || session_.has_buffered_input(); }
  // Replies wait unsent beyond smtp::kMaxOutputBacklog: stop reading from the wire.
  bool output_full() const { return out_.size() + session_.output().size() >= kMaxOutputBacklog; }

  std::string_view output() const { return out_; }
  void consume_output(size_t n) {
    out_.erase(0, n);
    session_.set_wire_backlog(out_.size());
  }
  bool wants_close() const { return closed_ || session_.wants_close(); }
  ServerSession& session() { return session_; }
  // Null while the connection is in plaintext.
  const TlsInfo* tls_info() const { return tls_ && tls_->status() == TlsSession::Status::kReady ? &tls_->info() : nullptr; }
  const std::string& tls_error() const { return tls_error_; }

 private:
  void pump();
  void start_tls_if_requested(Tick now);
  void fail_tls(const std::string& why);

  ServerConfig cfg_;
  std::shared_ptr<const TlsServerContext> ctx_;
  ServerHandler& h_;
  ServerSession session_;
  std::unique_ptr<TlsSession> tls_;
  std::string out_;
  std::string plain_in_;
  std::string tls_error_;
  uint64_t tls_start_ns_ = 0;
  bool closed_ = false;
};

}  // namespace mx::smtp
