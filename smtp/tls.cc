// smtp/tls.cc
#include "smtp/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>

namespace mx::smtp {
namespace {

std::string last_ssl_error() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return e ? buf : "unknown error";
}

// ex_data slot where the client-hello callback leaves the fingerprint for the session.
int fingerprint_slot() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                              [](void*, void* p, CRYPTO_EX_DATA*, int, long, void*) {
                                                delete static_cast<std::string*>(p);
                                              });
  return idx;
}

bool is_grease(unsigned v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// JA3 layout: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats, each
// list dash-separated in decimal, GREASE values left out.
int client_hello_cb(SSL* ssl, int*, void*) {
  std::string fp = std::to_string(SSL_client_hello_get0_legacy_version(ssl)) + ",";
  const unsigned char* p = nullptr;
  size_t n = SSL_client_hello_get0_ciphers(ssl, &p);
  std::string list;
  for (size_t i = 0; i + 1 < n; i += 2) {
    unsigned v = (p[i] << 8) | p[i + 1];
    if (!is_grease(v)) list += (list.empty() ? "" : "-") + std::to_string(v);
  }
  fp += list + ",";
  int* exts = nullptr;
  size_t next = 0;
  list.clear();
  if (SSL_client_hello_get1_extensions_present(ssl, &exts, &next) == 1) {
    for (size_t i = 0; i < next; ++i)
      if (!is_grease(static_cast<unsigned>(exts[i]))) list += (list.empty() ? "" : "-") + std::to_string(exts[i]);
    OPENSSL_free(exts);
  }
  fp += list + ",";
  list.clear();
  if (SSL_client_hello_get0_ext(ssl, 10, &p, &n) == 1 && n >= 2) {  // supported_groups
    for (size_t i = 2; i + 1 < n; i += 2) {
      unsigned v = (p[i] << 8) | p[i + 1];
      if (!is_grease(v)) list += (list.empty() ? "" : "-") + std::to_string(v);
    }
  }
  fp += list + ",";
  list.clear();
  if (SSL_client_hello_get0_ext(ssl, 11, &p, &n) == 1 && n >= 1) {  // ec_point_formats
    for (size_t i = 1; i < n; ++i) list += (list.empty() ? "" : "-") + std::to_string(p[i]);
  }
  fp += list;
  delete static_cast<std::string*>(SSL_get_ex_data(ssl, fingerprint_slot()));
  SSL_set_ex_data(ssl, fingerprint_slot(), new std::string(std::move(fp)));
  return SSL_CLIENT_HELLO_SUCCESS;
}

std::string md5_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr)) return "";
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

}  // namespace

Expected<std::shared_ptr<TlsServerContext>> TlsServerContext::load(const std::string& cert_file,
                                                                  const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Error{"TLS: cannot create context: " + last_ssl_error()};
  std::shared_ptr<TlsServerContext> c(new TlsServerContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return Error{"TLS: certificate " + cert_file + ": " + last_ssl_error()};
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Error{"TLS: key " + key_file + ": " + last_ssl_error()};
  if (SSL_CTX_check_private_key(ctx) != 1) return Error{"TLS: key " + key_file + " does not match " + cert_file};
  SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, nullptr);
  return c;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

Expected<std::shared_ptr<TlsClientContext>> TlsClientContext::create(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Error{"TLS: cannot create client context: " + last_ssl_error()};
  std::shared_ptr<TlsClientContext> c(new TlsClientContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (ok != 1) return Error{"TLS: trust store " + (ca_file.empty() ? std::string("(system)") : ca_file) + ": " + last_ssl_error()};
  return c;
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

namespace {
bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

TlsSession::TlsSession(const TlsClientContext& ctx, const std::string& server_name, bool verify)
    : ssl_(SSL_new(ctx.raw())) {
  SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_connect_state(ssl_);
  // RFC 6066 3: SNI carries a host name, never an address literal.
  const bool literal = is_ip_literal(server_name);
  if (!server_name.empty() && !literal) {
    SSL_set_tlsext_host_name(ssl_, server_name.c_str());
    info_.sni = server_name;
  }
  if (verify) {
    SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // The certificate must match the name (DNS SAN) or the address literal (IP SAN); a name
    // that cannot be set up fails the session before a byte is sent, never verifies nothing.
    const int ok = server_name.empty() ? 0
                   : literal           ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str())
                                       : SSL_set1_host(ssl_, server_name.c_str());
    if (ok != 1) {
      status_ = Status::kFailed;
      error_ = server_name.empty() ? "no TLS name to verify the server's certificate against"
                                   : "cannot verify against '" + server_name + "'";
    }
  }
}

void TlsSession::start_client() {
  std::string none;
  input(ByteSpan{}, none);
}

TlsSession::TlsSession(const TlsServerContext& ctx) : ssl_(SSL_new(ctx.raw())) {
  SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Status TlsSession::input(ByteSpan cipher, std::string& plain) {
  if (status_ == Status::kFailed || status_ == Status::kClosed) return status_;
  if (!cipher.empty()) BIO_write(SSL_get_rbio(ssl_), cipher.data(), static_cast<int>(cipher.size()));
  if (status_ == Status::kHandshaking) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return status_;
      error_ = last_ssl_error();
      return status_ = Status::kFailed;
    }
    status_ = Status::kReady;
    fill_info();
  }
  char buf[16384];
  while (true) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plain.append(buf, static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) return status_ = Status::kClosed;
    error_ = last_ssl_error();
    return status_ = Status::kFailed;
  }
  return status_;
}

void TlsSession::write(std::string_view plain) {
  while (!plain.empty() && status_ == Status::kReady) {
    int n = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (n <= 0) {
      error_ = last_ssl_error();
      status_ = Status::kFailed;
      return;
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
}

void TlsSession::drain(std::string& out) {
  char buf[16384];
  int n;
  while ((n = BIO_read(SSL_get_wbio(ssl_), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
}

void TlsSession::fill_info() {
  info_.protocol = SSL_get_version(ssl_);
  info_.cipher = SSL_get_cipher_name(ssl_);
  if (SSL_is_server(ssl_)) {
    const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    info_.sni = sni ? sni : "";
  }
  if (auto* fp = static_cast<std::string*>(SSL_get_ex_data(ssl_, fingerprint_slot()))) {
    info_.fingerprint = *fp;
    info_.fingerprint_md5 = md5_hex(*fp);
  }
}

}  // namespace mx::smtp
