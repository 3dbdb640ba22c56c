// tests/unit/scan/sa_cf_test.cc — SpamAssassin .cf files translated into the rule language and
// compiled (scan/sa_cf.h): each rule type, scores and their defaults, comments, conditionals,
// ReplaceTags, delimiters and modifiers, what is listed as unsupported and why, bounds, and
// the rules Debian's spamassassin package installs compiled and run on GTUBE.
#include "scan/sa_cf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace mx::scan {
namespace {

ByteSpan bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

SaTranslation tr(std::string_view text, std::string_view pre = "") {
  std::vector<SaFile> files;
  if (!pre.empty()) files.push_back({"init.pre", std::string(pre)});
  files.push_back({"test.cf", std::string(text)});
  auto t = translate_sa_cf(files);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(*t) : SaTranslation{};
}

std::string tr_err(std::string_view text) {
  std::vector<SaFile> files{{"test.cf", std::string(text)}};
  auto t = translate_sa_cf(files);
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : t.error().message;
}

std::optional<std::string> reason(const SaTranslation& t, std::string_view rule) {
  for (const auto& u : t.unsupported)
    if (u.rule == rule) return u.reason;
  return std::nullopt;
}

TEST(SaCf, EachRuleTypeTranslated) {
  SaTranslation t = tr(
      "header   SUBJ_FREE   Subject =~ /\\bfree\\b/i\n"
      "describe SUBJ_FREE   Subject says free\n"
      "header   NO_RE       Subject !~ /^Re:/\n"
      "header   FROM_ADDR   From:addr =~ /\\@example\\.test$/\n"
      "header   HAS_XM      exists:X-Mailer\n"
      "header   ENV_EMPTY   EnvelopeFrom =~ /^$/\n"
      "header   ALL_HDR     ALL =~ /^X-Foo: /m\n"
      "body     BODY_MONEY  /free money/i\n"
      "rawbody  RAW_TAG     /<blink>/i\n"
      "full     FULL_X      /^X-Bar: 1/m\n"
      "uri      URI_BIT     m{^https?://bit\\.ly/}i\n"
      "meta     BOTH        SUBJ_FREE && (BODY_MONEY || !NO_RE)\n"
      "score    SUBJ_FREE   2.5\n"
      "score    BODY_MONEY  0 1.1 2.2 3.3\n"
      "tflags   BODY_MONEY  nice\n"
      "priority BOTH        100\n");
  EXPECT_TRUE(t.unsupported.empty()) << t.unsupported[0].rule << ": " << t.unsupported[0].reason;
  EXPECT_EQ(t.rules_defined, 11u);
  EXPECT_EQ(t.rules_translated, 11u);
  EXPECT_EQ(t.rules_text,
            "rule SUBJ_FREE header:Subject regex /\\bfree\\b/i score 2.5\n"
            "rule NO_RE header:Subject not regex /^Re:/ score 1\n"
            "rule FROM_ADDR header:From:addr regex /\\@example\\.test$/ score 1\n"
            "rule HAS_XM header:X-Mailer exists score 1\n"
            "rule ENV_EMPTY envelope_from regex /^$/ score 1\n"
            "rule ALL_HDR header:ALL regex /^X-Foo: /m score 1\n"
            "rule BODY_MONEY body regex /free money/im score 0\n"
            "rule RAW_TAG body regex /<blink>/im score 1\n"
            "rule FULL_X full regex /^X-Bar: 1/m score 1\n"
            "rule URI_BIT url regex /^https?:\\/\\/bit\\.ly\\//i score 1\n"
            "meta BOTH SUBJ_FREE && (BODY_MONEY || !NO_RE) score 1\n");
}

TEST(SaCf, ScoreDefaultsAndRedefinition) {
  SaTranslation t = tr(
      "body __SUB /a/\n"
      "body T_TEST /b/\n"
      "body PLAIN /c/\n"
      "body LATER /old/\n"
      "score __SUB 5\n"
      "score PLAIN -0.0005\n"
      "body LATER /new/\n");
  EXPECT_EQ(t.rules_text,
            "rule __SUB body regex /a/m score 0\n"
            "rule T_TEST body regex /b/m score 0.01\n"
            "rule PLAIN body regex /c/m score -0.001\n"
            "rule LATER body regex /new/m score 1\n");
}

TEST(SaCf, CommentsAndEscapedHash) {
  SaTranslation t = tr(
      "# a comment line\n"
      "   # indented comment\n"
      "body HASH /\\#1 deal/   # trailing comment\n"
      "body CRLF /x/\r\n");
  EXPECT_EQ(t.rules_text, "rule HASH body regex /#1 deal/m score 1\nrule CRLF body regex /x/m score 1\n");
}

TEST(SaCf, Conditionals) {
  SaTranslation t = tr(
      "ifplugin Mail::SpamAssassin::Plugin::Loaded\n"
      "  body IN_LOADED /a/\n"
      "endif\n"
      "ifplugin Mail::SpamAssassin::Plugin::Missing\n"
      "  body IN_MISSING /b/\n"
      "else\n"
      "  body IN_ELSE /c/\n"
      "endif\n"
      "if (version >= 3.004000)\n"
      "  body NEW_ENOUGH /d/\n"
      "  if !plugin(Mail::SpamAssassin::Plugin::Loaded)\n"
      "    body NESTED_FALSE /e/\n"
      "  endif\n"
      "endif\n"
      "if version > 4.001000\n"
      "  body TOO_NEW /f/\n"
      "endif\n"
      "if can(Mail::SpamAssassin::Conf::feature_welcomelist_blocklist) && plugin(Loaded)\n"
      "  body CAN_AND /g/\n"
      "endif\n"
      "if some_unknown_thing\n"
      "  body UNKNOWN /h/\n"
      "endif\n",
      "loadplugin Mail::SpamAssassin::Plugin::Loaded\n");
  EXPECT_EQ(t.rules_text,
            "rule IN_LOADED body regex /a/m score 1\n"
            "rule IN_ELSE body regex /c/m score 1\n"
            "rule NEW_ENOUGH body regex /d/m score 1\n"
            "rule CAN_AND body regex /g/m score 1\n");
  EXPECT_EQ(t.conditionals_false, 4u);
  EXPECT_EQ(tr_err("endif\n"), "test.cf:1: endif without if");
  EXPECT_EQ(tr_err("ifplugin X\nbody A /a/\n"), "test.cf: 1 if/ifplugin without endif");
  EXPECT_EQ(tr_err("if 1\nelse\nelse\nendif\n"), "test.cf:3: else without if");
  std::string deep;
  for (size_t i = 0; i <= kMaxSaIfDepth; ++i) deep += "if version >= 1\n";
  EXPECT_EQ(tr_err(deep), "test.cf:33: if/ifplugin nested deeper than 32");
}

TEST(SaCf, ReplaceTags) {
  SaTranslation t = tr(
      "replace_tag   A   [a@]\n"
      "replace_tag   V   (?:v|\\\\\\/)\n"
      "replace_inter W1  [\\s_]?\n"
      "replace_post  P1  +\n"
      "body  OBFU  /<V><A>g/i\n"
      "body  INTER /<inter W1><V><A><A>/i\n"
      "body  POST  /<post P1><A>x<A>/\n"
      "body  NOT_LISTED /<A>/\n"
      "replace_rules OBFU INTER POST\n");
  EXPECT_EQ(t.rules_text,
            "rule OBFU body regex /(?:v|\\\\\\/)[a@]g/im score 1\n"
            "rule INTER body regex /(?:v|\\\\\\/)[\\s_]?[a@][\\s_]?[a@]/im score 1\n"
            "rule POST body regex /[a@]+x[a@]+/m score 1\n"
            "rule NOT_LISTED body regex /<A>/m score 1\n");
}

TEST(SaCf, DelimitersAndModifiers) {
  SaTranslation t = tr(
      "body BRACES m{a/b\\}c}i\n"
      "body BANG   m!x{2}!\n"
      "body EXT    /a b # not a comment in SA? it is: cut here\n"
      "body XFLAG  /a \\s b/x\n"
      "body GFLAG  /ab/g\n"
      "body BADMOD /ab/e\n"
      "body UNTERM /ab\n");
  EXPECT_EQ(t.rules_text,
            "rule BRACES body regex /a\\/b\\}c/im score 1\n"
            "rule BANG body regex /x{2}/m score 1\n"
            "rule XFLAG body regex /(?x)a \\s b/m score 1\n"
            "rule GFLAG body regex /ab/m score 1\n");
  EXPECT_EQ(reason(t, "EXT"), "unterminated regular expression");
  EXPECT_EQ(reason(t, "BADMOD"), "regex modifier 'e'");
  EXPECT_EQ(reason(t, "UNTERM"), "unterminated regular expression");
}

TEST(SaCf, UnsupportedListedWithReasonsAndMetasGetZero) {
  SaTranslation t = tr(
      "header  RCVD_IN_X   eval:check_rbl('x', 'x.example.')\n"
      "body    EVAL_BODY   eval:check_stock_info()\n"
      "header  RELAYS      X-Spam-Relays-Untrusted =~ /rdns= /\n"
      "header  UNSET       Subject =~ /x/ [if-unset: none]\n"
      "header  TWO_MODS    From:addr:raw =~ /x/\n"
      "mimeheader MIME_X   Content-Type =~ /x/\n"
      "askdns  ASK_X       _SENDERDOMAIN_ A /x/\n"
      "body    BACKREF     /(a)\\1/\n"
      "body    LOOKAHEAD   /foo(?!bar)/\n"
      "body    GOOD        /good/\n"
      "meta    USES_BAD    GOOD && !RCVD_IN_X && BACKREF\n"
      "meta    USES_GOOD   GOOD\n"
      "meta    UNDEFINED   GOOD && NO_SUCH_RULE\n"
      "meta    DIVIDES     GOOD / 2\n"
      "meta    DECIMAL     GOOD > 0.5\n"
      "meta    OVER_UNDEF  UNDEFINED || GOOD\n"
      "1BAD    digits      /x/\n"
      "body    9LIVES      /x/\n");
  EXPECT_EQ(reason(t, "RCVD_IN_X"), "eval: rule (a Perl plugin function)");
  EXPECT_EQ(reason(t, "EVAL_BODY"), "eval: rule (a Perl plugin function)");
  EXPECT_EQ(reason(t, "RELAYS"),
            "pseudo-header X-Spam-Relays-Untrusted (computed by SpamAssassin's relay parser)");
  EXPECT_EQ(reason(t, "UNSET"), "[if-unset:] is not translated");
  EXPECT_EQ(reason(t, "TWO_MODS"), "more than one header modifier");
  EXPECT_EQ(reason(t, "MIME_X"), "rule type 'mimeheader' (MIMEHeader plugin)");
  EXPECT_EQ(reason(t, "ASK_X"), "rule type 'askdns' (AskDNS plugin (network))");
  ASSERT_TRUE(reason(t, "BACKREF"));
  EXPECT_TRUE(reason(t, "BACKREF")->starts_with("hyperscan: Back-references")) << *reason(t, "BACKREF");
  ASSERT_TRUE(reason(t, "LOOKAHEAD"));
  EXPECT_TRUE(reason(t, "LOOKAHEAD")->starts_with("hyperscan: Zero-width")) << *reason(t, "LOOKAHEAD");
  EXPECT_EQ(reason(t, "UNDEFINED"), "meta refers to undefined rule NO_SUCH_RULE");
  EXPECT_EQ(reason(t, "DIVIDES"),
            "meta uses operator '/' (the rule language has && || ! + - * and comparisons)");
  EXPECT_EQ(reason(t, "DECIMAL"), "meta uses a non-integer constant 0.5");
  EXPECT_TRUE(reason(t, "9LIVES")->starts_with("rule name not valid"));
  EXPECT_FALSE(reason(t, "GOOD"));
  // Dropped rules are 0 in the metas over them; metas over dropped metas too.
  EXPECT_NE(t.rules_text.find("meta USES_BAD GOOD && !0 && 0 score 1\n"), std::string::npos) << t.rules_text;
  EXPECT_NE(t.rules_text.find("meta OVER_UNDEF 0 || GOOD score 1\n"), std::string::npos);
  EXPECT_EQ(t.metas_with_dropped_terms, (std::vector<std::string>{"OVER_UNDEF", "USES_BAD"}));
  // Listed by file and line.
  ASSERT_FALSE(t.unsupported.empty());
  EXPECT_EQ(t.unsupported[0].rule, "RCVD_IN_X");
  EXPECT_EQ(t.unsupported[0].file, "test.cf");
  EXPECT_EQ(t.unsupported[0].line, 1u);
}

TEST(SaCf, Bounds) {
  std::vector<SaFile> many(kMaxSaFiles + 1, SaFile{"x.cf", ""});
  auto t = translate_sa_cf(many);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "more than 1024 rule files");
  EXPECT_EQ(tr_err("body A /a/\n" + std::string(kMaxSaLineLength + 1, 'x') + "\n"),
            "test.cf:2: line longer than 16384 bytes");
  std::string rules;
  for (size_t i = 0; i <= kMaxSaRules; ++i) rules += "body R" + std::to_string(i) + " /a/\n";
  EXPECT_EQ(tr_err(rules), "test.cf:20001: more than 20000 rules");
  std::string tags;
  for (size_t i = 0; i <= kMaxSaReplaceTags; ++i) tags += "replace_tag T" + std::to_string(i) + " x\n";
  EXPECT_EQ(tr_err(tags), "test.cf:4097: more than 4096 replace tags");
}

// A rule the compiler refuses is moved to the unsupported list, the rest compiles and matches.
TEST(SaCf, CompileAndMatch) {
  std::vector<SaFile> files{{"test.cf",
                             "header SUBJ Subject =~ /cheap/i\nscore SUBJ 1.5\n"
                             "body   MONEY /free\\s+money/i\nscore MONEY 2.25\n"
                             "body   REPEAT /(?:x[a-z]{1,3}y){40000}/\n"
                             "meta   BOTH SUBJ && MONEY && !REPEAT\nscore BOTH 0.25\n"
                             "uri    SHORT /bit\\.ly/\n"}};
  auto c = compile_sa_cf(files);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(reason(c->translation, "REPEAT"));
  EXPECT_TRUE(reason(c->translation, "REPEAT")->starts_with("hyperscan: ")) << *reason(c->translation, "REPEAT");
  auto scratch = c->rules.make_scratch();
  ASSERT_TRUE(scratch.ok());
  auto m = RuleMatcher::create(c->rules, *scratch);
  ASSERT_TRUE(m.ok());
  m->begin();
  m->header("Subject", bytes("Cheap pills"));
  m->body(bytes("get free\r\n money now"));
  m->field(RuleTarget::kUrl, bytes("http://bit.ly/x"));
  const RuleMatch& r = m->finish();
  EXPECT_EQ(r.score, 1500 + 2250 + 250 + 1000);
  std::vector<std::string> names;
  for (auto n : m->hit_names()) names.emplace_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"SUBJ", "MONEY", "BOTH", "SHORT"}));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::vector<SaFile> debian_files() {
  std::vector<std::string> dirs{"/usr/share/spamassassin", "/etc/spamassassin"};
  auto files = read_sa_dirs(dirs);
  EXPECT_TRUE(files.ok()) << files.error().message << " (scripts/setup installs spamassassin)";
  return files.ok() ? std::move(*files) : std::vector<SaFile>{};
}

// The rules Debian's spamassassin package installs (scripts/setup installs it) are read and
// translated in every build, sanitizers included, without the per-rule Hyperscan checks (those
// take minutes under ASan; DebianStockRules runs them): every rule left out has a reason.
TEST(SaCf, DebianStockRulesTranslate) {
  std::vector<SaFile> files = debian_files();
  ASSERT_FALSE(files.empty());
  auto t = translate_sa_cf(files, /*check_expressions=*/false);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->rules_translated + t->unsupported.size(), t->rules_defined);
  EXPECT_GT(t->rules_translated, t->unsupported.size());
  EXPECT_NE(t->rules_text.find("rule GTUBE body regex "), std::string::npos);
  for (const auto& u : t->unsupported) EXPECT_FALSE(u.reason.empty()) << u.rule;
}

// ... and compile and run: the result finds GTUBE in a body. The whole compile takes ~20 s and
// ~4 minutes under ASan (Hyperscan's compiler allocates heavily), so sanitizer builds leave it
// to the default build.
TEST(SaCf, DebianStockRules) {
  if (kSanitized) GTEST_SKIP() << "the full Hyperscan compile runs in the default build";
  std::vector<SaFile> files_v = debian_files();
  ASSERT_FALSE(files_v.empty());
  auto* files = &files_v;
  auto c = compile_sa_cf(*files);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const SaTranslation& t = c->translation;
  std::printf("Debian SpamAssassin rules: %zu files, %zu rules defined, %zu translated, %zu unsupported\n",
              files->size(), t.rules_defined, t.rules_translated, t.unsupported.size());
  EXPECT_EQ(t.rules_translated + t.unsupported.size(), t.rules_defined);
  EXPECT_GT(t.rules_translated, t.unsupported.size());  // most rules run
  for (const auto& u : t.unsupported) {
    EXPECT_FALSE(u.reason.empty()) << u.rule;
    EXPECT_FALSE(u.file.empty()) << u.rule;
  }
  auto scratch = c->rules.make_scratch();
  ASSERT_TRUE(scratch.ok());
  auto m = RuleMatcher::create(c->rules, *scratch);
  ASSERT_TRUE(m.ok());
  auto run = [&](std::string_view body) {
    m->begin();
    m->header("Subject", bytes("test"));
    m->body(bytes(body));
    m->finish();
    std::vector<std::string> names;
    for (auto n : m->hit_names()) names.emplace_back(n);
    return names;
  };
  auto gtube = run("Hello\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n");
  EXPECT_NE(std::find(gtube.begin(), gtube.end(), "GTUBE"), gtube.end());
  EXPECT_GE(m->finish().score, 1000 * 1000);
  auto plain = run("Hello, the meeting is at ten tomorrow.\n");
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "GTUBE"), plain.end());
  // The compiled set survives serialisation (the control plane ships it to the data plane).
  auto blob = c->rules.serialize();
  ASSERT_TRUE(blob.ok());
  auto back = HsRules::deserialize(bytes(*blob));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->rules().rules.size(), t.rules_translated);
}

}  // namespace
}  // namespace mx::scan
