// tests/unit/scan/rules_test.cc — the rule-language parser (scan/rules.h, docs/rules.md):
// every target and operator, score and action, meta expressions, and errors naming the line
// and the rule.
#include "scan/rules.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::scan {
namespace {

RuleSet ok(std::string_view text) {
  auto r = parse_rules(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : RuleSet{};
}

std::string err(std::string_view text) {
  auto r = parse_rules(text);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message;
}

TEST(RuleParser, EveryTarget) {
  const char* text =
      "# a comment\n"
      "\n"
      "rule H header:X-Spam-Flag regex /yes/i\n"
      "rule S subject contains \"viagra\"\n"
      "rule F from regex /@example\\.com/\n"
      "rule T to icontains \"ceo\"\n"
      "rule B body regex /free money/is\n"
      "rule RB rawbody contains \"=46ree\"\n"
      "rule U url regex /bit\\.ly/\n"
      "rule AN attachment_name regex /\\.exe$/i\n"
      "rule AT attachment_type contains \"application/x-dosexec\"\n"
      "rule AS attachment_size > 1000\n"
      "rule EF envelope_from contains \"@spam.test\"\n"
      "rule R rcpt contains \"ceo@\"\n"
      "rule IP client_ip regex /^198\\.18\\./\n"
      "rule HE helo regex /^localhost$/m\n";
  RuleSet s = ok(text);
  ASSERT_EQ(s.rules.size(), 14u);
  EXPECT_EQ(s.rules[0].target, RuleTarget::kHeader);
  EXPECT_EQ(s.rules[0].header, "x-spam-flag");
  EXPECT_TRUE(s.rules[0].caseless);
  EXPECT_EQ(s.rules[0].line, 3u);
  EXPECT_EQ(s.rules[1].target, RuleTarget::kSubject);
  EXPECT_EQ(s.rules[1].header, "subject");
  EXPECT_EQ(s.rules[1].op, RuleOp::kContains);
  EXPECT_EQ(s.rules[1].pattern, "viagra");
  EXPECT_EQ(s.rules[2].pattern, "@example\\.com");
  EXPECT_TRUE(s.rules[3].caseless);
  EXPECT_TRUE(s.rules[4].dotall);
  EXPECT_TRUE(s.rules[4].caseless);
  EXPECT_EQ(s.rules[9].op, RuleOp::kNumeric);
  EXPECT_EQ(s.rules[9].cmp, RuleCmp::kGt);
  EXPECT_EQ(s.rules[9].number, 1000u);
  EXPECT_TRUE(s.rules[13].multiline);
  const char* names[] = {"header", "subject", "from", "to", "body", "rawbody", "url",
                         "attachment_name", "attachment_type", "attachment_size",
                         "envelope_from", "rcpt", "client_ip", "helo"};
  for (size_t i = 0; i < s.rules.size(); ++i) EXPECT_EQ(rule_target_name(s.rules[i].target), names[i]);
}

TEST(RuleParser, NumericOperators) {
  RuleSet s = ok(
      "rule A attachment_size > 1\nrule B attachment_size < 2\nrule C attachment_size >= 3\n"
      "rule D attachment_size <= 4\nrule E attachment_size == 5\n");
  ASSERT_EQ(s.rules.size(), 5u);
  EXPECT_EQ(s.rules[1].cmp, RuleCmp::kLt);
  EXPECT_EQ(s.rules[2].cmp, RuleCmp::kGe);
  EXPECT_EQ(s.rules[3].cmp, RuleCmp::kLe);
  EXPECT_EQ(s.rules[4].cmp, RuleCmp::kEq);
  EXPECT_EQ(s.rules[4].number, 5u);
}

TEST(RuleParser, ScoreActionAndLiteralEscapes) {
  RuleSet s = ok(
      "rule A body contains \"say \\\"hi\\\" \\\\ \\x41\" score 5 action quarantine\n"
      "rule B body regex /a\\/b/ action reject score -3\n");
  EXPECT_EQ(s.rules[0].pattern, "say \"hi\" \\ A");
  EXPECT_EQ(s.rules[0].score, 5000);
  EXPECT_EQ(s.rules[0].action, RuleAction::kQuarantine);
  EXPECT_EQ(s.rules[1].pattern, "a\\/b");
  EXPECT_EQ(s.rules[1].score, -3000);
  EXPECT_EQ(s.rules[1].action, RuleAction::kReject);
}

TEST(RuleParser, MetaRules) {
  RuleSet s = ok(
      "meta M2 M1 || !C score 1\n"
      "rule A body contains \"a\"\n"
      "rule B body contains \"b\"\n"
      "rule C body contains \"c\"\n"
      "meta M1 (A && B) || !(C) score 10 action tag\n");
  ASSERT_EQ(s.rules.size(), 5u);
  EXPECT_EQ(s.rules[4].op, RuleOp::kMeta);
  EXPECT_EQ(s.rules[4].action, RuleAction::kTag);
  // M1 is evaluated before M2, which refers to it (forward references allowed).
  ASSERT_EQ(s.meta_order.size(), 2u);
  EXPECT_EQ(s.meta_order[0], 4u);
  EXPECT_EQ(s.meta_order[1], 0u);
}

TEST(RuleParser, ErrorsNameLineAndRule) {
  EXPECT_EQ(err("\n\nfoo bar\n"), "line 3: expected 'rule' or 'meta', got 'foo'");
  EXPECT_EQ(err("rule 9x body contains \"a\"\n").substr(0, 26), "line 1: invalid rule name ");
  EXPECT_EQ(err("rule A body contains \"a\"\nrule A body contains \"b\"\n"),
            "line 2: rule 'A': duplicate rule name");
  EXPECT_EQ(err("rule A nowhere contains \"a\""), "line 1: rule 'A': unknown target 'nowhere'");
  EXPECT_EQ(err("rule A body matches \"a\""), "line 1: rule 'A': unknown operator 'matches'");
  EXPECT_EQ(err("rule A body regex /abc"), "line 1: rule 'A': unterminated regex (missing closing '/')");
  EXPECT_EQ(err("rule A body regex /abc/x"), "line 1: rule 'A': unknown regex flag 'x' (allowed: i s m)");
  EXPECT_EQ(err("rule A body contains \"abc"), "line 1: rule 'A': unterminated literal (missing closing '\"')");
  EXPECT_EQ(err("rule A body contains \"\\q\""),
            "line 1: rule 'A': unknown escape in literal (allowed: \\\" \\\\ \\xHH)");
  EXPECT_EQ(err("rule A body > 5"), "line 1: rule 'A': numeric comparison only applies to attachment_size");
  EXPECT_EQ(err("rule A attachment_size regex /a/"),
            "line 1: rule 'A': attachment_size only takes a numeric comparison");
  EXPECT_EQ(err("rule A attachment_size > -1"),
            "line 1: rule 'A': numeric comparison needs an unsigned integer");
  EXPECT_EQ(err("rule A body contains \"a\" score x"),
            "line 1: rule 'A': score must be a number within +-1000000 with at most three decimals");
  EXPECT_EQ(err("rule A body contains \"a\" action drop"),
            "line 1: rule 'A': action must be reject, quarantine, tag or none");
  EXPECT_EQ(err("rule A body contains \"a\" score 1 score 2"),
            "line 1: rule 'A': unexpected 'score' (expected score, action or category)");
  EXPECT_EQ(err("rule A header: contains \"a\""), "line 1: rule 'A': header name must be 1..76 characters");
}

TEST(RuleParser, MetaErrors) {
  EXPECT_EQ(err("rule A body contains \"a\"\nmeta M A && NOPE\n"), "line 2: rule 'M': unknown rule 'NOPE'");
  EXPECT_EQ(err("meta M M\n"), "line 1: rule 'M': meta rule refers to itself");
  EXPECT_EQ(err("meta M (N\n"), "line 1: rule 'M': missing ')' in meta expression");
  EXPECT_EQ(err("meta M A &&\n"), "line 1: rule 'M': expected a rule name, a number, '!' or '(' in meta expression");
  std::string cyc = err("meta M1 M2\nmeta M2 M1\n");
  EXPECT_NE(cyc.find("cycle"), std::string::npos) << cyc;
  std::string deep = "rule A body contains \"a\"\nmeta M " + std::string(kMaxMetaDepth + 1, '(') + "A" +
                     std::string(kMaxMetaDepth + 1, ')') + "\n";
  EXPECT_EQ(err(deep), "line 2: rule 'M': meta expression nested deeper than 16");
  std::string chain = "rule A body contains \"a\"\nmeta M0 A\n";
  for (size_t i = 1; i <= kMaxMetaDepth + 1; ++i)
    chain += "meta M" + std::to_string(i) + " M" + std::to_string(i - 1) + "\n";
  EXPECT_NE(err(chain).find("meta rules nested deeper than 16"), std::string::npos);
}

TEST(RuleParser, Limits) {
  std::string longname(kMaxRuleNameLength + 1, 'a');
  EXPECT_EQ(err("rule " + longname + " body contains \"a\"").substr(0, 26), "line 1: invalid rule name ");
  std::string longline = "rule A body contains \"" + std::string(kMaxRuleLineLength, 'a') + "\"";
  EXPECT_EQ(err(longline), "line 1: line longer than 20480 bytes");
  std::string longre = "rule A body regex /" + std::string(kMaxRegexLength + 1, 'a') + "/";
  EXPECT_EQ(err(longre), "line 1: rule 'A': regex longer than 16384 bytes");
  std::string many;
  for (size_t i = 0; i <= kMaxRules; ++i) many += "rule R" + std::to_string(i) + " body contains \"a\"\n";
  EXPECT_EQ(err(many), "line 10001: rule 'R10000': more than 10000 rules");
}


TEST(RuleParser, DecimalScores) {
  RuleSet s = ok("rule A helo contains \"a\" score 2.5\nrule B helo contains \"b\" score -0.001\n"
                 "rule C helo contains \"c\" score 1000000\nrule D helo contains \"d\" score 0.10\n");
  EXPECT_EQ(s.rules[0].score, 2500);
  EXPECT_EQ(s.rules[1].score, -1);
  EXPECT_EQ(s.rules[2].score, 1000000000);
  EXPECT_EQ(s.rules[3].score, 100);
  for (const char* bad : {"1.2345", "1.", ".5", "1e3", "+1", "1000000.001", "--1", "1.-2", "0x10"})
    EXPECT_EQ(err(std::string("rule A helo contains \"a\" score ") + bad),
              "line 1: rule 'A': score must be a number within +-1000000 with at most three decimals")
        << bad;
  EXPECT_EQ(format_score(2500), "2.5");
  EXPECT_EQ(format_score(-1), "-0.001");
  EXPECT_EQ(format_score(5000), "5");
  EXPECT_EQ(format_score(0), "0");
  EXPECT_EQ(format_score(-12340), "-12.34");
}

TEST(RuleParser, HeaderModifiersExistsNotAndFull) {
  RuleSet s = ok("rule A header:From:addr regex /@x\\.test$/\n"
                 "rule B header:Subject:raw contains \"=?utf-8?\"\n"
                 "rule C header:X-Mailer exists\n"
                 "rule D subject not regex /^Re:/\n"
                 "rule E full regex /^Received: /m\n"
                 "rule F to not icontains \"x\"\n");
  EXPECT_EQ(s.rules[0].header, "from:addr");
  EXPECT_EQ(s.rules[1].header, "subject:raw");
  EXPECT_EQ(s.rules[2].op, RuleOp::kExists);
  EXPECT_EQ(s.rules[2].header, "x-mailer");
  EXPECT_TRUE(s.rules[3].negate);
  EXPECT_EQ(s.rules[3].op, RuleOp::kRegex);
  EXPECT_EQ(s.rules[4].target, RuleTarget::kFull);
  EXPECT_TRUE(rule_target_streamed(RuleTarget::kFull));
  EXPECT_TRUE(s.rules[5].negate);
  EXPECT_TRUE(s.rules[5].caseless);
  EXPECT_EQ(err("rule A header:From:bogus regex /a/"),
            "line 1: rule 'A': header modifier must be raw, addr or name");
  EXPECT_EQ(err("rule A body exists"), "line 1: rule 'A': exists only applies to header targets");
  EXPECT_EQ(err("rule A subject not exists"),
            "line 1: rule 'A': 'not' must be followed by regex, contains or icontains");
}

TEST(RuleParser, MetaArithmeticAndComparisons) {
  RuleSet s = ok("rule A helo contains \"a\"\nrule B helo contains \"b\"\nrule C helo contains \"c\"\n"
                 "meta M (A + B + C) >= 2 && !(A * 3 - B == 1) || C != 0\n");
  const Rule& m = s.rules[3];
  ASSERT_EQ(m.op, RuleOp::kMeta);
  EXPECT_EQ(m.meta[m.meta_root].kind, MetaNode::Kind::kOr);
  // Constants are bounded, and a number glued to a name is refused.
  EXPECT_EQ(err("rule A helo contains \"a\"\nmeta M A > 10000000\n"),
            "line 2: rule 'M': meta constant must be an integer of at most 1000000");
  EXPECT_EQ(err("rule A helo contains \"a\"\nmeta M A > 1x\n"),
            "line 2: rule 'M': meta constant must be an integer");
  EXPECT_EQ(err("rule A helo contains \"a\"\nmeta M A >\n"),
            "line 2: rule 'M': expected a rule name, a number, '!' or '(' in meta expression");
}

TEST(RuleParser, Category) {
  RuleSet s = ok("rule A helo contains \"a\" category phish score 1\nrule B helo contains \"b\"\n"
                 "meta M A && B category malware action reject\nrule N helo contains \"n\" category bulk\n");
  EXPECT_EQ(s.rules[0].kind, RuleKind::kPhish);
  EXPECT_EQ(s.rules[1].kind, RuleKind::kSpam);
  EXPECT_EQ(s.rules[2].kind, RuleKind::kMalware);
  EXPECT_EQ(s.rules[3].kind, RuleKind::kBulk);
  EXPECT_EQ(err("rule A helo contains \"a\" category ham"),
            "line 1: rule 'A': category must be spam, phish, bulk or malware");
}

}  // namespace
}  // namespace mx::scan
