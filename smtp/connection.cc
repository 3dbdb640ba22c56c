// smtp/connection.cc
#include "smtp/connection.h"

namespace mx::smtp {
namespace {
ServerConfig with_tls(ServerConfig c, bool tls) {
  c.starttls = tls;
  return c;
}
}  // namespace

ServerConnection::ServerConnection(const ServerConfig& cfg, std::shared_ptr<const TlsServerContext> tls,
                                   ServerHandler& h)
    : cfg_(with_tls(cfg, tls != nullptr)), ctx_(std::move(tls)), h_(h), session_(cfg_, h) {}

void ServerConnection::start(Tick now) {
  session_.start(now);
  pump();
}

void ServerConnection::pump() {
  if (tls_ && tls_->status() == TlsSession::Status::kReady) {
    tls_->write(session_.output());
    session_.consume_output(session_.output().size());
    tls_->drain(out_);
    session_.set_wire_backlog(out_.size());
    return;
  }
  out_.append(session_.output());
  session_.consume_output(session_.output().size());
  session_.set_wire_backlog(out_.size());
}

// STARTTLS was accepted (by input just fed, or by commands processed later: after a decision,
// an error delay or drained output): its 220 is in out_, and from here on the wire speaks TLS.
void ServerConnection::start_tls_if_requested(Tick now) {
  if (tls_ || !session_.starttls_requested()) return;
  tls_ = std::make_unique<TlsSession>(*ctx_);
  tls_start_ns_ = now.ns;
}

void ServerConnection::fail_tls(const std::string& why) {
  tls_error_ = why;
  h_.on_refused("tls", reply(421, "4.7.0", why));
  closed_ = true;  // no SMTP reply is possible on a broken TLS stream
}

size_t ServerConnection::feed(ByteSpan wire, Tick now) {
  if (closed_) return wire.size();
  if (!tls_) {
    size_t used = session_.feed(wire, now);
    pump();
    start_tls_if_requested(now);
    return used;
  }
  if (plain_in_.size() >= kMaxTlsPlainBacklog) return 0;  // the session is holding input
  TlsSession::Status before = tls_->status();
  TlsSession::Status st = tls_->input(wire, plain_in_);
  tls_->drain(out_);
  if (st == TlsSession::Status::kFailed) {
    fail_tls("TLS handshake or record error: " + tls_->error());
    return wire.size();
  }
  if (st == TlsSession::Status::kClosed) {
    closed_ = true;
    return wire.size();
  }
  if (before == TlsSession::Status::kHandshaking && st == TlsSession::Status::kReady) session_.tls_started(tls_->info());
  if (!plain_in_.empty()) {
    size_t used = session_.feed(ByteSpan(reinterpret_cast<const uint8_t*>(plain_in_.data()), plain_in_.size()), now);
    plain_in_.erase(0, used);
  }
  pump();
  return wire.size();
}

void ServerConnection::resume(const Decision& d, Tick now) {
  session_.resume(d, now);
  if (tls_ && !plain_in_.empty() && !session_.awaiting_decision()) {
    size_t used = session_.feed(ByteSpan(reinterpret_cast<const uint8_t*>(plain_in_.data()), plain_in_.size()), now);
    plain_in_.erase(0, used);
  }
  pump();
  start_tls_if_requested(now);
}

void ServerConnection::process_buffered(Tick now) {
  if (closed_ || session_.awaiting_decision()) return;
  session_.process_buffered(now);
  if (tls_ && !plain_in_.empty() && !session_.awaiting_decision()) {
    size_t used = session_.feed(ByteSpan(reinterpret_cast<const uint8_t*>(plain_in_.data()), plain_in_.size()), now);
    plain_in_.erase(0, used);
  }
  pump();
  start_tls_if_requested(now);
}

void ServerConnection::tick(Tick now) {
  if (tls_ && tls_->status() == TlsSession::Status::kHandshaking && now.ns - tls_start_ns_ >= kTlsHandshakeTimeoutNs) {
    fail_tls("TLS handshake timeout");
    return;
  }
  session_.tick(now);
  pump();
  start_tls_if_requested(now);
}

}  // namespace mx::smtp
