// tests/unit/ipc/snapshot_test.cc — the tenant snapshot: lookups, policies, and every
// error naming file:line and key.
#include "ipc/snapshot.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace mx::ipc {
namespace {

const char* kTwo = R"(
[[tenant]]
name = "example"
domains = ["Example.TEST", "example.org"]
route = "198.18.0.1:2526"
route_tls = "required"
route_tls_name = "MX1.Example.test"
spool = true
spam_threshold = "4.5"
action_spam = "quarantine"
action_bulk = "deliver"
subject_tag = "[JUNK]"
allow_senders = ["boss@partner.test", "partner.test", "198.18.7.0/24", "198.18.9.9"]
block_senders = ["spammer.test"]
max_message_size = 1048576

[[user]]
address = "Bob@EXAMPLE.test"
spam_threshold = "2"
spam_action = "reject"

[[tenant]]
name = "second"
domains = ["second.test"]
route = "198.18.0.1"
)";

TEST(Tenants, ParsesTenantsUsersAndPolicies) {
  auto s = parse_snapshot(kTwo, "t.toml", 7);
  ASSERT_TRUE(s) << s.error().message;
  const Snapshot& snap = **s;
  EXPECT_EQ(snap.generation(), 7u);
  ASSERT_EQ(snap.tenants().size(), 2u);
  const Tenant& t = snap.tenants()[0];
  EXPECT_EQ(t.name, "example");
  EXPECT_EQ(t.domains, (std::vector<std::string>{"example.test", "example.org"}));
  EXPECT_EQ(t.route_ip.to_string(), "198.18.0.1");
  EXPECT_EQ(t.route_port, 2526);
  EXPECT_EQ(t.route_tls, TlsPolicy::kRequired);
  EXPECT_EQ(t.route_tls_name, "mx1.example.test");
  EXPECT_EQ(snap.tenants()[1].route_tls_name, "") << "no name: the route's address, no SNI";
  EXPECT_TRUE(t.spool);
  EXPECT_EQ(t.policy.spam_threshold, 4500);
  EXPECT_EQ(t.policy.actions[static_cast<size_t>(scan::VerdictClass::kSpam)], scan::PolicyAction::kQuarantine);
  EXPECT_EQ(t.policy.actions[static_cast<size_t>(scan::VerdictClass::kBulk)], scan::PolicyAction::kDeliver);
  EXPECT_EQ(t.policy.subject_tag, "[JUNK]");
  EXPECT_EQ(t.policy.allow.addresses, (std::vector<std::string>{"boss@partner.test"}));
  EXPECT_EQ(t.policy.allow.domains, (std::vector<std::string>{"partner.test"}));
  ASSERT_EQ(t.policy.allow.networks.size(), 2u);
  EXPECT_EQ(t.policy.allow.networks[1].len, 32);
  EXPECT_EQ(t.policy.block.domains, (std::vector<std::string>{"spammer.test"}));
  EXPECT_EQ(t.max_message_size, 1048576u);
  ASSERT_TRUE(t.rules);
  EXPECT_EQ(snap.tenants()[1].route_port, 25);  // default port
  EXPECT_EQ(snap.tenants()[1].route_tls, TlsPolicy::kOpportunistic);
  ASSERT_EQ(snap.users().size(), 1u);
  EXPECT_EQ(snap.users()[0].address, "Bob@example.test");
  EXPECT_EQ(snap.users()[0].prefs.spam_threshold, 2000);
  EXPECT_EQ(snap.users()[0].prefs.spam_action, scan::PolicyAction::kReject);
}

TEST(Tenants, LookupByDomainAndUser) {
  auto s = parse_snapshot(kTwo, "t.toml", 1);
  ASSERT_TRUE(s) << s.error().message;
  const Snapshot& snap = **s;
  PolicyKey k;
  const Tenant* t = snap.lookup("alice", "EXAMPLE.org", k);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "example");
  EXPECT_EQ(k.tenant, 0u);
  EXPECT_EQ(k.user, -1);
  PolicyKey kb;
  ASSERT_NE(snap.lookup("Bob", "example.test", kb), nullptr);
  EXPECT_EQ(kb.user, 0);
  PolicyKey kb2;
  ASSERT_NE(snap.lookup("bob", "Example.Test", kb2), nullptr);  // lower-case fallback
  EXPECT_EQ(kb2.user, 0);
  EXPECT_FALSE(k == kb);
  PolicyKey k2;
  ASSERT_NE(snap.lookup("x", "second.test", k2), nullptr);
  EXPECT_EQ(k2.tenant, 1u);
  PolicyKey none;
  EXPECT_EQ(snap.lookup("x", "example.test.evil", none), nullptr);
  EXPECT_EQ(snap.lookup("x", "sub.example.test", none), nullptr);  // subdomains are not implied
  EXPECT_EQ(snap.lookup("x", "", none), nullptr);
}

// Security review: alice+tag@ must not escape alice's block list (RFC 5233 sub-addresses).
TEST(Tenants, LookupFallsBackFromASubAddressToTheUser) {
  const char* text = R"(
[[tenant]]
name = "example"
domains = ["example.test"]
route = "198.18.0.1"

[[user]]
address = "alice@example.test"
block_senders = ["spammer.test"]

[[user]]
address = "carol+lists@example.test"
spam_action = "deliver"

[[user]]
address = "carol@example.test"
spam_action = "reject"
)";
  auto s = parse_snapshot(text, "t.toml", 1);
  ASSERT_TRUE(s) << s.error().message;
  const Snapshot& snap = **s;
  const struct {
    const char* local;
    int64_t user;
  } cases[] = {
      {"alice", 0},
      {"alice+tag", 0},            // the detail is dropped when there is no exact entry
      {"Alice+Tag", 0},            // case-insensitive, as the exact lookup
      {"alice+", 0},               // empty detail
      {"alice+a+b", 0},            // the first '+' separates user and detail
      {"carol+lists", 1},          // an exact entry wins over the user's
      {"carol+other", 2},
      {"CAROL+LISTS", 1},
      {"+alice", -1},              // no user part: nobody's preferences
      {"alice-tag", -1},           // only '+' separates a detail
      {"alicex+tag", -1},
      {"bob+alice", -1},
  };
  for (const auto& c : cases) {
    PolicyKey k;
    ASSERT_NE(snap.lookup(c.local, "Example.Test", k), nullptr) << c.local;
    EXPECT_EQ(k.tenant, 0u) << c.local;
    EXPECT_EQ(k.user, c.user) << c.local;
  }
  PolicyKey plain, tagged;
  snap.lookup("alice", "example.test", plain);
  snap.lookup("alice+news", "example.test", tagged);
  EXPECT_TRUE(plain == tagged);  // one policy: both may share a transaction
  ASSERT_NE(snap.user(tagged.user), nullptr);
  EXPECT_EQ(snap.user(tagged.user)->prefs.block.domains, (std::vector<std::string>{"spammer.test"}));
}

struct BadCase {
  const char* text;
  const char* want;
};

TEST(Tenants, ErrorsNameLineAndKey) {
  const BadCase cases[] = {
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\n", "missing key 'route'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1:0\"\n", "t.toml:4: [tenant] key 'route'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"host.test:25\"\n", "is not IPv4[:port]"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a..test\"]\nroute = \"198.18.0.1\"\n", "'a..test' is not a domain"},
      {"[[tenant]]\nname = \"a\"\ndomains = []\nroute = \"198.18.0.1\"\n", "needs 1.."},
      {"[[tenant]]\nname = \"a b\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n", "key 'name'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\nroute_tls = \"maybe\"\n", "key 'route_tls'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\nroute_tls_name = \"198.18.0.1\"\n",
       "key 'route_tls_name'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\nspam_threshold = \"high\"\n",
       "t.toml:5: [tenant] key 'spam_threshold': 'high' is not a score"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\naction_spam = \"drop\"\n",
       "key 'action_spam'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\nallow_senders = [\"a b\"]\n",
       "key 'allow_senders'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\nrules = \"/nonexistent/r\"\n",
       "key 'rules'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\ncolour = 1\n", "unknown key 'colour'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n[[tenant]]\nname = \"b\"\n"
       "domains = [\"A.test\"]\nroute = \"198.18.0.1\"\n",
       "domain 'a.test' belongs to two tenants"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n[[user]]\naddress = \"x@b.test\"\n",
       "no tenant (declared above it) has domain 'b.test'"},
      {"[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n[[user]]\naddress = \"nobody\"\n",
       "is not local@domain"},
      {"[[user]]\naddress = \"x@a.test\"\n", "no tenant"},
      {"", "no [[tenant]]"},
      {"[tenant]\nname = \"a\"\n", "unknown section [tenant]"},
  };
  for (const BadCase& c : cases) {
    auto s = parse_snapshot(c.text, "t.toml", 1);
    ASSERT_FALSE(s) << c.text;
    EXPECT_NE(s.error().message.find(c.want), std::string::npos) << c.text << "\n=> " << s.error().message;
    EXPECT_EQ(s.error().message.rfind("t.toml", 0), 0u) << s.error().message;
  }
}

TEST(Tenants, RulesFileIsReadRelativeToTheSnapshotAndCompiled) {
  char dir[] = "/tmp/mx_tenants_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string d = dir;
  std::ofstream(d + "/a.rules") << "rule GTUBE body contains \"GTUBE\" score 1000\n";
  std::ofstream(d + "/bad.rules") << "rule X body regex /(/ score 1\n";
  std::ofstream(d + "/t.toml") << "[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n"
                                  "rules = \"a.rules\"\n";
  std::ofstream(d + "/bad.toml") << "[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n"
                                    "rules = \"bad.rules\"\n";
  auto s = load_snapshot(d + "/t.toml", 3);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE((*s)->tenants()[0].rules);
  EXPECT_NE((*s)->tenants()[0].rules_text.find("GTUBE"), std::string::npos);
  auto bad = load_snapshot(d + "/bad.toml", 3);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tenant 'a': rules:"), std::string::npos) << bad.error().message;
  auto missing = load_snapshot(d + "/none.toml", 3);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
  for (const char* f : {"/a.rules", "/bad.rules", "/t.toml", "/bad.toml"}) std::remove((d + f).c_str());
  rmdir(dir);
}

TEST(Tenants, TheLabSnapshotLoads) {
  auto s = load_snapshot(std::string(MX_SOURCE_ROOT) + "/config/tenants.toml", 1);
  ASSERT_TRUE(s) << s.error().message;
  PolicyKey k;
  ASSERT_NE((*s)->lookup("bob", "example.test", k), nullptr);
  EXPECT_EQ((*s)->tenants()[0].route_port, 2526);
}

// What mxgate-control pushes: the rules inline, so a node needs no files. The self-contained
// form of the lab's snapshot parses to the same tenants with the same rules, and quoting keeps
// every byte (quotes, backslashes, control characters).
TEST(Tenants, SelfContainedSnapshotCarriesTheRulesInline) {
  const std::string src = std::string(MX_SOURCE_ROOT) + "/config/tenants.toml";
  std::ifstream in(src);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = self_contained_snapshot(text, src);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->find("rules = \""), std::string::npos);
  EXPECT_NE(doc->find("rules_text = \""), std::string::npos);
  auto a = parse_snapshot(text, src, 1);
  auto b = parse_snapshot(*doc, "/nonexistent/pushed.toml", 2);  // no file to read: all inline
  ASSERT_TRUE(a && b) << (b ? "" : b.error().message);
  ASSERT_EQ((*a)->tenants().size(), (*b)->tenants().size());
  for (size_t i = 0; i < (*a)->tenants().size(); ++i) {
    EXPECT_EQ((*a)->tenants()[i].name, (*b)->tenants()[i].name);
    EXPECT_EQ((*a)->tenants()[i].rules_text, (*b)->tenants()[i].rules_text);
    EXPECT_EQ((*a)->tenants()[i].domains, (*b)->tenants()[i].domains);
  }
  EXPECT_EQ((*a)->users().size(), (*b)->users().size());
  const std::string odd = "a \"quoted\" \\ back\tslash\r\n\x01\x7f end \xc3\xa9";
  const std::string one = "[[tenant]]\nname = \"q\"\ndomains = [\"q.test\"]\nroute = \"198.18.0.1\"\nsubject_tag = " +
                          toml_quote(odd) + "\n";
  auto q = parse_snapshot(one, "q.toml", 1);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ((*q)->tenants()[0].policy.subject_tag, odd);
}

TEST(Tenants, SelfContainedSnapshotRefusesWhatDoesNotParse) {
  auto bad = self_contained_snapshot("[[tenant]]\nname = \"a\"\n", "x.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("x.toml:"), std::string::npos) << bad.error().message;
  auto both = parse_snapshot("[[tenant]]\nname = \"a\"\ndomains = [\"a.test\"]\nroute = \"198.18.0.1\"\n"
                             "rules = \"a.rules\"\nrules_text = \"\"\n", "y.toml", 1);
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("not both"), std::string::npos) << both.error().message;
}

}  // namespace
}  // namespace mx::ipc
