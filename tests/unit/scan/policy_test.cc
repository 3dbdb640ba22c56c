// tests/unit/scan/policy_test.cc — decide() (scan/policy.h): a table of cases over every class
// and the precedence pairs, allow and block lists against each class, user overrides of the
// spam threshold and actions, AV error and limit, tag headers free of CR/LF, and the list
// matching rules (address, domain and subdomain, IPv4 CIDR).
#include "scan/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::scan {
namespace {

using C = VerdictClass;
using A = PolicyAction;

constexpr const char* kSender = "alice@mail.example.com";
constexpr const char* kOther = "bob@other.test";

AvResult av(AvVerdict v, std::string name = "") {
  AvResult r;
  r.verdict = v;
  r.name = std::move(name);
  return r;
}

// Scores in points; RuleHit holds thousandths (saturating, for the clamping test).
RuleHit hit(std::string name, int64_t points, RuleCategory cat = RuleCategory::kSpam) {
  const int64_t t = points > INT64_MAX / 1000 ? INT64_MAX : points * 1000;
  return RuleHit{std::move(name), t, cat};
}

Ipv4Addr ip(const char* s) { return *Ipv4Addr::parse(s); }
Ipv4Prefix net(const char* s) { return *Ipv4Prefix::parse(s); }

enum class Lists : uint8_t { kNone, kUserAllow, kTenantAllow, kUserBlock, kTenantBlock, kBoth };

struct Case {
  const char* name;
  AvVerdict av;
  std::vector<RuleHit> hits;
  uint64_t mime_flags;
  Lists lists;
  C want_class;
  A want_action;
};

std::vector<Case> cases() {
  const RuleHit spam = hit("SPAMMY", 6);
  const RuleHit small = hit("SMALL", 1);
  const RuleHit phish = hit("FAKE_LOGIN", 1, RuleCategory::kPhish);
  const RuleHit bulk = hit("NEWSLETTER", 5, RuleCategory::kBulk);
  const RuleHit mal_rule = hit("EXE_IN_ZIP", 0, RuleCategory::kMalware);
  return {
      // Each class alone, default tenant actions.
      {"clean", AvVerdict::kClean, {small}, 0, Lists::kNone, C::kClean, A::kDeliver},
      {"bulk", AvVerdict::kClean, {bulk}, 0, Lists::kNone, C::kBulk, A::kTag},
      {"spam", AvVerdict::kClean, {spam}, 0, Lists::kNone, C::kSpam, A::kTag},
      {"phish", AvVerdict::kClean, {phish}, 0, Lists::kNone, C::kPhish, A::kQuarantine},
      {"encrypted", AvVerdict::kEncrypted, {}, 0, Lists::kNone, C::kUnscannable, A::kQuarantine},
      {"limit", AvVerdict::kLimitExceeded, {}, 0, Lists::kNone, C::kUnscannable, A::kQuarantine},
      {"mime_bound", AvVerdict::kClean, {}, kPartLimit, Lists::kNone, C::kUnscannable,
       A::kQuarantine},
      {"virus", AvVerdict::kInfected, {}, 0, Lists::kNone, C::kMalware, A::kReject},
      {"malware_rule", AvVerdict::kClean, {mal_rule}, 0, Lists::kNone, C::kMalware, A::kReject},
      {"av_error", AvVerdict::kError, {}, 0, Lists::kNone, C::kUnscannable, A::kTempfail},
      // Precedence pairs.
      {"malware>unscannable", AvVerdict::kInfected, {}, kDecodedLimit, Lists::kNone, C::kMalware,
       A::kReject},
      {"malware>phish", AvVerdict::kInfected, {phish}, 0, Lists::kNone, C::kMalware, A::kReject},
      {"malware>spam", AvVerdict::kInfected, {spam}, 0, Lists::kNone, C::kMalware, A::kReject},
      {"malware>bulk", AvVerdict::kInfected, {bulk}, 0, Lists::kNone, C::kMalware, A::kReject},
      {"malware_rule>limit", AvVerdict::kLimitExceeded, {mal_rule}, 0, Lists::kNone, C::kMalware,
       A::kReject},
      {"malware_rule>av_error", AvVerdict::kError, {mal_rule}, 0, Lists::kNone, C::kMalware,
       A::kReject},
      {"unscannable>phish", AvVerdict::kEncrypted, {phish}, 0, Lists::kNone, C::kUnscannable,
       A::kQuarantine},
      {"unscannable>spam", AvVerdict::kLimitExceeded, {spam}, 0, Lists::kNone, C::kUnscannable,
       A::kQuarantine},
      {"phish>spam", AvVerdict::kClean, {phish, spam}, 0, Lists::kNone, C::kPhish,
       A::kQuarantine},
      {"phish>bulk", AvVerdict::kClean, {phish, bulk}, 0, Lists::kNone, C::kPhish,
       A::kQuarantine},
      {"spam>bulk", AvVerdict::kClean, {bulk, spam}, 0, Lists::kNone, C::kSpam, A::kTag},
      // MIME ambiguity adds the suspicious score (2): 4 + 2 >= 5.
      {"mime_suspicious", AvVerdict::kClean, {hit("R4", 4)}, kDupBoundary, Lists::kNone,
       C::kSpam, A::kTag},
      {"no_mime_suspicious", AvVerdict::kClean, {hit("R4", 4)}, 0, Lists::kNone, C::kClean,
       A::kDeliver},
      // Allow lists: phish/spam/bulk become clean; never malware, unscannable or AV error.
      {"user_allow_spam", AvVerdict::kClean, {spam}, 0, Lists::kUserAllow, C::kClean,
       A::kDeliver},
      {"tenant_allow_spam", AvVerdict::kClean, {spam}, 0, Lists::kTenantAllow, C::kClean,
       A::kDeliver},
      {"allow_phish", AvVerdict::kClean, {phish}, 0, Lists::kUserAllow, C::kClean, A::kDeliver},
      {"allow_bulk", AvVerdict::kClean, {bulk}, 0, Lists::kTenantAllow, C::kClean, A::kDeliver},
      {"allow_virus", AvVerdict::kInfected, {}, 0, Lists::kUserAllow, C::kMalware, A::kReject},
      {"tenant_allow_virus", AvVerdict::kInfected, {}, 0, Lists::kTenantAllow, C::kMalware,
       A::kReject},
      {"allow_malware_rule", AvVerdict::kClean, {mal_rule}, 0, Lists::kTenantAllow, C::kMalware,
       A::kReject},
      {"allow_encrypted", AvVerdict::kEncrypted, {}, 0, Lists::kUserAllow, C::kUnscannable,
       A::kQuarantine},
      {"allow_limit", AvVerdict::kLimitExceeded, {}, 0, Lists::kTenantAllow, C::kUnscannable,
       A::kQuarantine},
      {"allow_av_error", AvVerdict::kError, {spam}, 0, Lists::kUserAllow, C::kUnscannable,
       A::kTempfail},
      // Block lists: reject, whatever the class; malware stays malware.
      {"user_block_clean", AvVerdict::kClean, {}, 0, Lists::kUserBlock, C::kClean, A::kReject},
      {"tenant_block_clean", AvVerdict::kClean, {}, 0, Lists::kTenantBlock, C::kClean,
       A::kReject},
      {"block_spam", AvVerdict::kClean, {spam}, 0, Lists::kUserBlock, C::kSpam, A::kReject},
      {"block_av_error", AvVerdict::kError, {}, 0, Lists::kTenantBlock, C::kUnscannable,
       A::kReject},
      {"block_virus", AvVerdict::kInfected, {}, 0, Lists::kUserBlock, C::kMalware, A::kReject},
      {"block_beats_allow", AvVerdict::kClean, {}, 0, Lists::kBoth, C::kClean, A::kReject},
  };
}

void apply_lists(Lists l, TenantPolicy& t, UserPrefs& u) {
  switch (l) {
    case Lists::kNone: break;
    case Lists::kUserAllow: u.allow.addresses.push_back(kSender); break;
    case Lists::kTenantAllow: t.allow.domains.push_back("example.com"); break;
    case Lists::kUserBlock: u.block.domains.push_back("mail.example.com"); break;
    case Lists::kTenantBlock: t.block.networks.push_back(net("192.0.2.0/24")); break;
    case Lists::kBoth:
      u.allow.addresses.push_back(kSender);
      t.block.domains.push_back("example.com");
      break;
  }
}

TEST(PolicyMatrix, EveryCase) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    TenantPolicy t;
    UserPrefs u;
    // Unrelated entries everywhere, so that a match is the case's own list.
    t.allow.addresses.push_back(kOther);
    u.block.domains.push_back("other.test");
    t.block.networks.push_back(net("203.0.113.0/24"));
    apply_lists(c.lists, t, u);
    ScanResults s;
    s.av = av(c.av, c.av == AvVerdict::kInfected ? "Eicar-Test.UNOFFICIAL" : "");
    s.hits = c.hits;
    s.mime_flags = c.mime_flags;
    s.envelope_sender = kSender;
    s.client_ip = ip("192.0.2.10");
    const Verdict v = decide(t, u, s);
    EXPECT_EQ(verdict_class_name(v.cls), verdict_class_name(c.want_class)) << v.reason;
    EXPECT_EQ(policy_action_name(v.action), policy_action_name(c.want_action)) << v.reason;
    EXPECT_EQ(v.rules.size(), c.hits.size());
    EXPECT_FALSE(v.reason.empty());
  }
}

ScanResults clean_scan(std::vector<RuleHit> hits = {}) {
  ScanResults s;
  s.av = av(AvVerdict::kClean);
  s.hits = std::move(hits);
  s.envelope_sender = kSender;
  s.client_ip = ip("198.51.100.7");
  return s;
}

TEST(PolicyDecide, ScoreAndRules) {
  const Verdict v = decide(TenantPolicy{}, UserPrefs{},
                           clean_scan({hit("A", 3), hit("B", 4), hit("C", -2)}));
  EXPECT_EQ(v.score, 5000);
  EXPECT_EQ(v.cls, C::kSpam);
  ASSERT_EQ(v.rules.size(), 3u);
  EXPECT_EQ(v.rules[0], "A");
  EXPECT_EQ(v.rules[2], "C");
}

TEST(PolicyDecide, BulkScoreSeparateFromSpamScore) {
  const Verdict v = decide(TenantPolicy{}, UserPrefs{},
                           clean_scan({hit("A", 2), hit("NEWS", 100, RuleCategory::kBulk)}));
  EXPECT_EQ(v.score, 2000);
  EXPECT_EQ(v.cls, C::kBulk);
}

TEST(PolicyDecide, HugeScoresClamped) {
  const Verdict v = decide(TenantPolicy{}, UserPrefs{},
                           clean_scan({hit("A", INT64_MAX), hit("B", INT64_MAX)}));
  EXPECT_EQ(v.score, 2 * kMaxPolicyRuleScore);
}

TEST(PolicyDecide, UserSpamThresholdOverride) {
  const ScanResults s = clean_scan({hit("R", 7)});
  UserPrefs lenient;
  lenient.spam_threshold = 10000;
  EXPECT_EQ(decide(TenantPolicy{}, UserPrefs{}, s).cls, C::kSpam);
  EXPECT_EQ(decide(TenantPolicy{}, lenient, s).cls, C::kClean);
  UserPrefs strict;
  strict.spam_threshold = 2000;
  const ScanResults low = clean_scan({hit("R", 3)});
  EXPECT_EQ(decide(TenantPolicy{}, UserPrefs{}, low).cls, C::kClean);
  EXPECT_EQ(decide(TenantPolicy{}, strict, low).cls, C::kSpam);
}

TEST(PolicyDecide, UserActionOverrides) {
  TenantPolicy t;
  t.actions[static_cast<size_t>(C::kSpam)] = A::kTag;
  UserPrefs u;
  u.spam_action = A::kQuarantine;
  u.bulk_action = A::kDeliver;
  EXPECT_EQ(decide(t, UserPrefs{}, clean_scan({hit("R", 9)})).action, A::kTag);
  EXPECT_EQ(decide(t, u, clean_scan({hit("R", 9)})).action, A::kQuarantine);
  const ScanResults bulk = clean_scan({hit("B", 5, RuleCategory::kBulk)});
  EXPECT_EQ(decide(t, UserPrefs{}, bulk).action, A::kTag);
  EXPECT_EQ(decide(t, u, bulk).action, A::kDeliver);
}

TEST(PolicyDecide, TenantActionsMalwareAlwaysRejects) {
  TenantPolicy t;
  t.actions.fill(A::kDeliver);
  ScanResults s = clean_scan();
  s.av = av(AvVerdict::kInfected, "Eicar-Test.UNOFFICIAL");
  const Verdict v = decide(t, UserPrefs{}, s);
  EXPECT_EQ(v.action, A::kReject);
  EXPECT_NE(v.reason.find("Eicar-Test.UNOFFICIAL"), std::string::npos);
}

TEST(PolicyDecide, LimitUsesTenantUnscannableAction) {
  TenantPolicy t;
  ScanResults s = clean_scan();
  s.av = av(AvVerdict::kLimitExceeded, "Heuristics.Limits.Exceeded.MaxFileSize");
  t.actions[static_cast<size_t>(C::kUnscannable)] = A::kReject;
  EXPECT_EQ(decide(t, UserPrefs{}, s).action, A::kReject);
  t.actions[static_cast<size_t>(C::kUnscannable)] = A::kTag;
  EXPECT_EQ(decide(t, UserPrefs{}, s).action, A::kTag);
  // Never delivered unmarked.
  t.actions[static_cast<size_t>(C::kUnscannable)] = A::kDeliver;
  const Verdict v = decide(t, UserPrefs{}, s);
  EXPECT_EQ(v.cls, C::kUnscannable);
  EXPECT_EQ(v.action, A::kTag);
  ASSERT_FALSE(v.headers.empty());
  EXPECT_EQ(v.headers[0].second, "unscannable");
}

TEST(PolicyDecide, DefaultAvResultIsTempfail) {
  ScanResults s;
  s.envelope_sender = kSender;
  const Verdict v = decide(TenantPolicy{}, UserPrefs{}, s);
  EXPECT_EQ(v.action, A::kTempfail);
  EXPECT_NE(v.action, A::kDeliver);
}

bool has_ctl(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return true;
  }
  return false;
}

TEST(PolicyTag, HeadersWithoutCrLf) {
  TenantPolicy t;
  t.subject_tag = "[SPAM]\r\nBcc: victim@example.org";
  ScanResults s = clean_scan({hit("EVIL\r\nX-Injected: 1", 6), hit(std::string("NUL\0X", 5), 1),
                              hit("\xff\xfe", 0)});
  const Verdict v = decide(t, UserPrefs{}, s);
  ASSERT_EQ(v.action, A::kTag);
  EXPECT_FALSE(has_ctl(v.subject_prefix));
  EXPECT_EQ(v.subject_prefix, "[SPAM]__Bcc: victim@example.org");
  ASSERT_EQ(v.headers.size(), 3u);
  EXPECT_EQ(v.headers[0].first, "X-Mxgate-Verdict");
  EXPECT_EQ(v.headers[0].second, "spam");
  EXPECT_EQ(v.headers[1].first, "X-Mxgate-Score");
  EXPECT_EQ(v.headers[1].second, "7");
  EXPECT_EQ(v.headers[2].first, "X-Mxgate-Rules");
  EXPECT_EQ(v.headers[2].second, "EVIL__X-Injected: 1, NUL_X, __");
  for (const auto& [name, value] : v.headers) {
    EXPECT_FALSE(has_ctl(name));
    EXPECT_FALSE(has_ctl(value));
    EXPECT_LE(value.size(), kMaxTagHeaderValue);
  }
  EXPECT_FALSE(has_ctl(v.reason));
  // The verdict's rule names are kept as given (for the log), only outputs are sanitised.
  EXPECT_EQ(v.rules[0], "EVIL\r\nX-Injected: 1");
}

TEST(PolicyTag, ReasonWithoutCrLfFromAvName) {
  ScanResults s = clean_scan();
  s.av = av(AvVerdict::kInfected, "Bad\r\n250 OK");
  EXPECT_FALSE(has_ctl(decide(TenantPolicy{}, UserPrefs{}, s).reason));
}

TEST(PolicyTag, LongRuleListCut) {
  std::vector<RuleHit> hits;
  for (int i = 0; i < 500; ++i) hits.push_back(hit("RULE_" + std::to_string(i), 1));
  const Verdict v = decide(TenantPolicy{}, UserPrefs{}, clean_scan(hits));
  ASSERT_EQ(v.action, A::kTag);
  EXPECT_EQ(v.headers[2].second.size(), kMaxTagHeaderValue);
  EXPECT_EQ(v.rules.size(), 500u);
}

TEST(PolicyTag, NoHeadersUnlessTag) {
  const Verdict v =
      decide(TenantPolicy{}, UserPrefs{}, clean_scan({hit("P", 1, RuleCategory::kPhish)}));
  EXPECT_EQ(v.action, A::kQuarantine);
  EXPECT_TRUE(v.headers.empty());
  EXPECT_TRUE(v.subject_prefix.empty());
}

TEST(PolicyLists, AddressCaseInsensitiveDomainOnly) {
  EXPECT_TRUE(sender_address_matches("alice@Example.COM", "alice@example.com"));
  EXPECT_TRUE(sender_address_matches("alice@example.com", "alice@EXAMPLE.com."));
  EXPECT_FALSE(sender_address_matches("alice@example.com", "Alice@example.com"));
  EXPECT_FALSE(sender_address_matches("alice@example.com", "alice@mail.example.com"));
  EXPECT_FALSE(sender_address_matches("alice@example.com", "bob@example.com"));
  EXPECT_TRUE(sender_address_matches("\"a@b\"@example.com", "\"a@b\"@example.com"));
  EXPECT_FALSE(sender_address_matches("alice@example.com", ""));
  EXPECT_FALSE(sender_address_matches("", "alice@example.com"));
  EXPECT_FALSE(sender_address_matches("@", "@"));
}

TEST(PolicyLists, DomainExactAndSubdomain) {
  EXPECT_TRUE(sender_domain_matches("example.com", "a@example.com"));
  EXPECT_TRUE(sender_domain_matches("Example.Com", "a@EXAMPLE.com"));
  EXPECT_TRUE(sender_domain_matches("example.com", "a@mail.example.com"));
  EXPECT_TRUE(sender_domain_matches("example.com", "a@x.y.example.com"));
  EXPECT_TRUE(sender_domain_matches("example.com", "a@example.com."));
  EXPECT_FALSE(sender_domain_matches("example.com", "a@badexample.com"));
  EXPECT_FALSE(sender_domain_matches("example.com", "a@.example.com"));
  EXPECT_FALSE(sender_domain_matches("example.com", "a@example.com.evil.test"));
  EXPECT_FALSE(sender_domain_matches("mail.example.com", "a@example.com"));
  EXPECT_FALSE(sender_domain_matches("example.com", "example.com"));  // no '@'
  EXPECT_FALSE(sender_domain_matches("", "a@example.com"));
  EXPECT_FALSE(sender_domain_matches("example.com", ""));
}

TEST(PolicyLists, Ipv4Cidr) {
  SenderList l;
  l.networks.push_back(net("192.0.2.0/24"));
  l.networks.push_back(net("198.51.100.128/25"));
  l.networks.push_back(net("203.0.113.9/32"));
  EXPECT_TRUE(sender_list_matches(l, "", ip("192.0.2.0")));
  EXPECT_TRUE(sender_list_matches(l, "", ip("192.0.2.255")));
  EXPECT_FALSE(sender_list_matches(l, "", ip("192.0.3.0")));
  EXPECT_TRUE(sender_list_matches(l, "", ip("198.51.100.200")));
  EXPECT_FALSE(sender_list_matches(l, "", ip("198.51.100.127")));
  EXPECT_TRUE(sender_list_matches(l, "", ip("203.0.113.9")));
  EXPECT_FALSE(sender_list_matches(l, "", ip("203.0.113.10")));
  EXPECT_FALSE(sender_list_matches(l, "", std::nullopt));
  SenderList all;
  all.networks.push_back(net("0.0.0.0/0"));
  EXPECT_TRUE(sender_list_matches(all, "", ip("8.8.8.8")));
}

TEST(PolicyLists, NullSenderMatchesNoAddressOrDomain) {
  SenderList l;
  l.addresses.push_back("a@example.com");
  l.domains.push_back("example.com");
  EXPECT_FALSE(sender_list_matches(l, "", std::nullopt));
  EXPECT_TRUE(sender_list_matches(l, "x@sub.example.com", std::nullopt));
}

TEST(PolicyLists, UserAllowReportedBeforeTenantAllow) {
  TenantPolicy t;
  UserPrefs u;
  t.allow.domains.push_back("example.com");
  u.allow.addresses.push_back(kSender);
  const Verdict v = decide(t, u, clean_scan({hit("R", 9)}));
  EXPECT_EQ(v.cls, C::kClean);
  EXPECT_EQ(v.list, ListMatch::kUserAllow);
  EXPECT_NE(v.reason.find("was spam"), std::string::npos);
}

TEST(PolicyLists, TenantBlockBeatsUserAllow) {
  TenantPolicy t;
  UserPrefs u;
  t.block.networks.push_back(net("198.51.100.0/24"));
  u.allow.addresses.push_back(kSender);
  const Verdict v = decide(t, u, clean_scan());
  EXPECT_EQ(v.action, A::kReject);
  EXPECT_EQ(v.list, ListMatch::kTenantBlock);
}

}  // namespace
}  // namespace mx::scan
