// tests/unit/scan/hs_rules_test.cc — rule sets compiled to Hyperscan (scan/hs_rules.h): each
// target and operator matched, meta rules, scores and actions, GTUBE in a body, serialise ->
// deserialise -> same results, uncompilable regexes reported by name and line, and body
// matches independent of how the body is split into chunks.
#include "scan/hs_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace mx::scan {
namespace {

ByteSpan bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

const char kGtube[] = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

const char kRules[] =
    "# test rules\n"
    "rule GTUBE body contains \"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\" "
    "score 1000 action reject\n"
    "rule H header:X-Mailer regex /^bulkmail/i score 2\n"
    "rule S subject icontains \"winner\" score 3\n"
    "rule F from regex /@spam\\.test>?$/ score 1\n"
    "rule T to contains \"undisclosed\" score 1\n"
    "rule B body regex /free\\s+money/i score 4 action tag\n"
    "rule B_END body regex /bye$/\n"
    "rule RB rawbody contains \"=46ree\" score 1\n"
    "rule U url regex /^https?:\\/\\/bit\\.ly\\// score 2\n"
    "rule AN attachment_name regex /\\.(exe|scr)$/i score 5 action quarantine\n"
    "rule AT attachment_type contains \"application/x-dosexec\" score 5\n"
    "rule AS attachment_size > 1000000 score 1\n"
    "rule ASEQ attachment_size == 42\n"
    "rule EF envelope_from contains \"@spam.test\" score 1\n"
    "rule R rcpt regex /^ceo@/ score 1\n"
    "rule IP client_ip regex /^198\\.18\\./ score 1\n"
    "rule HE helo regex /^localhost$/ score 1\n"
    "meta EXE_AND_WINNER AN && S score 20 action reject\n"
    "meta NOT_GTUBE !GTUBE\n";

// Loaded rules, this thread's scratch and a matcher over both (heap-allocated: the matcher
// points at the other two).
struct Env {
  HsRules rules;
  HsScratch scratch;
  std::optional<RuleMatcher> matcher;
  RuleMatcher& m = *matcher;
};

std::unique_ptr<Env> load(HsRules&& rules) {
  auto scratch = rules.make_scratch();
  EXPECT_TRUE(scratch.ok());
  auto env = std::unique_ptr<Env>(new Env{std::move(rules), std::move(*scratch), {}});
  auto m = RuleMatcher::create(env->rules, env->scratch);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  env->matcher.emplace(std::move(*m));
  return env;
}

std::unique_ptr<Env> compile(std::string_view text) {
  auto r = HsRules::compile(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return load(std::move(*r));
}

std::vector<std::string> names(const RuleMatcher& m) {
  std::vector<std::string> out;
  for (auto n : m.hit_names()) out.emplace_back(n);
  return out;
}

using V = std::vector<std::string>;

TEST(HsRules, EachTargetAndOperator) {
  auto e = compile(kRules);
  RuleMatcher& m = e->m;
  EXPECT_EQ(e->rules.database_count(), 13u);  // 4 header names, 7 other fields, body, rawbody
  m.begin();
  m.header("X-MAILER", bytes("BulkMail 2.0"));
  m.header("Subject", bytes("You are a WINNER"));
  m.header("From", bytes("Bob <bob@spam.test>"));
  m.header("To", bytes("undisclosed-recipients:;"));
  m.body(bytes("get free \r\n money now"));
  m.rawbody(bytes("=46ree money"));
  m.field(RuleTarget::kUrl, bytes("https://bit.ly/x"));
  m.field(RuleTarget::kAttachmentName, bytes("invoice.pdf.EXE"));
  m.field(RuleTarget::kAttachmentType, bytes("application/x-dosexec"));
  m.attachment_size(42);
  m.field(RuleTarget::kEnvelopeFrom, bytes("bob@spam.test"));
  m.field(RuleTarget::kRcpt, bytes("ceo@example.com"));
  m.field(RuleTarget::kClientIp, bytes("198.18.0.7"));
  m.field(RuleTarget::kHelo, bytes("localhost"));
  const RuleMatch& r = m.finish();
  EXPECT_EQ(names(m), (V{"H", "S", "F", "T", "B", "RB", "U", "AN", "AT", "ASEQ", "EF", "R", "IP",
                         "HE", "EXE_AND_WINNER", "NOT_GTUBE"}));
  EXPECT_EQ(r.score, (2 + 3 + 1 + 1 + 4 + 1 + 2 + 5 + 5 + 1 + 1 + 1 + 1 + 20) * 1000);
  EXPECT_EQ(r.action, RuleAction::kReject);
  EXPECT_EQ(r.scan_errors, 0u);
}

TEST(HsRules, NothingHitsOnACleanMessage) {
  auto e = compile(kRules);
  RuleMatcher& m = e->m;
  m.begin();
  m.header("Subject", bytes("lunch"));
  m.header("X-Other", bytes("bulkmail"));  // H only reads X-Mailer
  m.body(bytes("see you at noon, bye now"));
  m.attachment_size(1000000);              // not > 1000000
  m.field(RuleTarget::kHelo, bytes("mail.localhost"));
  const RuleMatch& r = m.finish();
  EXPECT_EQ(names(m), (V{"NOT_GTUBE"}));
  EXPECT_EQ(r.score, 0);
  EXPECT_EQ(r.action, RuleAction::kNone);
  // The next message starts clean; $ in a stream matches at the end of the body only.
  m.begin();
  m.body(bytes("good "));
  m.body(bytes("bye"));
  m.attachment_size(1000001);
  m.finish();
  EXPECT_EQ(names(m), (V{"B_END", "AS", "NOT_GTUBE"}));
}

TEST(HsRules, GtubeInBody) {
  auto e = compile(kRules);
  e->m.begin();
  e->m.body(bytes(std::string("Subject: test\r\n\r\nThis is the GTUBE, the\r\n") + kGtube + "\r\n"));
  const RuleMatch& r = e->m.finish();
  EXPECT_EQ(names(e->m), (V{"GTUBE"}));
  EXPECT_EQ(r.score, 1000 * 1000);
  EXPECT_EQ(r.action, RuleAction::kReject);
}

TEST(HsRules, SerialiseDeserialiseSameResults) {
  auto compiled = HsRules::compile(kRules);
  ASSERT_TRUE(compiled.ok());
  auto blob = compiled->serialize();
  ASSERT_TRUE(blob.ok());
  auto loaded = HsRules::deserialize(bytes(*blob));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->rules().rules.size(), compiled->rules().rules.size());
  auto a = load(std::move(*compiled));
  auto b = load(std::move(*loaded));
  auto clone = b->scratch.clone();  // a second thread's scratch, allocated at load time
  ASSERT_TRUE(clone.ok());
  auto c = RuleMatcher::create(b->rules, *clone);
  ASSERT_TRUE(c.ok());
  std::vector<int64_t> scores;
  for (RuleMatcher* m : {&a->m, &b->m, &*c}) {
    m->begin();
    m->header("subject", bytes("winner!"));
    m->field(RuleTarget::kAttachmentName, bytes("x.scr"));
    m->body(bytes(kGtube));
    scores.push_back(m->finish().score);
  }
  EXPECT_EQ(scores, (std::vector<int64_t>{1028000, 1028000, 1028000}));
  EXPECT_EQ(names(a->m), (V{"GTUBE", "S", "AN", "EXE_AND_WINNER"}));
  EXPECT_EQ(names(b->m), names(a->m));
  EXPECT_EQ(names(*c), names(a->m));
}

TEST(HsRules, BadBlobsAreErrors) {
  auto compiled = HsRules::compile(kRules);
  ASSERT_TRUE(compiled.ok());
  std::string blob = *compiled->serialize();
  EXPECT_FALSE(HsRules::deserialize(bytes("")).ok());
  EXPECT_FALSE(HsRules::deserialize(bytes(std::string_view(blob).substr(0, blob.size() - 1))).ok());
  std::string v2 = blob;
  v2[11] = 2;
  EXPECT_EQ(HsRules::deserialize(bytes(v2)).error().message, "rules blob: unsupported version 2");
  std::string extra = blob + "x";
  EXPECT_EQ(HsRules::deserialize(bytes(extra)).error().message, "rules blob: trailing bytes");
  // Every truncation is an error, never a crash.
  for (size_t n = 0; n < blob.size(); n += 97)
    EXPECT_FALSE(HsRules::deserialize(bytes(std::string_view(blob).substr(0, n))).ok());
}

TEST(HsRules, UncompilableRegexNamesRuleAndLine) {
  auto backref = HsRules::compile("rule OK body contains \"x\"\n\nrule BACKREF body regex /(a)\\1/\n");
  ASSERT_FALSE(backref.ok());
  EXPECT_TRUE(backref.error().message.starts_with("line 3: rule 'BACKREF': hyperscan: "))
      << backref.error().message;
  auto look = HsRules::compile("rule LOOK subject regex /foo(?=bar)/\n");
  ASSERT_FALSE(look.ok());
  EXPECT_TRUE(look.error().message.starts_with("line 1: rule 'LOOK': hyperscan: ")) << look.error().message;
  auto empty = HsRules::compile("rule A helo regex /^a/\nrule EMPTY helo regex /x*/\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(empty.error().message.starts_with("line 2: rule 'EMPTY': hyperscan: "))
      << empty.error().message;
  auto parse = HsRules::compile("rule A helo regex /a/q\n");
  ASSERT_FALSE(parse.ok());
  EXPECT_EQ(parse.error().message, "line 1: rule 'A': unknown regex flag 'q' (allowed: i s m)");
}

TEST(HsRules, OnlyNumericAndMetaRulesNeedNoDatabase) {
  auto e = compile("rule BIG attachment_size >= 10\nmeta NOT_BIG !BIG score 1\n");
  EXPECT_EQ(e->rules.database_count(), 0u);
  e->m.begin();
  e->m.body(bytes("anything"));
  e->m.attachment_size(9);
  EXPECT_EQ(e->m.finish().score, 1000);
  e->m.begin();
  e->m.attachment_size(10);
  e->m.finish();
  EXPECT_EQ(names(e->m), (V{"BIG"}));
}

// Body and rawbody matches are the same however the body is split into chunks.
TEST(HsRules, BodyMatchesIndependentOfSplits) {
  auto e = compile(std::string(kRules) +
                   "rule MULTI body regex /^line two$/m\n"
                   "rule SPAN body regex /alpha.{0,40}omega/s\n"
                   "rule RB2 rawbody icontains \"QUICK BROWN\"\n");
  std::string body = "first line\nline two\nthe quick brown fox: alpha, then\nomega; free   money!\n";
  body += kGtube;
  body += "\nthat's all, bye";
  auto run = [&](const std::vector<size_t>& cuts) {
    e->m.begin();
    size_t pos = 0;
    for (size_t c : cuts) {
      e->m.body(bytes(std::string_view(body).substr(pos, c - pos)));
      e->m.rawbody(bytes(std::string_view(body).substr(pos, c - pos)));
      pos = c;
    }
    e->m.body(bytes(std::string_view(body).substr(pos)));
    e->m.rawbody(bytes(std::string_view(body).substr(pos)));
    e->m.finish();
    return names(e->m);
  };
  const V whole = run({});
  EXPECT_EQ(whole, (V{"GTUBE", "B", "B_END", "MULTI", "SPAN", "RB2"}));
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<size_t> cuts;
    size_t n = rng() % 12;
    for (size_t i = 0; i < n; ++i) cuts.push_back(rng() % (body.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    ASSERT_EQ(run(cuts), whole) << "iteration " << iter;
  }
  std::vector<size_t> bytewise;  // every byte a chunk of its own
  for (size_t i = 1; i < body.size(); ++i) bytewise.push_back(i);
  EXPECT_EQ(run(bytewise), whole);
}


TEST(HsRules, ExistsNegatedModifiersAndFull) {
  auto e = compile(
      "rule HAS_MAILER header:X-Mailer exists score 1\n"
      "rule NOT_RE subject not regex /^Re:/ score 0.5\n"
      "rule ADDR header:From:addr regex /^evil@x\\.test$/ score 2\n"
      "rule FULL full regex /^X-Mailer: bulk\\r?\\n.*GTUBE/ms score 3\n");
  EXPECT_TRUE(e->rules.wants_header("x-mailer"));
  EXPECT_TRUE(e->rules.wants_header("from:addr"));
  EXPECT_FALSE(e->rules.wants_header("from"));
  e->m.begin();
  e->m.header("X-Mailer", bytes("bulk"));
  e->m.header("Subject", bytes("hello"));
  e->m.header("From:addr", bytes("evil@x.test"));
  e->m.full(bytes("X-Mailer: bulk\r\n\r\nthis is GT"));
  e->m.full(bytes("UBE"));
  EXPECT_EQ(e->m.finish().score, 6500);
  EXPECT_EQ(names(e->m), (V{"HAS_MAILER", "NOT_RE", "ADDR", "FULL"}));
  // A negated rule does not hit once any value matched, and hits when the target is absent.
  e->m.begin();
  e->m.header("Subject", bytes("hello"));
  e->m.header("Subject", bytes("Re: hello"));
  e->m.finish();
  EXPECT_EQ(names(e->m), V{});
  e->m.begin();
  e->m.finish();
  EXPECT_EQ(names(e->m), (V{"NOT_RE"}));
}

TEST(HsRules, MetaArithmetic) {
  auto e = compile(
      "rule A helo contains \"a\"\nrule B helo contains \"b\"\nrule C helo contains \"c\"\n"
      "meta TWO (A + B + C) >= 2 score 1\n"
      "meta EXACTLY_ONE A + B + C == 1 score 10\n"
      "meta WEIGHTED A * 3 - B > 2 score 100\n");
  auto run = [&](std::string_view helo) {
    e->m.begin();
    e->m.field(RuleTarget::kHelo, bytes(helo));
    return e->m.finish().score;
  };
  EXPECT_EQ(run("x"), 0);
  EXPECT_EQ(run("a"), (10 + 100) * 1000);
  EXPECT_EQ(run("ab"), 1 * 1000);
  EXPECT_EQ(run("ac"), (1 + 100) * 1000);
  EXPECT_EQ(run("abc"), 1 * 1000);
}

TEST(HsRules, ExpressionCheckNamesRule) {
  auto set = parse_rules("rule OK helo regex /a+b/\nrule BAD helo regex /(a)\\1/\n");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(check_rule_expression(set->rules[0]).ok());
  auto bad = check_rule_expression(set->rules[1]);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().message.starts_with("line 2: rule 'BAD': hyperscan: ")) << bad.error().message;
}

}  // namespace
}  // namespace mx::scan
