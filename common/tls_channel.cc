// common/tls_channel.cc — the TLS contexts and non-blocking connections of common/tls_channel.h.
#include "common/tls_channel.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

namespace mx::tls {
namespace {

// OpenSSL's reason for the oldest error queued (the cause; later ones are consequences), and the
// queue emptied: the queue is per thread, and an error left there would be taken for the next
// connection's.
std::string take_ssl_error(const char* fallback) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return fallback;
  const char* reason = ERR_reason_error_string(e);
  if (reason) return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// The socket under SSL: send(2) with MSG_NOSIGNAL and recv(2). OpenSSL's own socket BIO writes
// with write(2), which raises SIGPIPE on a peer that has gone — and mxgate does not ignore
// SIGPIPE (a lost control must never kill the data plane).
int sock_write(BIO* b, const char* p, size_t n, size_t* written) {
  BIO_clear_retry_flags(b);
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
  if (r >= 0) {
    *written = static_cast<size_t>(r);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
  *written = 0;
  return 0;
}

int sock_read(BIO* b, char* buf, size_t n, size_t* got) {
  BIO_clear_retry_flags(b);
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  const ssize_t r = ::recv(fd, buf, n, 0);
  *got = r > 0 ? static_cast<size_t>(r) : 0;
  if (r > 0) return 1;
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
  if (r == 0) errno = 0;  // the peer's end: SSL_ERROR_SYSCALL or ZERO_RETURN with no errno
  return 0;
}

long sock_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // send(2) buffers nothing of ours
}

int sock_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* sock_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mxgate socket");
    BIO_meth_set_write_ex(bm, sock_write);
    BIO_meth_set_read_ex(bm, sock_read);
    BIO_meth_set_ctrl(bm, sock_ctrl);
    BIO_meth_set_create(bm, sock_create);
    return bm;
  }();
  return m;
}

// What both ends share (see the header): versions, suites, groups, no compression, no
// renegotiation, no resumption.
std::optional<Error> apply_policy(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // IGNORE_UNEXPECTED_EOF: a peer that closes without close_notify is a closed connection, as on
  // a plain socket; the protocols on top delimit their messages (frames, Content-Length), so a
  // truncation cannot pass for a whole message.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);  // one record per call: see the header's SECURITY
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return Error{"TLS: cipher list: " + take_ssl_error("refused")};
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) return Error{"TLS: groups: " + take_ssl_error("refused")};
  return std::nullopt;
}

std::optional<Error> use_key_pair(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return Error{"TLS: certificate " + cert_file + ": " + take_ssl_error("cannot be read")};
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Error{"TLS: key " + key_file + ": " + take_ssl_error("cannot be read")};
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Error{"TLS: key " + key_file + " does not match the certificate " + cert_file};
  }
  return std::nullopt;
}

bool is_ip_literal(const std::string& s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
}

// An ASN1 string as UTF-8 (whatever its type), or nullopt.
std::optional<std::string> utf8_of(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return std::nullopt;
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return r;
}

// Every DNS subjectAltName and subject commonName of `cert`, as `fn(kind, value)`.
template <typename Fn>
void for_each_name(X509* cert, Fn fn) {
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = g->d.dNSName;
      fn("DNS", std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<size_t>(ASN1_STRING_length(s))));
    }
    GENERAL_NAMES_free(sans);
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    if (auto v = utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)))) fn("CN", std::string_view(*v));
  }
}

}  // namespace

Expected<std::shared_ptr<Context>> Context::server(const std::string& cert_file, const std::string& key_file,
                                                   const std::string& client_ca) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return Error{"TLS: cannot create a context: " + take_ssl_error("out of memory")};
  std::shared_ptr<Context> c(new Context(raw));
  if (auto err = apply_policy(raw)) return *err;
  if (auto err = use_key_pair(raw, cert_file, key_file)) return *err;
  if (!client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(raw, client_ca.c_str(), nullptr) != 1)
      return Error{"TLS: client CA " + client_ca + ": " + take_ssl_error("cannot be read")};
    // The CA names sent in CertificateRequest, so a client holding several certificates picks
    // the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca.c_str());
    if (!names) return Error{"TLS: client CA " + client_ca + ": " + take_ssl_error("no certificate in it")};
    SSL_CTX_set_client_CA_list(raw, names);
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_verify_depth(raw, kMaxVerifyDepth);
  }
  return c;
}

Expected<std::shared_ptr<Context>> Context::client(const std::string& ca_file, const std::string& cert_file,
                                                   const std::string& key_file) {
  ERR_clear_error();
  if (ca_file.empty()) return Error{"TLS: a CA file to verify the server with is required"};
  if (cert_file.empty() != key_file.empty()) return Error{"TLS: a client certificate and its key go together"};
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (!raw) return Error{"TLS: cannot create a context: " + take_ssl_error("out of memory")};
  std::shared_ptr<Context> c(new Context(raw));
  if (auto err = apply_policy(raw)) return *err;
  if (SSL_CTX_load_verify_locations(raw, ca_file.c_str(), nullptr) != 1)
    return Error{"TLS: CA " + ca_file + ": " + take_ssl_error("cannot be read")};
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(raw, kMaxVerifyDepth);
  if (!cert_file.empty())
    if (auto err = use_key_pair(raw, cert_file, key_file)) return *err;
  return c;
}

Context::~Context() { SSL_CTX_free(ctx_); }

namespace {

// A connection object on `fd` through our socket BIO (MSG_NOSIGNAL writes), or null.
SSL* ssl_on_fd(const Context& ctx, int fd) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.raw());
  BIO* bio = BIO_new(sock_method());
  if (!ssl || !bio) {
    SSL_free(ssl);
    BIO_free(bio);
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  SSL_set_bio(ssl, bio, bio);
  return ssl;
}

}  // namespace

std::unique_ptr<Stream> Stream::accept(std::shared_ptr<const Context> ctx, int fd) {
  SSL* ssl = ssl_on_fd(*ctx, fd);
  if (!ssl) return nullptr;
  SSL_set_accept_state(ssl);
  return std::unique_ptr<Stream>(new Stream(std::move(ctx), ssl));
}

std::unique_ptr<Stream> Stream::connect(std::shared_ptr<const Context> ctx, int fd, const std::string& server_name) {
  if (server_name.empty()) return nullptr;  // a server whose name is not checked is anyone's
  SSL* ssl = ssl_on_fd(*ctx, fd);
  if (!ssl) return nullptr;
  SSL_set_connect_state(ssl);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  bool ok;
  if (is_ip_literal(server_name)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str()) == 1;  // the certificate's IP addresses
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = X509_VERIFY_PARAM_set1_host(param, server_name.data(), server_name.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl, server_name.c_str()) == 1;
  }
  if (!ok) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  return std::unique_ptr<Stream>(new Stream(std::move(ctx), ssl));
}

Stream::~Stream() { SSL_free(ssl_); }

Io Stream::fail(int ret, Want& want) {
  const int saved_errno = errno;
  const int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_WANT_READ) {
    want = kWantRead;
    return Io::kAgain;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want = kWantWrite;
    return Io::kAgain;
  }
  want = kNone;
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && saved_errno == 0)) {
    ERR_clear_error();
    error_ = "closed by the peer";
    return Io::kClosed;
  }
  failed_ = true;  // no close_notify after a fatal error (RFC 8446 6.2)
  if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    error_ = std::strerror(saved_errno);
  } else {
    error_ = take_ssl_error("TLS error");
  }
  const long v = SSL_get_verify_result(ssl_);
  if (v != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  ERR_clear_error();
  return Io::kError;
}

Io Stream::handshake() {
  if (established_) return Io::kOk;
  if (failed_) return Io::kError;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    hs_want_ = kNone;
    return Io::kOk;
  }
  const Io io = fail(r, hs_want_);
  if (io == Io::kClosed) {
    failed_ = true;
    error_ = "closed by the peer during the TLS handshake";
    return Io::kError;
  }
  return io;
}

Io Stream::read(char* buf, size_t cap, size_t& got) {
  got = 0;
  if (failed_) return Io::kError;
  // Another record only while a whole one fits: OpenSSL then never keeps decrypted bytes that
  // poll() cannot announce.
  while (got < cap && (got == 0 || cap - got >= kMaxRecordPlaintext)) {
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_read_ex(ssl_, buf + got, cap - got, &n);
    if (r == 1) {
      got += n;
      read_want_ = kNone;
      continue;
    }
    const Io io = fail(r, read_want_);
    // Bytes already read are delivered first; a close or an error repeats on the next call
    // (OpenSSL stays in that state).
    return got ? Io::kOk : io;
  }
  return Io::kOk;
}

Io Stream::write(const char* p, size_t n, size_t& put) {
  put = 0;
  if (failed_) return Io::kError;
  if (n == 0) return Io::kOk;
  ERR_clear_error();
  const int r = SSL_write_ex(ssl_, p, std::min(n, kMaxWriteCall), &put);
  if (r == 1) {
    write_want_ = kNone;
    return Io::kOk;
  }
  put = 0;
  return fail(r, write_want_);
}

short Stream::events(short wanted) const {
  if (!established_) return hs_want_ == kWantWrite ? POLLOUT : POLLIN;
  short e = wanted;
  if (read_want_ == kWantWrite) e |= POLLOUT;
  if (write_want_ == kWantRead) e |= POLLIN;
  return e;
}

std::string Stream::describe() const {
  if (!established_) return "handshake not finished";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

bool Stream::peer_has_name(std::string_view name) const {
  X509* cert = established_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (!cert || name.empty()) return false;
  bool found = false;
  for_each_name(cert, [&](const char*, std::string_view v) { found = found || v == name; });
  return found;
}

std::string Stream::peer_names() const {
  X509* cert = established_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (!cert) return "(no certificate)";
  std::string out;
  for_each_name(cert, [&](const char* kind, std::string_view v) {
    if (out.size() >= kMaxPeerNameText) return;
    if (!out.empty()) out += ' ';
    out += kind;
    out += kind[0] == 'C' ? '=' : ':';
    for (char ch : v) out += ch >= 0x21 && ch <= 0x7e ? ch : '?';  // the certificate's bytes are the peer's
  });
  if (out.size() > kMaxPeerNameText) out.resize(kMaxPeerNameText);
  return out.empty() ? "(no names)" : out;
}

void Stream::close_notify() {
  if (!established_ || failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one non-blocking attempt; the socket is closed right after
  ERR_clear_error();
}

Io read_some(int fd, Stream* tls, char* buf, size_t cap, size_t& got, std::string& err) {
  got = 0;
  if (tls) {
    const Io io = tls->read(buf, cap, got);
    if (io == Io::kError) err = tls->error();
    return io;
  }
  const ssize_t n = ::recv(fd, buf, cap, 0);
  if (n > 0) {
    got = static_cast<size_t>(n);
    return Io::kOk;
  }
  if (n == 0) return Io::kClosed;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kAgain;
  err = std::strerror(errno);
  return Io::kError;
}

Io write_some(int fd, Stream* tls, const char* p, size_t n, size_t& put, std::string& err) {
  put = 0;
  if (tls) {
    const Io io = tls->write(p, n, put);
    if (io == Io::kError || io == Io::kClosed) err = tls->error();
    return io == Io::kClosed ? Io::kError : io;
  }
  const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
  if (w >= 0) {
    put = static_cast<size_t>(w);
    return Io::kOk;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kAgain;
  err = std::strerror(errno);
  return Io::kError;
}

}  // namespace mx::tls
