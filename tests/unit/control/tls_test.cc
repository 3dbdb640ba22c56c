// tests/unit/control/tls_test.cc — mxgate-control's TCP listeners with real OpenSSL and real
// sockets on 127.0.0.1 (ephemeral ports): a throwaway PKI is made at test time (a CA, control's
// server certificate, node client certificates, and a second CA that control does not trust).
// Nodes over mutual TLS: a good certificate completes hello and receives the current snapshot;
// no certificate, a certificate of another CA, or a hello name the certificate does not carry
// are refused; a client that opens TCP and sends nothing is cut at the handshake deadline. The
// node's side of the check: a control certificate that does not carry the expected name is
// refused by the client context mxgate uses. The API over HTTPS: a token gets 200, no token 401
// (the Unix socket's "no credentials = operator" does not apply), plain HTTP on the TLS port is
// closed without harm, no Server banner; the same deadline for a silent client.
//
// Each test runs the servers' poll loop and its clients (non-blocking, common/tls_channel.h —
// what mxgate's control link uses) in one thread, so nothing races and nothing sleeps.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/tls_channel.h"
#include "control/api/api_server.h"
#include "control/push/push_server.h"
#include "control/store/policy_store.h"
#include "ipc/frame.h"
#include "test_store.h"

namespace mx::control {
namespace {

constexpr int kPumpMs = 5000;             // a condition not met by then counts as failed
constexpr uint64_t kTestHandshakeMs = 300;  // the deadline the tests give the servers

// ---- a throwaway PKI (OpenSSL's APIs; EC P-256 keys) ----

struct KeyPair {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~KeyPair() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(e, nullptr) << value;
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

// A certificate for `cn`, signed by `issuer` (null: self-signed, a CA). `sans`: the
// subjectAltName value ("DNS:a,IP:127.0.0.1"; empty: none); `eku`: serverAuth or clientAuth.
std::unique_ptr<KeyPair> make_cert(const std::string& cn, const KeyPair* issuer, const std::string& sans,
                                   const char* eku) {
  auto kp = std::make_unique<KeyPair>();
  kp->key = EVP_EC_gen("P-256");
  X509* x = kp->cert = X509_new();
  static long serial = 1;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, kp->key);
  X509_NAME* n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : n);
  if (!issuer) {
    add_ext(x, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x, nullptr, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x, issuer->cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer->cert, NID_key_usage, "critical,digitalSignature");
    add_ext(x, issuer->cert, NID_ext_key_usage, eku);
    add_ext(x, issuer->cert, NID_authority_key_identifier, "keyid");
    if (!sans.empty()) add_ext(x, issuer->cert, NID_subject_alt_name, sans.c_str());
  }
  X509_sign(x, issuer ? issuer->key : kp->key, EVP_sha256());
  return kp;
}

void write_pem(const std::string& dir, const std::string& name, const KeyPair& kp) {
  FILE* f = std::fopen((dir + "/" + name + ".crt").c_str(), "w");
  PEM_write_X509(f, kp.cert);
  std::fclose(f);
  f = std::fopen((dir + "/" + name + ".key").c_str(), "w");
  PEM_write_PrivateKey(f, kp.key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// ---- a non-blocking test client over TCP (TLS when given a context) ----

struct Client {
  int fd = -1;
  std::unique_ptr<tls::Stream> tls;
  std::string out, in, error;
  bool closed = false;

  Client(uint16_t port, std::shared_ptr<const tls::Context> ctx, const std::string& server_name) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
    if (ctx) tls = tls::Stream::connect(std::move(ctx), fd, server_name);
  }
  ~Client() {
    tls.reset();
    if (fd >= 0) ::close(fd);
  }
  // Past the TCP connect (connected, or failed: the read below then says so).
  bool connected() const {
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  // Whatever can be done now without blocking: the handshake, writing `out`, reading into `in`.
  void step() {
    if (closed || !connected()) return;
    if (tls && !tls->established()) {
      const tls::Io io = tls->handshake();
      if (io == tls::Io::kError) {
        closed = true;
        error = tls->error();
      }
      if (io != tls::Io::kOk) return;
    }
    while (!out.empty()) {
      size_t n = 0;
      const tls::Io io = tls::write_some(fd, tls.get(), out.data(), out.size(), n, error);
      if (io == tls::Io::kAgain) break;
      if (io != tls::Io::kOk) {
        closed = true;
        return;
      }
      out.erase(0, n);
    }
    char buf[65536];
    while (true) {
      size_t n = 0;
      const tls::Io io = tls::read_some(fd, tls.get(), buf, sizeof buf, n, error);
      if (io == tls::Io::kAgain) return;
      if (io != tls::Io::kOk) {
        closed = true;
        return;
      }
      in.append(buf, n);
    }
  }
};

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxtls.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ca_ = make_cert("mxgate test CA", nullptr, "", nullptr);
    rogue_ca_ = make_cert("another CA", nullptr, "", nullptr);
    auto control = make_cert("control.test", ca_.get(), "DNS:control.test,IP:127.0.0.1", "serverAuth");
    auto node = make_cert("lab-1", ca_.get(), "DNS:lab-1", "clientAuth");
    auto cn_only = make_cert("cn-node", ca_.get(), "", "clientAuth");
    auto rogue = make_cert("lab-1", rogue_ca_.get(), "DNS:lab-1", "clientAuth");
    write_pem(dir_, "ca", *ca_);
    write_pem(dir_, "control", *control);
    write_pem(dir_, "node", *node);
    write_pem(dir_, "cn-only", *cn_only);
    write_pem(dir_, "rogue", *rogue);
    auto s = Store::open(test_store(dir_ + "/control.db"));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto p = PushServer::listen(dir_ + "/node.sock", *store_, PushLimits{10000, kTestHandshakeMs});
    ASSERT_TRUE(p) << p.error().message;
    push_ = std::move(*p);
    auto node_ctx = tls::Context::server(f("control.crt"), f("control.key"), f("ca.crt"));
    ASSERT_TRUE(node_ctx) << node_ctx.error().message;
    auto port = push_->listen_tls("127.0.0.1:0", *node_ctx);
    ASSERT_TRUE(port) << port.error().message;
    node_port_ = *port;
    auto a = ApiServer::listen(dir_ + "/api.sock", *store_, *push_, ApiLimits{30000, kTestHandshakeMs});
    ASSERT_TRUE(a) << a.error().message;
    api_ = std::move(*a);
    auto api_ctx = tls::Context::server(f("control.crt"), f("control.key"));
    ASSERT_TRUE(api_ctx) << api_ctx.error().message;
    port = api_->listen_tls("127.0.0.1:0", *api_ctx);
    ASSERT_TRUE(port) << port.error().message;
    api_port_ = *port;
  }
  void TearDown() override {
    clients_.clear();
    api_.reset();
    push_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  std::string f(const std::string& name) const { return dir_ + "/" + name; }
  std::shared_ptr<const tls::Context> client_ctx(const std::string& cert) {
    auto c = cert.empty() ? tls::Context::client(f("ca.crt"), "", "")
                          : tls::Context::client(f("ca.crt"), f(cert + ".crt"), f(cert + ".key"));
    EXPECT_TRUE(c) << c.error().message;
    return c ? *c : nullptr;
  }
  Client& client(uint16_t port, std::shared_ptr<const tls::Context> ctx, const std::string& name = "control.test") {
    clients_.push_back(std::make_unique<Client>(port, std::move(ctx), name));
    return *clients_.back();
  }
  // Runs both servers and every client until `done` (or kPumpMs).
  bool pump_until(const std::function<bool()>& done) {
    const uint64_t until = now_ms() + kPumpMs;
    while (now_ms() < until) {
      for (auto& c : clients_) c->step();
      if (done()) return true;
      std::vector<pollfd> fds;
      push_->fill(fds);
      const size_t split = fds.size();
      api_->fill(fds);
      ::poll(fds.data(), fds.size(), 5);
      push_->handle(std::vector<pollfd>(fds.begin(), fds.begin() + static_cast<ptrdiff_t>(split)));
      api_->handle(std::vector<pollfd>(fds.begin() + static_cast<ptrdiff_t>(split), fds.end()));
      push_->sweep();
      api_->sweep();
    }
    return done();
  }
  // The frames a node client received.
  static std::vector<std::pair<ipc::FrameHeader, std::string>> frames(const Client& c) {
    ipc::FrameReader r(ipc::kNodeAccepts);
    std::vector<std::pair<ipc::FrameHeader, std::string>> out;
    size_t used = 0;
    while (used < c.in.size() && !r.failed()) {
      used += r.feed(ByteSpan(reinterpret_cast<const uint8_t*>(c.in.data()) + used, c.in.size() - used));
      ipc::FrameHeader h;
      std::string_view payload;
      while (r.next(h, payload)) out.emplace_back(h, std::string(payload));
    }
    return out;
  }
  bool node_connected(const std::string& name) {
    for (const NodeState& n : store_->nodes())
      if (n.name == name && n.state == "connected") return true;
    return false;
  }
  static std::string request(const std::string& auth, bool close = true) {
    return "GET /v1/status HTTP/1.1\r\nHost: control.test\r\n" + (auth.empty() ? "" : "Authorization: " + auth + "\r\n") +
           (close ? "Connection: close\r\n" : "") + "\r\n";
  }

  std::string dir_;
  std::unique_ptr<KeyPair> ca_, rogue_ca_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PushServer> push_;
  std::unique_ptr<ApiServer> api_;
  uint16_t node_port_ = 0, api_port_ = 0;
  std::vector<std::unique_ptr<Client>> clients_;
};

// ---- nodes over mutual TLS ----

TEST_F(TlsTest, NodeWithAGoodCertificateSaysHelloAndGetsTheCurrentSnapshot) {
  auto g = store_->commit("# generation one\n", "test", "", 0, 0);
  ASSERT_TRUE(g) << g.error().message;
  push_->publish(*g, "# generation one\n");
  Client& c = client(node_port_, client_ctx("node"));
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  ASSERT_TRUE(pump_until([&] { return !frames(c).empty() || c.closed; })) << c.error;
  const auto got = frames(c);
  ASSERT_EQ(got.size(), 1u) << c.error;
  EXPECT_EQ(got[0].first.type, ipc::FrameType::kSnapshot);
  EXPECT_EQ(got[0].first.seq, *g);
  EXPECT_EQ(got[0].second, "# generation one\n");
  EXPECT_EQ(push_->connected(), 1u);
  EXPECT_TRUE(node_connected("lab-1"));
  EXPECT_FALSE(c.closed);
  ASSERT_NE(c.tls, nullptr);
  EXPECT_EQ(c.tls->describe().rfind("TLSv1.3 ", 0), 0u) << c.tls->describe();
  // The ACK goes the same way, and is recorded.
  c.out = ipc::encode_frame(ipc::FrameType::kAck, *g, "");
  EXPECT_TRUE(pump_until([&] {
    for (const NodeState& n : store_->nodes())
      if (n.name == "lab-1" && n.generation == *g) return true;
    return false;
  }));
}

TEST_F(TlsTest, ACommonNameWithoutSubjectAltNamesNamesTheNode) {
  Client& c = client(node_port_, client_ctx("cn-only"));
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "cn-node");
  EXPECT_TRUE(pump_until([&] { return node_connected("cn-node"); })) << c.error;
  EXPECT_FALSE(c.closed);
}

TEST_F(TlsTest, ANodeWithoutACertificateIsRefused) {
  Client& c = client(node_port_, client_ctx(""));
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_TRUE(frames(c).empty());
  EXPECT_EQ(push_->connected(), 0u);
  EXPECT_FALSE(node_connected("lab-1"));
  EXPECT_NE(c.error.find("certificate"), std::string::npos) << c.error;  // the server's alert
}

TEST_F(TlsTest, ACertificateOfAnotherCaIsRefused) {
  Client& c = client(node_port_, client_ctx("rogue"));
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_TRUE(frames(c).empty());
  EXPECT_EQ(push_->connected(), 0u);
  EXPECT_FALSE(node_connected("lab-1"));
}

TEST_F(TlsTest, AHelloNameTheCertificateDoesNotCarryIsRefused) {
  Client& c = client(node_port_, client_ctx("node"));  // a certificate for lab-1
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-2");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(push_->connected(), 0u);
  EXPECT_FALSE(node_connected("lab-2"));
  // No case folding, no prefix: "LAB-1" and "lab-" are other names.
  for (const char* name : {"LAB-1", "lab-"}) {
    Client& d = client(node_port_, client_ctx("node"));
    d.out = ipc::encode_frame(ipc::FrameType::kHello, 0, name);
    ASSERT_TRUE(pump_until([&] { return d.closed; })) << name;
    EXPECT_EQ(push_->connected(), 0u) << name;
  }
}

TEST_F(TlsTest, GarbageAfterTheHandshakeEndsTheConnection) {
  Client& c = client(node_port_, client_ctx("node"));
  c.out = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(100000, 'x');
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(push_->connected(), 0u);
}

TEST_F(TlsTest, ASilentTcpClientIsCutAtTheHandshakeDeadline) {
  const uint64_t t0 = now_ms();
  Client& c = client(node_port_, nullptr, "");  // plain TCP that never speaks
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  const uint64_t took = now_ms() - t0;
  EXPECT_GE(took, kTestHandshakeMs);
  EXPECT_LT(took, 3 * kTestHandshakeMs + 1000);
  // And the listener still takes nodes.
  Client& d = client(node_port_, client_ctx("node"));
  d.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  EXPECT_TRUE(pump_until([&] { return node_connected("lab-1"); })) << d.error;
}

TEST_F(TlsTest, TheNodeRefusesAControlWhoseCertificateDoesNotCarryTheExpectedName) {
  Client& c = client(node_port_, client_ctx("node"), "other.test");
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_NE(c.error.find("hostname mismatch"), std::string::npos) << c.error;
  EXPECT_FALSE(node_connected("lab-1"));
  // The IP literal is checked against the certificate's IP addresses.
  Client& d = client(node_port_, client_ctx("node"), "127.0.0.1");
  d.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  EXPECT_TRUE(pump_until([&] { return node_connected("lab-1"); })) << d.error;
  Client& e = client(node_port_, client_ctx("node"), "127.0.0.2");
  ASSERT_TRUE(pump_until([&] { return e.closed; }));
  EXPECT_NE(e.error.find("mismatch"), std::string::npos) << e.error;
}

TEST_F(TlsTest, Tls12IsEcdheWithAeadAndOlderVersionsAreRefused) {
  auto v12 = tls::Context::client(f("ca.crt"), f("node.crt"), f("node.key"));
  ASSERT_TRUE(v12) << v12.error().message;
  SSL_CTX_set_max_proto_version((*v12)->raw(), TLS1_2_VERSION);
  Client& c = client(node_port_, *v12);
  c.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-1");
  ASSERT_TRUE(pump_until([&] { return node_connected("lab-1"); })) << c.error;
  EXPECT_EQ(c.tls->describe().rfind("TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384", 0), 0u) << c.tls->describe();

  // A client that offers TLS 1.1 at most (with suites it has, at the lowest security level).
  auto v11 = tls::Context::client(f("ca.crt"), f("node.crt"), f("node.key"));
  ASSERT_TRUE(v11) << v11.error().message;
  SSL_CTX_set_security_level((*v11)->raw(), 0);
  SSL_CTX_set_min_proto_version((*v11)->raw(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version((*v11)->raw(), TLS1_1_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list((*v11)->raw(), "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"), 1);
  Client& old = client(node_port_, *v11);
  old.out = ipc::encode_frame(ipc::FrameType::kHello, 0, "lab-2");
  ASSERT_TRUE(pump_until([&] { return old.closed; }));
  EXPECT_FALSE(old.tls->established());
  EXPECT_FALSE(node_connected("lab-2"));
}

TEST_F(TlsTest, ClientContextsNeedACaAndMatchingFiles) {
  EXPECT_FALSE(tls::Context::client("", "", ""));
  EXPECT_FALSE(tls::Context::client(f("ca.crt"), f("node.crt"), ""));
  EXPECT_FALSE(tls::Context::client(f("ca.crt"), f("node.crt"), f("rogue.key")));  // not its key
  EXPECT_FALSE(tls::Context::server(f("control.crt"), f("control.key"), f("missing.crt")));
}

// ---- the API over HTTPS ----

TEST_F(TlsTest, HttpsWithATokenIs200AndWithoutIs401) {
  PolicyStore policy(*store_);
  auto token = policy.create_token("ops", "", "test");
  ASSERT_TRUE(token) << token.error().message;
  Client& ok = client(api_port_, client_ctx(""));
  ok.out = request("Bearer " + *token);
  ASSERT_TRUE(pump_until([&] { return ok.closed; }));
  EXPECT_EQ(ok.in.rfind("HTTP/1.1 200 ", 0), 0u) << ok.in;
  EXPECT_NE(ok.in.find("\"generation\":"), std::string::npos) << ok.in;
  EXPECT_EQ(ok.in.find("\r\nServer:"), std::string::npos) << "no version banner";

  Client& none = client(api_port_, client_ctx(""));
  none.out = request("");
  ASSERT_TRUE(pump_until([&] { return none.closed; }));
  EXPECT_EQ(none.in.rfind("HTTP/1.1 401 ", 0), 0u) << none.in;
  EXPECT_NE(none.in.find("WWW-Authenticate: Bearer"), std::string::npos) << none.in;

  Client& bad = client(api_port_, client_ctx(""));
  bad.out = request("Bearer mxg_0000");
  ASSERT_TRUE(pump_until([&] { return bad.closed; }));
  EXPECT_EQ(bad.in.rfind("HTTP/1.1 401 ", 0), 0u) << bad.in;

  // Without credentials nothing is reachable, not even a 404 that would tell what exists.
  Client& probe = client(api_port_, client_ctx(""));
  probe.out = "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(pump_until([&] { return probe.closed; }));
  EXPECT_EQ(probe.in.rfind("HTTP/1.1 401 ", 0), 0u) << probe.in;
}

TEST_F(TlsTest, HttpsKeepsOneRequestAtATimeOnAConnection) {
  PolicyStore policy(*store_);
  auto token = policy.create_token("ops", "", "test");
  ASSERT_TRUE(token) << token.error().message;
  Client& c = client(api_port_, client_ctx(""));
  c.out = request("Bearer " + *token, false) + request("", false) + request("Bearer " + *token, true);
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  size_t n200 = 0, n401 = 0;
  for (size_t p = c.in.find("HTTP/1.1 "); p != std::string::npos; p = c.in.find("HTTP/1.1 ", p + 1)) {
    n200 += c.in.compare(p, 12, "HTTP/1.1 200") == 0;
    n401 += c.in.compare(p, 12, "HTTP/1.1 401") == 0;
  }
  EXPECT_EQ(n200, 2u) << c.in;
  EXPECT_EQ(n401, 1u) << c.in;
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsClosed) {
  Client& c = client(api_port_, nullptr, "");
  c.out = request("");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(c.in.find("HTTP/1.1 200"), std::string::npos) << c.in;
  // The server is unharmed: HTTPS still answers.
  Client& d = client(api_port_, client_ctx(""));
  d.out = request("");
  ASSERT_TRUE(pump_until([&] { return d.closed; }));
  EXPECT_EQ(d.in.rfind("HTTP/1.1 401 ", 0), 0u) << d.in;
}

TEST_F(TlsTest, ASilentHttpsClientIsCutAtTheHandshakeDeadline) {
  const uint64_t t0 = now_ms();
  Client& c = client(api_port_, nullptr, "");
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  const uint64_t took = now_ms() - t0;
  EXPECT_GE(took, kTestHandshakeMs);
  EXPECT_LT(took, 3 * kTestHandshakeMs + 1000);
}

TEST_F(TlsTest, TheUnixSocketStaysTheOperatorsWithoutCredentials) {
  HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/v1/status";
  EXPECT_EQ(api_->route(r).status, 200);
}

}  // namespace
}  // namespace mx::control
