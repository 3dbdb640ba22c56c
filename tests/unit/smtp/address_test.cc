// tests/unit/smtp/address_test.cc — RFC 5321 path grammar and ESMTP parameters.
#include "smtp/address.h"

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

PathError parse(std::string_view s, Mailbox& m, bool utf8 = false, bool allow_null = false) {
  std::string_view rest;
  return parse_path(s, allow_null, utf8, m, rest);
}

TEST(Path, PlainAndNormalised) {
  Mailbox m;
  std::string_view rest;
  ASSERT_EQ(parse_path("<Bob.Smith@Example.TEST> SIZE=1", false, false, m, rest), PathError::kOk);
  EXPECT_EQ(m.local, "Bob.Smith");  // local parts are case-sensitive: kept
  EXPECT_EQ(m.domain, "example.test");
  EXPECT_EQ(rest, " SIZE=1");
  EXPECT_EQ(m.address(), "Bob.Smith@example.test");
}

TEST(Path, NullPathOnlyWhereAllowed) {
  Mailbox m;
  EXPECT_EQ(parse("<>", m, false, true), PathError::kOk);
  EXPECT_TRUE(m.null_path);
  EXPECT_EQ(parse("<>", m, false, false), PathError::kSyntax);
}

TEST(Path, QuotedLocalParts) {
  Mailbox m;
  ASSERT_EQ(parse(R"(<"john \"j\" doe"@example.test>)", m), PathError::kOk);
  EXPECT_EQ(m.local, "john \"j\" doe");
  EXPECT_TRUE(m.quoted_local);
  EXPECT_FALSE(m.routing_chars);
  EXPECT_EQ(m.address(), R"("john \"j\" doe"@example.test)");
  ASSERT_EQ(parse(R"(<"a>b"@example.test>)", m), PathError::kOk);  // '>' inside quotes
  EXPECT_EQ(m.local, "a>b");
}

TEST(Path, RoutingFormsAreFlaggedOrRefused) {
  Mailbox m;
  ASSERT_EQ(parse("<user%other@example.test>", m), PathError::kOk);
  EXPECT_TRUE(m.routing_chars);
  ASSERT_EQ(parse("<other!user@example.test>", m), PathError::kOk);
  EXPECT_TRUE(m.routing_chars);
  ASSERT_EQ(parse(R"(<"user@other"@example.test>)", m), PathError::kOk);
  EXPECT_TRUE(m.routing_chars);
  EXPECT_EQ(m.domain, "example.test");
  ASSERT_EQ(parse("<@a.example,@b.example:user@example.test>", m), PathError::kOk);
  EXPECT_TRUE(m.source_route);
  EXPECT_EQ(m.domain, "example.test");  // the route is ignored: the final domain decides
  EXPECT_EQ(parse("<user@example.test@other.example>", m), PathError::kSyntax);
  EXPECT_EQ(parse("<@a.example:@b.example:user@x.test>", m), PathError::kSyntax);
  EXPECT_EQ(parse("<@:user@x.test>", m), PathError::kSyntax);
}

TEST(Path, DomainLiterals) {
  Mailbox m;
  ASSERT_EQ(parse("<u@[198.18.0.2]>", m), PathError::kOk);
  EXPECT_TRUE(m.domain_literal);
  EXPECT_EQ(m.domain, "[198.18.0.2]");
  ASSERT_EQ(parse("<u@[IPv6:2001:db8::2]>", m), PathError::kOk);
  EXPECT_EQ(parse("<u@[198.18.0.256]>", m), PathError::kSyntax);
  EXPECT_EQ(parse("<u@[IPv6:2001:db8::g]>", m), PathError::kSyntax);
  EXPECT_EQ(parse("<u@[x-tag:anything]>", m), PathError::kSyntax);  // general literals: refused
}

TEST(Path, SyntaxErrors) {
  Mailbox m;
  for (const char* s : {"", "<", "user@example.test", "<user@example.test", "<user>", "<@example.test>",
                        "<user@>", "<.user@example.test>", "<user.@example.test>", "<us..er@example.test>",
                        "<user@example.test.>", "<user@.example.test>", "<user@-a.test>", "<user@a-.test>",
                        "<user@a_b.test>", "<us er@example.test>", "<\"unterminated@example.test>",
                        "<\"bad\\\x01\"@example.test>", "<user(comment)@example.test>"})
    EXPECT_EQ(parse(s, m), PathError::kSyntax) << s;
  std::string with_nul("<us\0er@example.test>", 20);
  EXPECT_EQ(parse(with_nul, m), PathError::kSyntax);
  EXPECT_EQ(parse("<us\rer@example.test>", m), PathError::kSyntax);
  EXPECT_EQ(parse("<us\ner@example.test>", m), PathError::kSyntax);
}

TEST(Path, Lengths) {
  Mailbox m;
  std::string local(64, 'a');
  EXPECT_EQ(parse("<" + local + "@example.test>", m), PathError::kOk);
  EXPECT_EQ(parse("<" + local + "a@example.test>", m), PathError::kTooLong);
  std::string label(63, 'b');
  EXPECT_EQ(parse("<u@" + label + ".test>", m), PathError::kOk);
  EXPECT_EQ(parse("<u@" + label + "b.test>", m), PathError::kSyntax);  // label > 63
  std::string domain;
  for (int i = 0; i < 5; ++i) domain += label + ".";
  EXPECT_EQ(parse("<u@" + domain + "test>", m), PathError::kTooLong);  // path > 256
}

TEST(Path, Utf8NeedsSmtputf8AndMustBeValid) {
  Mailbox m;
  EXPECT_EQ(parse("<j\xc3\xb6rg@example.test>", m, false), PathError::kNeedsUtf8);
  ASSERT_EQ(parse("<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", m, true), PathError::kOk);
  EXPECT_TRUE(m.utf8);
  EXPECT_EQ(m.domain, "b\xc3\xbc" "cher.example");
  EXPECT_EQ(parse("<j\xc3rg@example.test>", m, true), PathError::kSyntax);        // truncated
  EXPECT_EQ(parse("<j\xc0\xafrg@example.test>", m, true), PathError::kSyntax);    // overlong
  EXPECT_EQ(parse("<j\xed\xa0\x80rg@example.test>", m, true), PathError::kSyntax);  // surrogate
  EXPECT_EQ(parse("<j\xf4\x90\x80\x80@example.test>", m, true), PathError::kSyntax);  // > U+10FFFF
}

TEST(Domain, HeloNames) {
  EXPECT_TRUE(valid_domain("mail.example.net", false));
  EXPECT_TRUE(valid_domain("[198.18.0.9]", false));
  EXPECT_FALSE(valid_domain("under_score.example", false));
  EXPECT_TRUE(valid_domain("under_score.example", false, true));
  EXPECT_FALSE(valid_domain("bad host", false, true));
  EXPECT_FALSE(valid_domain("", false));
  EXPECT_FALSE(valid_domain(std::string(256, 'a'), false));
}

TEST(Params, Mail) {
  MailParams p;
  std::string bad;
  ASSERT_EQ(parse_mail_params(" SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1", p, bad), ParamError::kOk);
  EXPECT_EQ(p.size, 1000u);
  EXPECT_EQ(p.body, Body::k8BitMime);
  EXPECT_TRUE(p.smtputf8);
  EXPECT_EQ(p.ret, DsnRet::kHdrs);
  EXPECT_EQ(p.envid, "QQ+2B1");
  EXPECT_EQ(parse_mail_params(" size=1 body=7bit", p = {}, bad), ParamError::kOk);
  struct Bad { const char* in; ParamError e; };
  for (Bad b : {Bad{" SIZE=", ParamError::kSyntax}, Bad{" SIZE=x", ParamError::kBadValue},
                Bad{" SIZE=123456789012345678901", ParamError::kBadValue}, Bad{" SIZE=1 SIZE=1", ParamError::kDuplicate},
                Bad{" BODY=BINARYMIME", ParamError::kBadValue}, Bad{" SMTPUTF8=yes", ParamError::kBadValue},
                Bad{" ENVID=a+zz", ParamError::kBadValue}, Bad{" ENVID=a+4", ParamError::kBadValue},
                Bad{" X-FOO=1", ParamError::kUnknown}, Bad{" =1", ParamError::kSyntax}, Bad{"SIZE=1", ParamError::kSyntax},
                Bad{" SIZE=1=2", ParamError::kSyntax}})
    EXPECT_EQ(parse_mail_params(b.in, p = {}, bad), b.e) << b.in;
  std::string many;
  for (int i = 0; i < 20; ++i) many += " SMTPUTF8";
  EXPECT_NE(parse_mail_params(many, p = {}, bad), ParamError::kOk);
}

TEST(Params, Rcpt) {
  RcptParams p;
  std::string bad;
  ASSERT_EQ(parse_rcpt_params(" NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+40example.test", p, bad), ParamError::kOk);
  EXPECT_EQ(p.notify, kNotifySuccess | kNotifyDelay);
  EXPECT_EQ(p.orcpt, "rfc822;bob+40example.test");
  for (const char* b : {" NOTIFY=NEVER,SUCCESS", " NOTIFY=SUCCESS,SUCCESS", " NOTIFY=SOMETIMES", " ORCPT=rfc822",
                        " ORCPT=;x", " ORCPT=rfc822;", " ORCPT=rfc822;a+G0"})
    EXPECT_EQ(parse_rcpt_params(b, p = {}, bad), ParamError::kBadValue) << b;
}

}  // namespace
}  // namespace mx::smtp
