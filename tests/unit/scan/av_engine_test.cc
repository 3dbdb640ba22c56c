// AvEngine against a signature database that the test writes with sigtool (EICAR's MD5 in a
// .hdb, a body signature in a .ndb): infected / encrypted / limit-exceeded / clean / load errors.
#include "scan/av_engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/unit/scan/av_test_util.h"

namespace mx::scan {
namespace {

using avtest::TempDir;

ByteSpan span_of(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class AvEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TempDir();
    skip_reason_ = avtest::write_eicar_database(*db_);
    if (!skip_reason_.empty()) return;
    auto e = AvEngine::load(AvConfig{db_->path(), AvLimits{}});
    if (!e) {
      skip_reason_ = "load failed: " + e.error().message;
      return;
    }
    engine_ = std::move(*e).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
    delete db_;
    db_ = nullptr;
  }
  void SetUp() override {
    // The database is built by sigtool; without it the suite cannot run (not a code failure).
    if (!skip_reason_.empty() && skip_reason_.rfind("sigtool is not installed", 0) == 0) {
      MX_SKIP_OR_FAIL_WITHOUT_TOOL(skip_reason_);
    }
    ASSERT_NE(engine_, nullptr) << skip_reason_;
  }

  static TempDir* db_;
  static AvEngine* engine_;
  static std::string skip_reason_;
};
TempDir* AvEngineTest::db_ = nullptr;
AvEngine* AvEngineTest::engine_ = nullptr;
std::string AvEngineTest::skip_reason_;

TEST_F(AvEngineTest, LoadsTheTestDatabase) { EXPECT_GE(engine_->signature_count(), 2u); }

TEST_F(AvEngineTest, EicarPlainBufferIsInfectedWithItsName) {
  const std::string e = avtest::eicar();
  AvResult r = engine_->scan(span_of(e));
  EXPECT_EQ(r.verdict, AvVerdict::kInfected) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Mx.Test.Eicar.")) << r.name;
}

TEST_F(AvEngineTest, BodySignatureFindsEicarInsideOtherText) {
  const std::string s = "Dear customer,\r\nplease find " + avtest::eicar() + " attached.\r\n";
  AvResult r = engine_->scan(span_of(s));
  EXPECT_EQ(r.verdict, AvVerdict::kInfected) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, avtest::kBodySigName)) << r.name;
}

TEST_F(AvEngineTest, EicarInsideStoredZipBuiltInCode) {
  const std::string z = avtest::stored_zip("invoice.pdf", avtest::eicar());
  AvResult r = engine_->scan(span_of(z));
  EXPECT_EQ(r.verdict, AvVerdict::kInfected) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Mx.Test.Eicar.")) << r.name;
}

TEST_F(AvEngineTest, EicarInsideNestedZipFromZipCommand) {
  if (!avtest::have_program("zip")) MX_SKIP_OR_FAIL_WITHOUT_TOOL("the zip command is not installed");
  TempDir work;
  work.write("eicar.com", avtest::eicar() + std::string(4000, ' '));  // deflatable padding
  ASSERT_TRUE(avtest::run("cd '" + work.path() + "' && zip -q -9 -X inner.zip eicar.com && "
                          "zip -q -X outer.zip inner.zip"));
  auto z = work.read("outer.zip");
  ASSERT_TRUE(z.has_value());
  AvResult r = engine_->scan(span_of(*z));
  EXPECT_EQ(r.verdict, AvVerdict::kInfected) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, avtest::kBodySigName)) << r.name;
}

TEST_F(AvEngineTest, EncryptedZipIsEncryptedNotClean) {
  if (!avtest::have_program("zip")) {
    MX_SKIP_OR_FAIL_WITHOUT_TOOL("the zip command is not installed (needed for a ZipCrypto archive)");
  }
  TempDir work;
  work.write("report.txt", "quarterly numbers, nothing to see here\n");
  ASSERT_TRUE(avtest::run("cd '" + work.path() + "' && zip -q -X -P secret enc.zip report.txt"));
  auto z = work.read("enc.zip");
  ASSERT_TRUE(z.has_value());
  AvResult r = engine_->scan(span_of(*z));
  EXPECT_EQ(r.verdict, AvVerdict::kEncrypted) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Heuristics.Encrypted.")) << r.name;
}

TEST_F(AvEngineTest, CleanTextIsClean) {
  const std::string s = "Hello Bob,\r\nthe meeting is at ten.\r\n";
  AvResult r = engine_->scan(span_of(s));
  EXPECT_EQ(r.verdict, AvVerdict::kClean) << r.name;
  EXPECT_TRUE(r.name.empty());
}

TEST_F(AvEngineTest, EmptyObjectIsClean) {
  EXPECT_EQ(engine_->scan(ByteSpan{}).verdict, AvVerdict::kClean);
}

TEST_F(AvEngineTest, ObjectLargerThanMaxFileSizeIsLimitExceeded) {
  AvLimits small;
  small.max_file_size = 1024;
  auto e = AvEngine::load(AvConfig{db_->path(), small});
  ASSERT_TRUE(e) << e.error().message;
  const std::string big(4096, 'a');
  AvResult r = (*e)->scan(span_of(big));
  EXPECT_EQ(r.verdict, AvVerdict::kLimitExceeded) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Heuristics.Limits.Exceeded")) << r.name;
  // Below the bound the same engine still says clean.
  EXPECT_EQ((*e)->scan(span_of(std::string(512, 'a'))).verdict, AvVerdict::kClean);
}

TEST_F(AvEngineTest, ZipMemberLargerThanMaxFileSizeIsLimitExceeded) {
  if (!avtest::have_program("zip")) MX_SKIP_OR_FAIL_WITHOUT_TOOL("the zip command is not installed");
  AvLimits small;
  small.max_file_size = 8192;
  auto e = AvEngine::load(AvConfig{db_->path(), small});
  ASSERT_TRUE(e) << e.error().message;
  // The deflated archive fits the bound; its member, once extracted, does not: not clean.
  TempDir work;
  work.write("big.txt", std::string(64 * 1024, 'b'));
  ASSERT_TRUE(avtest::run("cd '" + work.path() + "' && zip -q -9 -X big.zip big.txt"));
  auto z = work.read("big.zip");
  ASSERT_TRUE(z.has_value());
  ASSERT_LT(z->size(), 8192u);
  AvResult r = (*e)->scan(span_of(*z));
  EXPECT_EQ(r.verdict, AvVerdict::kLimitExceeded) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_EQ(r.name, "Heuristics.Limits.Exceeded.MaxFileSize.Embedded");
}

TEST_F(AvEngineTest, MoreFilesThanMaxFilesIsLimitExceeded) {
  if (!avtest::have_program("zip")) MX_SKIP_OR_FAIL_WITHOUT_TOOL("the zip command is not installed");
  AvLimits small;
  small.max_files = 2;
  auto e = AvEngine::load(AvConfig{db_->path(), small});
  ASSERT_TRUE(e) << e.error().message;
  TempDir work;
  for (int i = 0; i < 5; ++i) {
    work.write("f" + std::to_string(i) + ".txt", "file " + std::to_string(i));
  }
  ASSERT_TRUE(avtest::run("cd '" + work.path() + "' && zip -q -X many.zip f0.txt f1.txt f2.txt "
                          "f3.txt f4.txt"));
  auto z = work.read("many.zip");
  ASSERT_TRUE(z.has_value());
  AvResult r = (*e)->scan(span_of(*z));
  EXPECT_EQ(r.verdict, AvVerdict::kLimitExceeded) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Heuristics.Limits.Exceeded.MaxFiles")) << r.name;
}

TEST_F(AvEngineTest, NestingDeeperThanMaxRecursionIsLimitExceeded) {
  AvLimits small;
  small.max_recursion = 2;
  auto e = AvEngine::load(AvConfig{db_->path(), small});
  ASSERT_TRUE(e) << e.error().message;
  // zip(zip(zip(zip(text)))): clean content, but deeper than the bound, so not clean.
  std::string z = "nothing here";
  for (int i = 0; i < 4; ++i) z = avtest::stored_zip("layer" + std::to_string(i) + ".zip", z);
  AvResult r = (*e)->scan(span_of(z));
  EXPECT_EQ(r.verdict, AvVerdict::kLimitExceeded) << av_verdict_name(r.verdict) << " " << r.name;
  EXPECT_TRUE(starts_with(r.name, "Heuristics.Limits.Exceeded.MaxRecursion")) << r.name;
}

TEST(AvEngineLoad, MissingDirectoryIsAClearError) {
  auto e = AvEngine::load(AvConfig{"/nonexistent/mx-av-db", AvLimits{}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("/nonexistent/mx-av-db"), std::string::npos)
      << e.error().message;
  EXPECT_NE(e.error().message.find("not a directory"), std::string::npos) << e.error().message;
}

TEST(AvEngineLoad, EmptyDirectoryIsAClearError) {
  TempDir empty;
  auto e = AvEngine::load(AvConfig{empty.path(), AvLimits{}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("empty directory"), std::string::npos) << e.error().message;
}

TEST(AvEngineLoad, DirectoryWithoutSignaturesIsAClearError) {
  TempDir dir;
  dir.write("README", "not a database\n");
  auto e = AvEngine::load(AvConfig{dir.path(), AvLimits{}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find(dir.path()), std::string::npos) << e.error().message;
}

TEST(AvEngineLoad, MalformedDatabaseIsAClearError) {
  TempDir dir;
  dir.write("bad.ndb", "this is not:a valid\n");
  auto e = AvEngine::load(AvConfig{dir.path(), AvLimits{}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("cl_load"), std::string::npos) << e.error().message;
}

TEST(AvVerdictNames, HeuristicFamiliesMapToTheirClasses) {
  EXPECT_EQ(classify_signature("Heuristics.Encrypted.Zip"), AvVerdict::kEncrypted);
  EXPECT_EQ(classify_signature("Heuristics.Encrypted.PDF"), AvVerdict::kEncrypted);
  EXPECT_EQ(classify_signature("Heuristics.Limits.Exceeded.MaxFileSize"),
            AvVerdict::kLimitExceeded);
  EXPECT_EQ(classify_signature("Heuristics.Limits.Exceeded.MaxScanTime"),
            AvVerdict::kLimitExceeded);
  EXPECT_EQ(classify_signature("Win.Test.EICAR_HDB-1"), AvVerdict::kInfected);
  EXPECT_EQ(classify_signature("Heuristics.Broken.Executable"), AvVerdict::kInfected);
  EXPECT_STREQ(av_verdict_name(AvVerdict::kLimitExceeded), "limit-exceeded");
}

}  // namespace
}  // namespace mx::scan
