// scan/sa_cf.h — SpamAssassin .cf rule files read and translated into the rule language
// (scan/rules.h), then compiled like any tenant's rules (scan/hs_rules.h).
//
// What is read (SpamAssassin 4.0 syntax, as Debian's spamassassin package installs it):
//  - `header NAME SPEC =~ /re/mods`, `header NAME SPEC !~ /re/mods`, `header NAME exists:Field`;
//    SPEC is a field name with at most one of :raw :addr :name, or a pseudo-header: ALL, ToCc,
//    MESSAGEID (fed by the caller under those keys) or EnvelopeFrom (the envelope_from target).
//  - `body`, `rawbody`, `full`, `uri` NAME /re/mods; `meta NAME EXPR`; `score NAME S0 [S1 S2 S3]`
//    (score set 0 is used: no Bayes, no network tests); `describe`, `tflags`, `priority`, `lang`
//    and the other settings that do not change matching are read and ignored.
//  - ReplaceTags: replace_start/replace_end/replace_tag/replace_pre/replace_inter/replace_post and
//    replace_rules, applied to the named rules' patterns before translation.
//  - Conditionals: `ifplugin P`, `if plugin(P)`, `if can(...)`, `if (version >= N)` with `else` and
//    `endif`; a plugin is loaded when a `loadplugin P` line was read (the .pre files), version is
//    4.000001 and every `can(...)` feature is taken as present.
//  - Comments: from the first '#' not escaped as "\#" to the end of the line (SpamAssassin's rule).
//  - Later definitions of a rule replace earlier ones (local.cf overrides the stock rules).
//
// Translation into the rule language:
//  - regex delimiters /.../ and m{...}, m!...! (any non-alphanumeric delimiter, with bracket
//    pairs) become /.../ with every unescaped '/' written as "\/"; mods i s m are kept, x becomes
//    a leading "(?x)"; body and rawbody rules get the m flag (SpamAssassin matches them per
//    paragraph, so ^ and $ are closer to line anchors than to stream anchors).
//  - body and rawbody both read our `body` target (decoded text of the text parts; SpamAssassin's
//    body is additionally HTML-rendered: rules written for rendered text may miss in HTML parts
//    and rawbody rules may hit where SpamAssassin's body would not), `full` reads `full`, `uri`
//    reads `url`.
//  - score: set 0; a rule without a score line gets SpamAssassin's defaults (1.0; 0 for names
//    starting "__"; 0.01 for names starting "T_"). Scores keep three decimals (thousandths).
//  - meta: the same expression; a reference to a rule that is defined but not supported is the
//    constant 0 (SpamAssassin evaluates a rule it cannot run, such as a network test with network
//    tests off, as not hit), and the meta is listed in SaTranslation::metas_with_dropped_terms.
//    A reference to a rule defined nowhere makes the meta unsupported, as SpamAssassin disables it.
//
// What is not supported, each listed in SaTranslation::unsupported with its reason: eval: rules
// (Perl plugin functions), the plugin rule types (uri_detail, mimeheader, askdns, uridnsbl, ...),
// the relay pseudo-headers (X-Spam-Relays-*, ALL-TRUSTED, ...), [if-unset:], two modifiers on one
// header, meta expressions with operators outside the rule language, rules whose regex
// Hyperscan refuses (its message is the reason: backreferences, lookaround, ...) and rules past
// the rule language's bounds. There is no prefilter-plus-confirmation path.
//
// SECURITY: .cf files come from operators (and may be pasted by a tenant's administrator), so
// they are untrusted text: every bound below is checked, errors never throw, and the result is
// parsed again by parse_rules with all of scan/rules.h's bounds. Fuzzed by
// tests/fuzz/fuzz_sa_cf.cc.
// STANDARDS: none (SpamAssassin's Mail::SpamAssassin::Conf documentation describes the format).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "scan/hs_rules.h"

namespace mx::scan {

constexpr size_t kMaxSaFiles = 1024;              // files in one translation
constexpr size_t kMaxSaTextBytes = 64u << 20;     // all files together
constexpr size_t kMaxSaLineLength = 16384;        // one line, without its newline
constexpr size_t kMaxSaRules = 20000;             // distinct rule names defined
constexpr size_t kMaxSaReplaceTags = 4096;        // replace_tag/pre/inter/post definitions
constexpr size_t kMaxSaIfDepth = 32;              // nested if/ifplugin
constexpr size_t kMaxSaCompileRounds = 64;        // compile attempts that drop one refused rule

struct SaFile {
  std::string name;  // for messages ("72_active.cf")
  std::string text;
};

struct SaUnsupported {
  std::string rule;
  std::string file;
  uint32_t line = 0;
  std::string reason;
};

struct SaTranslation {
  std::string rules_text;                          // the rule language (scan/rules.h)
  std::vector<SaUnsupported> unsupported;          // by file and line
  std::vector<std::string> metas_with_dropped_terms;
  size_t rules_defined = 0;                        // distinct names defined by rule lines
  size_t rules_translated = 0;                     // rules in rules_text
  size_t lines_read = 0;
  size_t conditionals_false = 0;                   // if/ifplugin blocks skipped
};

// Reads the files in order (as SpamAssassin does: the .pre files first, then the .cf files
// sorted by name) and translates. Fails only on a broken bound (too many files, bytes, rules,
// nesting) or an unbalanced if/endif, naming the file and line; rules that cannot be translated
// are listed, not errors. With check_expressions, every regex is also checked with
// check_rule_expression (Hyperscan) and the refused ones are listed; without, only the rule
// language's parser checks them (faster; compile_sa_cf always checks).
Expected<SaTranslation> translate_sa_cf(std::span<const SaFile> files, bool check_expressions = true);

struct SaCompiled {
  HsRules rules;
  SaTranslation translation;  // rules_text is what `rules` was compiled from
};

// translate_sa_cf, then every translated regex is checked with check_rule_expression and the
// refused ones are moved to `unsupported` with Hyperscan's message; then HsRules::compile, and a
// rule the compiler refuses is moved too (at most kMaxSaCompileRounds times).
Expected<SaCompiled> compile_sa_cf(std::span<const SaFile> files);

// The .pre and .cf files of SpamAssassin's layout, in the order SpamAssassin reads them: the
// *.pre files of every directory (directories in order, files sorted by name), then the *.cf
// files of every directory the same way. A missing directory is skipped; no file at all is an
// error. Typical: {"/usr/share/spamassassin", "/etc/spamassassin"} (stock rules, then local.cf).
Expected<std::vector<SaFile>> read_sa_dirs(std::span<const std::string> dirs);

}  // namespace mx::scan
