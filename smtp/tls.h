// smtp/tls.h — TLS for STARTTLS over OpenSSL memory BIOs: no sockets, bytes in and out.
//
// SECURITY: the handshake parses untrusted ClientHellos (OpenSSL does); we only read the
// results. Protocols below TLS 1.2 are disabled. Private keys are loaded once at start-up.
// STANDARDS: RFC 3207 (STARTTLS), RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/expected.h"

struct ssl_ctx_st;
struct ssl_st;

namespace mx::smtp {

// What the transaction log records about a TLS session.
struct TlsInfo {
  std::string protocol;      // "TLSv1.3"
  std::string cipher;        // "TLS_AES_256_GCM_SHA384"
  std::string sni;           // server name the client asked for, "" if none
  std::string fingerprint;   // JA3-style ClientHello string: version,ciphers,extensions,groups,formats
  std::string fingerprint_md5;
};

class TlsServerContext {
 public:
  // Loads a PEM certificate chain and private key; the error names the file and the reason.
  static Expected<std::shared_ptr<TlsServerContext>> load(const std::string& cert_file, const std::string& key_file);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;
  ssl_ctx_st* raw() const { return ctx_; }

 private:
  explicit TlsServerContext(ssl_ctx_st* c) : ctx_(c) {}
  ssl_ctx_st* ctx_;
};

// The client side (relaying to customers' servers). `ca_file` empty: the system's trust store.
class TlsClientContext {
 public:
  static Expected<std::shared_ptr<TlsClientContext>> create(const std::string& ca_file = "");
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;
  ssl_ctx_st* raw() const { return ctx_; }

 private:
  explicit TlsClientContext(ssl_ctx_st* c) : ctx_(c) {}
  ssl_ctx_st* ctx_;
};

// One TLS session over memory BIOs. Feed it ciphertext; it gives plaintext and ciphertext to send.
class TlsSession {
 public:
  explicit TlsSession(const TlsServerContext& ctx);
  // Client: sends SNI `server_name` (not when it is an IP literal, RFC 6066 3); with `verify`, the
  // handshake fails unless the server's certificate chains to the context's trust store and
  // matches `server_name` (a DNS name, or an IP literal against an IP SAN). A name that cannot
  // be verified (empty, or refused by OpenSSL) leaves the session kFailed from the start.
  TlsSession(const TlsClientContext& ctx, const std::string& server_name, bool verify);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Status : uint8_t { kHandshaking, kReady, kFailed, kClosed };
  // Takes received ciphertext and advances the handshake / decrypts; plaintext is appended
  // to `plain`. Returns the status afterwards.
  Status input(ByteSpan cipher, std::string& plain);
  // Client: starts the handshake (the ClientHello is then waiting in drain()).
  void start_client();
  // Encrypts plaintext (after the handshake).
  void write(std::string_view plain);
  // Ciphertext waiting to be sent is appended to `out`.
  void drain(std::string& out);
  Status status() const { return status_; }
  const TlsInfo& info() const { return info_; }
  const std::string& error() const { return error_; }

 private:
  void fill_info();
  ssl_st* ssl_;
  Status status_ = Status::kHandshaking;
  TlsInfo info_;
  std::string error_;
};

}  // namespace mx::smtp
