// common/tls_channel.h — TLS over a non-blocking socket for the control channel and the control
// API: the OpenSSL contexts both ends use (one policy, in one place) and a connection that steps
// its handshake, reads and writes without ever blocking, for poll loops. mxgate's control link
// (dataplane/control_link.cc) is a client; mxgate-control's node listener (mutual TLS) and its
// HTTPS API are servers (control/push/push_server.cc, control/api/api_server.cc).
//
// The policy: TLS 1.2 at least (1.3 is negotiated whenever both ends have it, OpenSSL's default
// suites); for 1.2 only ECDHE key exchange with AEAD ciphers; no compression (CRIME), no
// renegotiation, no session resumption (no cache, no tickets: every connection verifies the
// peer's certificate afresh, and a server keeps no state between connections). A client always
// verifies the server against its CA file and the expected name (a DNS name, or an IP literal in
// the certificate's IP addresses). A server given a client CA asks for a certificate and refuses
// a connection without one that chains to that CA (SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT); what
// the certificate may name is the caller's to check (peer_has_name).
//
// SECURITY: the handshake parses the peer's untrusted bytes (OpenSSL does). Reads hand out at
// most what the caller asks for, and leave no decrypted bytes inside OpenSSL (each SSL_read is
// given room for a whole record), so the caller's per-round bound is the bound and poll() sees
// every byte still to be read; OpenSSL's automatic retry is off, so a flood of non-data records
// costs one record per call. Handshake deadlines are the caller's (kHandshakeTimeoutMs). Keys
// are loaded once, when a context is made.
// STANDARDS: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 7525 / BCP 195 (the TLS 1.2 suites),
// RFC 6125 (host names in certificates), RFC 5280 (certificate paths).
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/expected.h"

struct ssl_ctx_st;
struct ssl_st;

namespace mx::tls {

constexpr uint64_t kHandshakeTimeoutMs = 10000;  // a peer that has not finished the handshake by then is cut
constexpr int kMaxVerifyDepth = 4;               // CAs allowed between a peer's certificate and the trusted root
constexpr size_t kMaxRecordPlaintext = 16384;    // 2^14: a TLS record's plaintext (RFC 8446 5.1)
constexpr size_t kMaxWriteCall = 1u << 20;       // bytes given to one SSL_write (its length is an int)
constexpr size_t kMaxPeerNameText = 512;         // peer_names(), for logs, cut here
// TLS 1.2: ECDHE with AEAD ciphers only (BCP 195); TLS 1.3 keeps OpenSSL's suites (all AEAD).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

class Context {
 public:
  // A server's: its certificate chain and key (PEM). With `client_ca` (PEM, one or more CA
  // certificates), clients must present a certificate that chains to one of them.
  static Expected<std::shared_ptr<Context>> server(const std::string& cert_file, const std::string& key_file,
                                                   const std::string& client_ca = {});
  // A client's: servers are verified against `ca_file`; `cert_file`/`key_file` (both or neither)
  // are presented when the server asks.
  static Expected<std::shared_ptr<Context>> client(const std::string& ca_file, const std::string& cert_file,
                                                   const std::string& key_file);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ssl_ctx_st* raw() const { return ctx_; }

 private:
  explicit Context(ssl_ctx_st* c) : ctx_(c) {}
  ssl_ctx_st* ctx_;
};

enum class Io {
  kOk,      // done (some bytes moved, or the handshake finished)
  kAgain,   // poll for events() and call again
  kClosed,  // the peer closed (close_notify, or the socket's end)
  kError,   // error() says why; the connection is unusable
};

// One TLS connection over a non-blocking socket that the caller owns (and closes, after the
// Stream is gone or close_notify() was called).
class Stream {
 public:
  // The server side of an accepted socket (null: out of memory).
  static std::unique_ptr<Stream> accept(std::shared_ptr<const Context> ctx, int fd);
  // The client side of a connected socket; `server_name`: what the server's certificate must
  // name (a DNS name, also sent as SNI; or an IPv4/IPv6 literal). Null when it is empty (a
  // server whose name is not checked could be anyone) or cannot be set.
  static std::unique_ptr<Stream> connect(std::shared_ptr<const Context> ctx, int fd, const std::string& server_name);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // One step of the handshake: kOk when it is done (established() from then on).
  Io handshake();
  bool established() const { return established_; }
  // Up to `cap` bytes of data into `buf` (`got`: how many). kOk with got > 0, or kAgain,
  // kClosed, kError. Never leaves decrypted bytes behind in OpenSSL (see SECURITY above).
  Io read(char* buf, size_t cap, size_t& got);
  // Some of `p[0..n)` (`put`: how many, at most one record's worth per call). After kAgain, the
  // next call must start with the same bytes (it may offer more after them).
  Io write(const char* p, size_t n, size_t& put);
  // What to poll for: during the handshake, what OpenSSL waits for; after it, `wanted` (what
  // the caller wants to do) plus what a read or write that could not finish waits for.
  short events(short wanted) const;
  bool read_wants_write() const { return read_want_ == kWantWrite; }
  bool write_wants_read() const { return write_want_ == kWantRead; }
  // Why the last kError (or a refused certificate) happened: OpenSSL's reason, with the
  // certificate check's when that is what failed.
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", once established.
  std::string describe() const;
  // After the handshake: whether the peer's certificate carries `name`, byte for byte, as a DNS
  // subjectAltName or as its subject's commonName. No wildcards, no case folding.
  bool peer_has_name(std::string_view name) const;
  // The names peer_has_name() looks at, printable ASCII only, for logs ("CN=mx1 DNS:mx1").
  std::string peer_names() const;
  // Best effort, never blocks: tells an established peer that we close.
  void close_notify();

 private:
  enum Want { kNone, kWantRead, kWantWrite };
  Stream(std::shared_ptr<const Context> ctx, ssl_st* ssl) : ctx_(std::move(ctx)), ssl_(ssl) {}
  Io fail(int ret, Want& want);

  std::shared_ptr<const Context> ctx_;
  ssl_st* ssl_;
  bool established_ = false;
  bool failed_ = false;
  Want hs_want_ = kWantRead, read_want_ = kNone, write_want_ = kNone;
  std::string error_;
};

// Plain or TLS (tls null: read(2)/send(2) on `fd`), so that each user of a Stream has one code
// path for its socket I/O. `err` is set on kError.
Io read_some(int fd, Stream* tls, char* buf, size_t cap, size_t& got, std::string& err);
Io write_some(int fd, Stream* tls, const char* p, size_t n, size_t& put, std::string& err);

}  // namespace mx::tls
