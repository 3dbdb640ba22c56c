// tests/unit/control/policy_test.cc — the policy as objects (control/store/policy_store.h) and
// the API's scopes (control/api/api_server.h): changes validated as a node would, a compile
// that round-trips through import, and, for every endpoint of the route table, that a tenant's
// token cannot read or change another tenant's objects.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "control/api/api_server.h"
#include "control/push/push_server.h"
#include "control/store/policy_store.h"
#include "ipc/snapshot.h"
#include "test_store.h"

namespace mx::control {
namespace {

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxpolicy.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = Store::open(test_store(dir_ + "/control.db"));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    policy_ = std::make_unique<PolicyStore>(*store_);
  }
  void TearDown() override {
    api_.reset();
    push_.reset();
    policy_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  void make_tenant(const std::string& name, const std::string& domain) {
    ASSERT_TRUE(policy_->add_tenant(name, "t"));
    ASSERT_TRUE(policy_->add_domain(name, domain, "t"));
    ASSERT_TRUE(policy_->set_tenant(name, {{"route", "198.18.0.2:2525"}}, "t"));
  }
  ApiServer& api() {
    if (!api_) {
      auto p = PushServer::listen(dir_ + "/node.sock", *store_);
      EXPECT_TRUE(p);
      push_ = std::move(*p);
      auto a = ApiServer::listen(dir_ + "/api.sock", *store_, *push_);
      EXPECT_TRUE(a);
      api_ = std::move(*a);
    }
    return *api_;
  }
  HttpResponse request(const std::string& method, const std::string& path, const std::string& token = "",
                       const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = path;
    const size_t q = path.find('?');
    r.path = path.substr(0, q);
    if (q != std::string::npos) {  // name=value&... (the test's values need no decoding)
      std::string rest = path.substr(q + 1);
      while (!rest.empty()) {
        const size_t amp = rest.find('&');
        const std::string pair = rest.substr(0, amp);
        const size_t eq = pair.find('=');
        r.query.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
        rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
      }
    }
    if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
    r.body = body;
    return api().route(r);
  }
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyStore> policy_;
  std::unique_ptr<PushServer> push_;
  std::unique_ptr<ApiServer> api_;
};

TEST_F(PolicyTest, AChangeANodeWouldRefuseIsRefusedWithItsKey) {
  make_tenant("acme", "Acme.Test");
  auto bad = policy_->set_tenant("acme", {{"spam_threshold", "lots"}}, "t");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spam_threshold"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(policy_->set_tenant("acme", {{"action_spam", "explode"}}, "t"));
  EXPECT_FALSE(policy_->set_tenant("acme", {{"route", "not-an-address"}}, "t"));
  EXPECT_FALSE(policy_->set_tenant("acme", {{"spool", "maybe"}}, "t"));
  EXPECT_FALSE(policy_->set_tenant("acme", {{"no_such_key", "1"}}, "t"));
  EXPECT_FALSE(policy_->add_list_entry("acme", ListEntry{"", "allow", "not an entry!"}, "t"));
  EXPECT_FALSE(policy_->add_tenant("bad name", "t"));
  EXPECT_FALSE(policy_->add_tenant("acme", "t"));         // exists
  EXPECT_FALSE(policy_->add_domain("acme", "-x", "t"));  // not a domain
  ASSERT_TRUE(policy_->add_tenant("beta", "t"));
  EXPECT_FALSE(policy_->add_domain("beta", "ACME.test", "t"));           // another tenant's, any case
  EXPECT_FALSE(policy_->add_user("beta", "someone@acme.test", "t"));     // not beta's domain
  // Nothing refused was stored: acme's settings are the route only.
  auto t = policy_->tenant("acme");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->settings.size(), 1u);
  EXPECT_EQ(t->settings[0].first, "route");
  EXPECT_EQ(t->domains, std::vector<std::string>{"acme.test"});
}

// log_retention_days: checked like any setting (1..3650), in effect for control's log purge at
// once (PolicyStore::log_retention), and carried in the compiled document (nodes ignore it).
TEST_F(PolicyTest, ATenantsLogRetentionIsASettingControlReads) {
  make_tenant("acme", "acme.test");
  make_tenant("beta", "beta.test");
  for (const char* bad : {"0", "3651", "-1", "ten", "1.5"}) {
    auto r = policy_->set_tenant("acme", {{"log_retention_days", bad}}, "t");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("log_retention_days"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(policy_->log_retention(90).tenant_days.empty());
  ASSERT_TRUE(policy_->set_tenant("acme", {{"log_retention_days", "30"}}, "t"));
  const LogRetention keep = policy_->log_retention(90);
  EXPECT_EQ(keep.default_days, 90);
  ASSERT_EQ(keep.tenant_days.size(), 1u);
  EXPECT_EQ(keep.tenant_days.at("acme"), 30);
  const Compiled doc = policy_->compile();
  auto snap = ipc::parse_snapshot(doc.document, "compiled", 0);
  ASSERT_TRUE(snap) << snap.error().message;
  bool seen = false;
  for (const ipc::Tenant& t : (*snap)->tenants()) {
    if (t.name == "acme") {
      seen = true;
      EXPECT_EQ(t.log_retention_days, 30u);
    }
  }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(policy_->set_tenant("acme", {{"log_retention_days", ""}}, "t"));  // unset
  EXPECT_TRUE(policy_->log_retention(7).tenant_days.empty());
}

// A pushed document names no rule file: control would read its own files. Refused with 400
// before anything is read or stored; the same document with rules_text is committed.
TEST_F(PolicyTest, APostedSnapshotWithARuleFileIsRefused) {
  const std::string head = "[[tenant]]\nname = \"acme\"\ndomains = [\"acme.test\"]\nroute = \"198.18.0.2:2525\"\n";
  const HttpResponse bad = request("POST", "/v1/snapshot", "", head + "rules = \"/etc/passwd\"\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("send the rules inline"), std::string::npos) << bad.body;
  EXPECT_TRUE(policy_->tenants().empty());
  EXPECT_TRUE(store_->list(10).empty());
  const HttpResponse good = request("POST", "/v1/snapshot", "", head + "rules_text = \"rule r body contains \\\"win\\\" score 1\\n\"\n");
  EXPECT_EQ(good.status, 201) << good.body;
  EXPECT_NE(good.body.find("\"tenants\":1"), std::string::npos) << good.body;
  ASSERT_EQ(store_->list(10).size(), 1u);
  EXPECT_EQ(store_->list(10)[0].tenants, 1u);
}

TEST_F(PolicyTest, CompileLeavesOutIncompleteAndSuspendedTenantsAndValidates) {
  make_tenant("acme", "acme.test");
  ASSERT_TRUE(policy_->add_tenant("nodomain", "t"));
  ASSERT_TRUE(policy_->add_tenant("noroute", "t"));
  ASSERT_TRUE(policy_->add_domain("noroute", "noroute.test", "t"));
  make_tenant("paused", "paused.test");
  ASSERT_TRUE(policy_->suspend_tenant("paused", true, "t"));
  ASSERT_TRUE(policy_->add_user("acme", "Alice@ACME.test", "t"));
  ASSERT_TRUE(policy_->set_user("acme", "Alice@acme.test", {{"spam_action", "reject"}}, "t"));
  ASSERT_TRUE(policy_->add_list_entry("acme", ListEntry{"Alice@acme.test", "block", "spam.example"}, "t"));
  Compiled c = policy_->compile();
  EXPECT_EQ(c.tenants, 1u);
  EXPECT_EQ(c.users, 1u);
  EXPECT_EQ(c.left_out.size(), 3u);
  auto snap = ipc::parse_snapshot(c.document, "compiled", 1);
  ASSERT_TRUE(snap) << snap.error().message << "\n" << c.document;
  ipc::PolicyKey key;
  ASSERT_NE((*snap)->lookup("Alice", "acme.test", key), nullptr);
  ASSERT_GE(key.user, 0);  // the user's own entry (domain stored lower case, local part as written)
  EXPECT_EQ((*snap)->tenant_for_domain("paused.test"), nullptr);
  EXPECT_EQ((*snap)->tenant_for_domain("noroute.test"), nullptr);
}

TEST_F(PolicyTest, ImportReplacesTheObjectsAndExportRoundTrips) {
  make_tenant("old", "old.test");
  const std::string doc =
      "[[tenant]]\nname = \"acme\"\ndomains = [\"acme.test\", \"acme.example\"]\nroute = \"198.18.0.2:2525\"\n"
      "route_tls = \"none\"\nspam_threshold = \"6.0\"\nallow_senders = [\"partner.example\", \"10.1.0.0/16\"]\n"
      "[[tenant]]\nname = \"beta\"\ndomains = [\"beta.test\"]\nroute = \"198.18.0.3\"\nspool = true\n"
      "[[user]]\naddress = \"bob@beta.test\"\nbulk_action = \"quarantine\"\nblock_senders = [\"x@y.example\"]\n";
  auto c = policy_->import_document(doc, "t");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tenants, 2u);
  EXPECT_EQ(c->users, 1u);
  EXPECT_FALSE(policy_->tenant("old"));
  // The compiled document is equivalent to the imported one: object by object, no change.
  auto changes = diff_documents(doc, c->document);
  ASSERT_TRUE(changes);
  for (const PolicyChange& ch : *changes) ADD_FAILURE() << ch.op << " " << ch.object << " " << ch.key;
  // And a change shows up as one.
  ASSERT_TRUE(policy_->set_tenant("beta", {{"spool", "false"}}, "t"));
  changes = diff_documents(c->document, policy_->compile().document);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].object, "tenant beta");
  EXPECT_EQ((*changes)[0].key, "spool");
  EXPECT_EQ((*changes)[0].before, "true");
  EXPECT_EQ((*changes)[0].after, "false");
  // A document that does not validate changes nothing.
  EXPECT_FALSE(policy_->import_document("[[tenant]]\nname = \"x\"\n", "t"));
  EXPECT_TRUE(policy_->tenant("acme"));
}

TEST_F(PolicyTest, TokensAreStoredAsDigestsAndScoped) {
  make_tenant("acme", "acme.test");
  auto op = policy_->create_token("ops", "", "t");
  auto ten = policy_->create_token("acme-admin", "acme", "t");
  ASSERT_TRUE(op && ten);
  EXPECT_FALSE(policy_->create_token("ops", "", "t"));             // name taken
  EXPECT_FALSE(policy_->create_token("x", "nobody", "t"));         // no such tenant
  auto s = policy_->check_token(*op);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->operator_);
  s = policy_->check_token(*ten);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->operator_);
  EXPECT_EQ(s->tenant, "acme");
  std::string wrong = *ten;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_FALSE(policy_->check_token(wrong));
  EXPECT_FALSE(policy_->check_token(""));
  ASSERT_TRUE(policy_->remove_token("acme-admin", "t"));
  EXPECT_FALSE(policy_->check_token(*ten));
  // The secret itself is nowhere in the store.
  std::string all;
  for (const AuditEntry& a : store_->audit_log(1000)) all += a.detail + a.object;
  EXPECT_EQ(all.find(*op), std::string::npos);
}

// For every endpoint in the route table: tenant A's token on tenant B's objects gets 403 or 404
// and changes nothing; lists it may read never show B.
TEST_F(PolicyTest, ATenantTokenNeverReachesAnotherTenant) {
  make_tenant("alpha", "alpha.test");
  make_tenant("beta", "beta.test");
  ASSERT_TRUE(policy_->add_user("beta", "bob@beta.test", "t"));
  ASSERT_TRUE(policy_->add_list_entry("beta", ListEntry{"", "block", "beta-secret.example"}, "t"));
  auto alpha = policy_->create_token("alpha-admin", "alpha", "t");
  auto beta = policy_->create_token("beta-admin", "beta", "t");
  ASSERT_TRUE(alpha && beta);
  ASSERT_EQ(request("POST", "/v1/commit").status, 201);
  const std::string before = policy_->compile().document;
  const size_t audit_before = store_->audit_log(1000).size();
  size_t checked = 0;
  for (const ApiRouteInfo& r : ApiServer::routes()) {
    std::string path = r.pattern;
    auto sub = [&](const std::string& name, const std::string& value) {
      const size_t at = path.find("{" + name + "}");
      if (at != std::string::npos) path.replace(at, name.size() + 2, value);
    };
    sub("tenant", "beta");
    sub("domain", "beta.test");
    sub("user", "bob@beta.test");
    sub("gen", "1");
    sub("token", "beta-admin");
    ASSERT_EQ(path.find('{'), std::string::npos) << "a placeholder the test does not know: " << r.pattern;
    const std::string body = r.method == std::string("GET") ? "" :
        "{\"name\":\"beta\",\"domain\":\"beta.test\",\"address\":\"bob@beta.test\",\"kind\":\"block\","
        "\"entry\":\"beta-secret.example\",\"settings\":{\"spam_threshold\":\"9.0\"},\"tenant\":\"beta\"}";
    const HttpResponse resp = request(r.method, path + "?kind=block&entry=beta-secret.example&tenant=beta", *alpha, body);
    const bool names_tenant = std::string(r.pattern).find("{tenant}") != std::string::npos;
    if (r.access == Access::kOperator) {
      EXPECT_EQ(resp.status, 403) << r.method << " " << r.pattern;
    } else if (names_tenant) {
      EXPECT_EQ(resp.status, 404) << r.method << " " << r.pattern;
    } else {
      // Endpoints without {tenant} answer with the token's own tenant only.
      EXPECT_LT(resp.status, 300) << r.method << " " << r.pattern;
      EXPECT_EQ(resp.body.find("beta"), std::string::npos) << r.method << " " << r.pattern << ": " << resp.body;
    }
    // Beta's own token is not refused on its tenant's endpoints (the scope check is not "refuse all").
    if (r.access == Access::kTenant && names_tenant && r.method == std::string("GET")) {
      const HttpResponse own = request(r.method, path, *beta);
      EXPECT_EQ(own.status, 200) << r.method << " " << r.pattern << ": " << own.body;
    }
    ++checked;
  }
  EXPECT_GE(checked, 30u);
  EXPECT_EQ(policy_->compile().document, before);  // nothing of beta's changed
  EXPECT_EQ(store_->audit_log(1000).size(), audit_before);
  EXPECT_EQ(store_->list(10).size(), 1u);            // no commit, no rollback
}

TEST_F(PolicyTest, UnknownTokensAre401AndTheLocalSocketIsTheOperator) {
  make_tenant("acme", "acme.test");
  EXPECT_EQ(request("GET", "/v1/tenants", "mxg_" + std::string(64, 'a')).status, 401);
  EXPECT_EQ(request("GET", "/v1/tenants", "nonsense").status, 401);
  EXPECT_EQ(request("GET", "/v1/tenants").status, 200);
  EXPECT_EQ(request("PUT", "/v1/tenants").status, 405);
  EXPECT_EQ(request("GET", "/v1/nothing").status, 404);
  EXPECT_EQ(request("POST", "/v1/tenants", "", "not json").status, 400);
  EXPECT_EQ(request("POST", "/v1/tenants", "", "{\"name\":\"acme\"}").status, 409);
  EXPECT_EQ(request("PATCH", "/v1/tenants/acme", "", "{\"settings\":{\"spam_threshold\":[1]}}").status, 400);
  EXPECT_EQ(request("DELETE", "/v1/tenants/nobody").status, 404);
}

// A refused change's status comes from what kind of refusal it is, not from its wording: a bad
// value that happens to read "already" or "exists" is still 400.
TEST_F(PolicyTest, RefusalsAnswerByKind) {
  make_tenant("acme", "acme.test");
  make_tenant("beta", "beta.test");
  EXPECT_EQ(request("POST", "/v1/tenants", "", "{\"name\":\"bad name\"}").status, 400);
  EXPECT_EQ(request("POST", "/v1/tenants/nobody/domains", "", "{\"domain\":\"x.test\"}").status, 404);
  EXPECT_EQ(request("POST", "/v1/tenants/acme/domains", "", "{\"domain\":\"beta.test\"}").status, 409);
  EXPECT_EQ(request("POST", "/v1/tenants/acme/domains", "", "{\"domain\":\"acme.test\"}").status, 409);
  EXPECT_EQ(request("DELETE", "/v1/tenants/acme/domains/other.test").status, 404);
  const std::string entry = "{\"kind\":\"block\",\"entry\":\"spam.example\"}";
  EXPECT_EQ(request("POST", "/v1/tenants/acme/lists", "", entry).status, 201);
  EXPECT_EQ(request("POST", "/v1/tenants/acme/lists", "", entry).status, 409);
  EXPECT_EQ(request("DELETE", "/v1/tenants/acme/lists?kind=block&entry=other.example").status, 404);
  EXPECT_EQ(request("POST", "/v1/tenants/acme/lists", "", "{\"kind\":\"maybe\",\"entry\":\"x.example\"}").status, 400);
  EXPECT_EQ(request("DELETE", "/v1/tokens/nothing").status, 404);
  for (const char* wording : {"already", "exists", "no tenant", "is taken"}) {
    const HttpResponse r = request("PATCH", "/v1/tenants/acme", "",
                                   std::string("{\"settings\":{\"spam_threshold\":\"") + wording + "\"}}");
    EXPECT_EQ(r.status, 400) << wording << ": " << r.body;
  }
}

}  // namespace
}  // namespace mx::control
