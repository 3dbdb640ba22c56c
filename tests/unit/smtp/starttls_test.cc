// tests/unit/smtp/starttls_test.cc — STARTTLS (RFC 3207) with a real OpenSSL client over
// memory BIOs: TLS 1.3 and 1.2, recorded details, a new EHLO required, a second STARTTLS
// refused, plaintext injected behind STARTTLS never read (CVE-2011-0411), handshake deadline,
// old protocols and garbage refused.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>

#include "smtp/connection.h"
#include "tests/unit/smtp/test_cert.h"

namespace mx::smtp {
namespace {

using test::test_cert;

class Recorder final : public ServerHandler {
 public:
  TlsInfo tls;
  int tls_events = 0;
  int rsets = 0;
  std::string refused;
  void on_tls(const TlsInfo& i) override {
    tls = i;
    ++tls_events;
  }
  void on_reset() override { ++rsets; }
  void on_refused(std::string_view what, const Reply& r) override {
    refused += std::string(what) + ":" + std::to_string(r.code) + " ";
  }
};

class Client {
 public:
  explicit Client(int max_version = 0, int min_version = 0) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (min_version) {
      SSL_CTX_set_min_proto_version(ctx_, min_version);
      SSL_CTX_set_security_level(ctx_, 0);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, "mx.test");
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  // Runs the handshake against the connection; true when it completed.
  bool handshake(ServerConnection& c, uint64_t& now) {
    for (int i = 0; i < 20; ++i) {
      int r = SSL_do_handshake(ssl_);
      int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);  // before the server runs
      shuttle(c, now);
      if (r == 1) return true;
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        last_error = std::string(buf) + " e=" + std::to_string(e) + " r=" + std::to_string(r) + " i=" + std::to_string(i);
        return false;
      }
      if (c.wants_close()) {
        last_error = "server closed";
        return false;
      }
    }
    last_error = "handshake did not finish";
    return false;
  }
  std::string exchange(ServerConnection& c, uint64_t& now, const std::string& plain) {
    if (!plain.empty()) SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    shuttle(c, now);
    std::string got;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl_, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    return got;
  }
  std::string version() const { return SSL_get_version(ssl_); }
  std::string last_error;

 private:
  void shuttle(ServerConnection& c, uint64_t& now) {
    for (int round = 0; round < 4; ++round) {
      char buf[16384];
      int n;
      while ((n = BIO_read(SSL_get_wbio(ssl_), buf, sizeof buf)) > 0)
        c.feed(ByteSpan(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)), Tick{++now});
      std::string_view out = c.output();
      if (!out.empty()) BIO_write(SSL_get_rbio(ssl_), out.data(), static_cast<int>(out.size()));
      c.consume_output(out.size());
    }
  }
  SSL_CTX* ctx_;
  SSL* ssl_;
};

class StartTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ctx = TlsServerContext::load(test_cert().cert, test_cert().key);
    ASSERT_TRUE(ctx) << ctx.error().message;
    tls = *ctx;
    conn = std::make_unique<ServerConnection>(cfg, tls, h);
    conn->start(Tick{now});
  }
  std::string plain(const std::string& in) {
    conn->feed(ByteSpan(reinterpret_cast<const uint8_t*>(in.data()), in.size()), Tick{++now});
    std::string out(conn->output());
    conn->consume_output(out.size());
    return out;
  }
  ServerConfig cfg{"mx.test"};
  std::shared_ptr<const TlsServerContext> tls;
  Recorder h;
  std::unique_ptr<ServerConnection> conn;
  uint64_t now = 1;
};

TEST_F(StartTls, FullTransactionOverTls13) {
  EXPECT_NE(plain("").find("220 mx.test"), std::string::npos);
  EXPECT_NE(plain("EHLO c.example\r\n").find("250-STARTTLS"), std::string::npos);
  EXPECT_EQ(plain("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  Client c;
  ASSERT_TRUE(c.handshake(*conn, now)) << c.last_error << " / server: " << conn->tls_error();
  EXPECT_EQ(c.version(), "TLSv1.3");
  ASSERT_NE(conn->tls_info(), nullptr);
  EXPECT_EQ(h.tls_events, 1);
  EXPECT_EQ(h.tls.protocol, "TLSv1.3");
  EXPECT_FALSE(h.tls.cipher.empty());
  EXPECT_EQ(h.tls.sni, "mx.test");
  EXPECT_EQ(std::count(h.tls.fingerprint.begin(), h.tls.fingerprint.end(), ','), 4) << h.tls.fingerprint;
  EXPECT_EQ(h.tls.fingerprint.rfind("771,", 0), 0u) << "legacy_version 0x0303";
  EXPECT_EQ(h.tls.fingerprint_md5.size(), 32u);
  // RFC 3207 4.2: the session starts over; STARTTLS is no longer offered.
  EXPECT_EQ(c.exchange(*conn, now, "MAIL FROM:<a@example.net>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  std::string ehlo = c.exchange(*conn, now, "EHLO c.example\r\n");
  EXPECT_NE(ehlo.find("250 DSN"), std::string::npos);
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(c.exchange(*conn, now, "STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n");
  EXPECT_EQ(c.exchange(*conn, now, "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(c.exchange(*conn, now, "Subject: tls\r\n\r\nhi\r\n.\r\nQUIT\r\n"), "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
  EXPECT_TRUE(conn->wants_close());
}

TEST_F(StartTls, Tls12IsAccepted) {
  plain("EHLO c.example\r\n");
  plain("STARTTLS\r\n");
  plain("");
  Client c(TLS1_2_VERSION);
  plain("");  // nothing queued
  ASSERT_TRUE(c.handshake(*conn, now));
  EXPECT_EQ(h.tls.protocol, "TLSv1.2");
}

TEST_F(StartTls, PlaintextInjectedBehindStarttlsIsNeverRead) {
  plain("EHLO c.example\r\n");
  // An attacker appends a command to the client's STARTTLS in the same segment.
  EXPECT_EQ(plain("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  Client c;
  ASSERT_TRUE(c.handshake(*conn, now)) << c.last_error;
  // Had the injected MAIL been executed, this RCPT would be accepted (and a 250 for the MAIL
  // would come first). The first reply inside TLS answers the client's own commands only.
  EXPECT_NE(c.exchange(*conn, now, "EHLO c.example\r\n").find("250 DSN"), std::string::npos);
  EXPECT_EQ(c.exchange(*conn, now, "RCPT TO:<b@example.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST_F(StartTls, RefusedOutOfPlace) {
  plain("EHLO c.example\r\n");
  EXPECT_EQ(plain("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  plain("MAIL FROM:<a@example.net>\r\n");
  EXPECT_EQ(plain("STARTTLS\r\n"), "503 5.5.1 Error: MAIL transaction in progress\r\n");
  ServerConnection fresh(cfg, tls, h);
  fresh.start(Tick{now});
  fresh.consume_output(fresh.output().size());
  std::string s = "STARTTLS\r\n";
  fresh.feed(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()), Tick{now});
  EXPECT_EQ(std::string(fresh.output()), "503 5.5.1 Error: send EHLO first\r\n");
}

TEST_F(StartTls, HandshakeDeadline) {
  plain("EHLO c.example\r\n");
  plain("STARTTLS\r\n");
  conn->tick(Tick{now + kTlsHandshakeTimeoutNs - 1});
  EXPECT_FALSE(conn->wants_close());
  conn->tick(Tick{now + kTlsHandshakeTimeoutNs + 1});
  EXPECT_TRUE(conn->wants_close());
  EXPECT_NE(h.refused.find("tls:421"), std::string::npos);
}

TEST_F(StartTls, GarbageInsteadOfClientHelloCloses) {
  plain("EHLO c.example\r\n");
  plain("STARTTLS\r\n");
  plain("MAIL FROM:<a@example.net>\r\n");  // plaintext after the 220: not TLS
  EXPECT_TRUE(conn->wants_close());
  EXPECT_FALSE(conn->tls_error().empty());
}

TEST_F(StartTls, OldProtocolsAreRefused) {
  plain("EHLO c.example\r\n");
  plain("STARTTLS\r\n");
  Client c(TLS1_1_VERSION, TLS1_VERSION);
  EXPECT_FALSE(c.handshake(*conn, now));
  EXPECT_TRUE(conn->wants_close());
}

TEST(TlsContext, BadFilesAreNamedInTheError) {
  auto c = TlsServerContext::load("/nonexistent/cert.pem", "/nonexistent/key.pem");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("/nonexistent/cert.pem"), std::string::npos);
  auto k = TlsServerContext::load(test_cert().cert, test_cert().cert);  // a certificate is not a key
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("key"), std::string::npos);
}

}  // namespace
}  // namespace mx::smtp
