// tests/unit/scan/pipeline_test.cc — one message through the whole scan (scan/pipeline.h): real
// MIME parsing, real Hyperscan rules, a real libclamav engine with a signature database written
// by sigtool, and policy. EICAR is found as a plain attachment, in base64, in quoted-printable,
// inside a zip, inside a nested multipart, inside an attached message/rfc822 (plain and base64-
// encoded), behind a lying filename and content type, and in either reading of a part with two
// Content-Transfer-Encodings; GTUBE is found in the body; a clean message is delivered. Also:
// the rule targets the scanner feeds (headers and their :addr/:raw forms, all, body with the
// subject, rawbody, full, url, attachments, envelope) and results independent of chunking.
#include "scan/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/scan/av_test_util.h"

namespace mx::scan {
namespace {

using avtest::TempDir;

ByteSpan span_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string b64(std::string_view in) {
  static constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlpha[(v >> s) & 63];
    if ((i / 3 + 1) % 19 == 0) out += "\r\n";
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlpha[(v >> 18) & 63];
    out += kAlpha[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlpha[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out + "\r\n";
}

// Quoted-printable with every '=' and a few other characters encoded, soft breaks every 40.
std::string qp(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t col = 0;
  for (char c : in) {
    std::string piece;
    if (c == '=' || c == '$' || c == '!') {
      piece = std::string("=") + kHex[uint8_t(c) >> 4] + kHex[uint8_t(c) & 15];
    } else {
      piece = std::string(1, c);
    }
    if (col + piece.size() > 40) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  }
  return out + "\r\n";
}

const char kGtube[] = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

const char kRules[] =
    "rule GTUBE body contains \"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\" score 1000\n"
    "rule SUBJ_IN_BODY body regex /^Quarterly figures$/m score 0.1\n"
    "rule FROM_ADDR header:From:addr regex /^boss@corp\\.test$/ score 0.2\n"
    "rule FROM_NAME header:From:name regex /^The Boss$/ score 0.3\n"
    "rule SUBJ_RAW header:Subject:raw contains \"=?utf-8?\" score 0.4\n"
    "rule ALL_HDRS header:ALL regex /^X-Campaign: /m score 0.5\n"
    "rule RAW_B64 rawbody regex /^UEsDB/m score 0.6\n"
    "rule FULL_RCVD full regex /^Received: from evil/m score 0.7\n"
    "rule URL_SHORT url regex /bit\\.ly/ score 0.8\n"
    "rule EXE_NAME attachment_name regex /\\.exe$/i score 0.9\n"
    "rule ZIP_TYPE attachment_type contains \"zip\" score 1.1\n"
    "rule BIG attachment_size > 100 score 1.2\n"
    "rule ENV env_from_placeholder\n";

std::string rules_text() {
  std::string t = kRules;
  t.replace(t.find("rule ENV env_from_placeholder\n"), std::string::npos,
            "rule ENV envelope_from regex /@spammer\\.test$/ score 1.3\n"
            "rule RCPT rcpt contains \"ceo@\" score 1.4\n"
            "rule HELO helo regex /^localhost$/ score 1.5\n"
            "rule PHISHY body icontains \"verify your account\" category phish score 0.1\n");
  return t;
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TempDir();
    reason_ = avtest::write_eicar_database(*db_);
    if (reason_.empty()) {
      auto e = AvEngine::load(AvConfig{db_->path(), AvLimits{}});
      if (e) engine_ = std::move(*e).release();
      else reason_ = "load failed: " + e.error().message;
    }
    auto r = HsRules::compile(rules_text());
    ASSERT_TRUE(r.ok()) << r.error().message;
    rules_ = new HsRules(std::move(*r));
    auto s = rules_->make_scratch();
    ASSERT_TRUE(s.ok());
    scratch_ = new HsScratch(std::move(*s));
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete scratch_;
    delete rules_;
    delete db_;
    engine_ = nullptr;
  }
  void SetUp() override {
    if (reason_.rfind("sigtool is not installed", 0) == 0) MX_SKIP_OR_FAIL_WITHOUT_TOOL(reason_);
    ASSERT_NE(engine_, nullptr) << reason_;
    auto sc = MessageScanner::create(*rules_, *scratch_);
    ASSERT_TRUE(sc.ok()) << sc.error().message;
    scanner_ = std::move(*sc);
  }

  struct Result {
    Verdict verdict;
    std::vector<std::string> hits;
    std::vector<AvResult> av;
    uint64_t flags = 0;
  };
  // Scans msg fed in chunks of `chunk` bytes (0: whole).
  Result scan(const std::string& msg, size_t chunk = 0, const Envelope& env = {}) {
    scanner_->begin(env);
    if (chunk == 0) chunk = msg.size() + 1;
    for (size_t i = 0; i < msg.size(); i += chunk) scanner_->feed(span_of(msg).subspan(i, std::min(chunk, msg.size() - i)));
    const ScanOutcome& o = scanner_->finish();
    Result r;
    r.av = scan_av_objects(*engine_, o);
    r.verdict = decide_verdict(o, r.av, env, TenantPolicy{}, UserPrefs{});
    for (const RuleHit& h : o.hits) r.hits.push_back(h.name);
    r.flags = o.mime.flags;
    return r;
  }
  static bool infected(const Result& r) {
    return r.verdict.cls == VerdictClass::kMalware && r.verdict.action == PolicyAction::kReject;
  }

  static TempDir* db_;
  static AvEngine* engine_;
  static std::string reason_;
  static HsRules* rules_;
  static HsScratch* scratch_;
  std::unique_ptr<MessageScanner> scanner_;
};
TempDir* PipelineTest::db_ = nullptr;
AvEngine* PipelineTest::engine_ = nullptr;
std::string PipelineTest::reason_;
HsRules* PipelineTest::rules_ = nullptr;
HsScratch* PipelineTest::scratch_ = nullptr;

std::string head(const std::string& ct) {
  return "From: a@example.test\r\nTo: b@example.test\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
         "Content-Type: " + ct + "\r\n\r\n";
}
std::string mixed(const std::string& parts) {
  return head("multipart/mixed; boundary=\"BND\"") + "preamble\r\n--BND\r\n"
         "Content-Type: text/plain\r\n\r\nsee attached\r\n" + parts + "--BND--\r\n";
}
std::string part(const std::string& headers, const std::string& body) {
  return "--BND\r\n" + headers + "\r\n\r\n" + body + "\r\n";
}

TEST_F(PipelineTest, CleanMessageIsDelivered) {
  Result r = scan(head("text/plain") + "Hello, lunch at noon?\r\n");
  EXPECT_EQ(r.verdict.cls, VerdictClass::kClean) << r.verdict.reason;
  EXPECT_EQ(r.verdict.action, PolicyAction::kDeliver);
  ASSERT_FALSE(r.av.empty());
  for (const AvResult& a : r.av) EXPECT_EQ(a.verdict, AvVerdict::kClean) << a.name;
}

TEST_F(PipelineTest, GtubeInBodyIsSpam) {
  Result r = scan(head("text/plain") + "Hi\r\n" + kGtube + "\r\n");
  EXPECT_EQ(r.verdict.cls, VerdictClass::kSpam);
  EXPECT_EQ(r.verdict.action, PolicyAction::kTag);
  EXPECT_NE(std::find(r.hits.begin(), r.hits.end(), "GTUBE"), r.hits.end());
  // base64-encoded GTUBE is decoded before the body rules see it.
  Result b = scan(head("text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64") +
                  b64(std::string("Hi\r\n") + kGtube + "\r\n"));
  EXPECT_EQ(b.verdict.cls, VerdictClass::kSpam);
}

TEST_F(PipelineTest, EicarPlainAttachment) {
  Result r = scan(mixed(part("Content-Type: application/octet-stream; name=\"eicar.com\"", avtest::eicar())));
  EXPECT_TRUE(infected(r)) << verdict_class_name(r.verdict.cls) << " " << r.verdict.reason;
}

TEST_F(PipelineTest, EicarBase64Attachment) {
  Result r = scan(mixed(part("Content-Type: application/octet-stream; name=\"eicar.com\"\r\n"
                             "Content-Transfer-Encoding: base64", b64(avtest::eicar()))));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
}

TEST_F(PipelineTest, EicarQuotedPrintableAttachment) {
  Result r = scan(mixed(part("Content-Type: text/plain; name=\"eicar.txt\"\r\n"
                             "Content-Transfer-Encoding: quoted-printable", qp(avtest::eicar()))));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
}

TEST_F(PipelineTest, EicarInsideZip) {
  const std::string zip = avtest::stored_zip("eicar.com", avtest::eicar());
  Result r = scan(mixed(part("Content-Type: application/zip; name=\"files.zip\"\r\n"
                             "Content-Transfer-Encoding: base64", b64(zip))));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
  EXPECT_NE(std::find(r.hits.begin(), r.hits.end(), "ZIP_TYPE"), r.hits.end());
  EXPECT_NE(std::find(r.hits.begin(), r.hits.end(), "RAW_B64"), r.hits.end());
}

TEST_F(PipelineTest, EicarInsideNestedMultipart) {
  std::string inner = "Content-Type: multipart/alternative; boundary=\"IN\"\r\n\r\n--IN\r\n"
                      "Content-Type: text/plain\r\n\r\nhi\r\n--IN\r\n"
                      "Content-Type: multipart/related; boundary=\"DEEP\"\r\n\r\n--DEEP\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                      b64(avtest::eicar()) + "--DEEP--\r\n--IN--\r\n";
  Result r = scan(head("multipart/mixed; boundary=\"BND\"") + "--BND\r\n" + inner + "--BND--\r\n");
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
}

TEST_F(PipelineTest, EicarInsideAttachedMessage) {
  std::string attached = "From: x@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
                         "Content-Type: multipart/mixed; boundary=\"M2\"\r\n\r\n--M2\r\n"
                         "Content-Type: application/octet-stream; name=\"a.com\"\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\n" + b64(avtest::eicar()) + "--M2--\r\n";
  Result r = scan(mixed(part("Content-Type: message/rfc822", attached)));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
  // The attached message itself base64-encoded (RFC 2046 forbids it; readers decode it anyway).
  Result e = scan(mixed(part("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64", b64(attached))));
  EXPECT_TRUE(infected(e)) << e.verdict.reason;
  EXPECT_NE(e.flags & kEncodedMultipart, 0u);
}

TEST_F(PipelineTest, EicarBehindLyingNameAndType) {
  Result r = scan(mixed(part("Content-Type: image/png; name=\"holiday.png\"\r\n"
                             "Content-Disposition: inline; filename=\"holiday.png\"\r\n"
                             "Content-Transfer-Encoding: base64", b64(avtest::eicar()))));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
}

TEST_F(PipelineTest, EicarInEitherReadingOfDuplicateEncodings) {
  // One reader takes 7bit (sees base64 text), another base64 (sees EICAR): both are scanned.
  Result r = scan(mixed(part("Content-Type: application/octet-stream\r\n"
                             "Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64",
                             b64(avtest::eicar()))));
  EXPECT_TRUE(infected(r)) << r.verdict.reason;
  EXPECT_NE(r.flags & kDupEncoding, 0u);
}

TEST_F(PipelineTest, RuleTargetsFedByTheScanner) {
  std::string msg =
      "Received: from evil.example.test\r\n"
      "From: \"The Boss\" <boss@corp.test>\r\n"
      "To: ceo@corp.test\r\n"
      "Subject: =?utf-8?q?Quarterly_figures?=\r\n"
      "X-Campaign: 42\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n"
      "--BND\r\nContent-Type: text/html\r\n\r\n<a href=\"https://bit.ly/x\">Please verify your account</a>\r\n"
      "--BND\r\nContent-Type: application/octet-stream; name=\"setup.exe\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" + b64("MZ" + std::string(200, '\x01')) + "--BND--\r\n";
  Envelope env;
  env.mail_from = "x@spammer.test";
  env.rcpts = {"ceo@corp.test"};
  env.helo = "localhost";
  env.client_ip = "198.18.0.1";
  Result r = scan(msg, 0, env);
  std::vector<std::string> want = {"SUBJ_IN_BODY", "FROM_ADDR", "FROM_NAME", "SUBJ_RAW", "ALL_HDRS",
                                   "FULL_RCVD", "URL_SHORT", "EXE_NAME", "BIG", "ENV", "RCPT", "HELO", "PHISHY"};
  for (const std::string& w : want)
    EXPECT_NE(std::find(r.hits.begin(), r.hits.end(), w), r.hits.end()) << w;
  EXPECT_EQ(std::find(r.hits.begin(), r.hits.end(), "GTUBE"), r.hits.end());
  // A phish-category hit makes the message phish (quarantined by default).
  EXPECT_EQ(r.verdict.cls, VerdictClass::kPhish);
  EXPECT_EQ(r.verdict.action, PolicyAction::kQuarantine);
}

TEST_F(PipelineTest, SameVerdictHoweverTheMessageIsSplit) {
  const std::string zip = avtest::stored_zip("eicar.com", avtest::eicar());
  std::string msg = mixed(part("Content-Type: application/zip; name=\"f.zip\"\r\nContent-Transfer-Encoding: base64", b64(zip)) +
                          part("Content-Type: text/plain", std::string("text ") + kGtube));
  Result whole = scan(msg);
  ASSERT_TRUE(infected(whole));
  std::mt19937 rng(7);
  for (size_t chunk : {1u, 2u, 3u, 7u, 64u, 1000u}) {
    Result r = scan(msg, chunk);
    EXPECT_EQ(r.verdict.cls, whole.verdict.cls) << chunk;
    EXPECT_EQ(r.hits, whole.hits) << chunk;
    EXPECT_EQ(r.av.size(), whole.av.size()) << chunk;
  }
}

TEST_F(PipelineTest, MissingAvResultsAreNotClean) {
  scanner_->begin({});
  scanner_->feed(span_of(head("text/plain") + "hello\r\n"));
  const ScanOutcome& o = scanner_->finish();
  Verdict v = decide_verdict(o, {}, {}, TenantPolicy{}, UserPrefs{});
  EXPECT_EQ(v.cls, VerdictClass::kUnscannable);
  EXPECT_EQ(v.action, PolicyAction::kTempfail);
}

}  // namespace
}  // namespace mx::scan

namespace mx::scan {
namespace {

// A failed Hyperscan call means the rules did not see every byte: the verdict is never clean
// (a scan error: tempfail, the sender retries), whatever AV said.
TEST(DecideVerdict, RuleEngineErrorIsNeverClean) {
  ScanOutcome o;
  o.av_objects.push_back(AvObject{});
  o.match.scan_errors = 1;
  AvResult clean;
  clean.verdict = AvVerdict::kClean;
  std::vector<AvResult> av{clean};
  Verdict v = decide_verdict(o, av, Envelope{}, TenantPolicy{}, UserPrefs{});
  EXPECT_EQ(v.cls, VerdictClass::kUnscannable);
  EXPECT_EQ(v.action, PolicyAction::kTempfail);
  o.match.scan_errors = 0;
  v = decide_verdict(o, av, Envelope{}, TenantPolicy{}, UserPrefs{});
  EXPECT_EQ(v.cls, VerdictClass::kClean);
}

}  // namespace
}  // namespace mx::scan
