// Helpers of the AV tests: a signature database written at test time with sigtool, the EICAR
// test file, and zip archives (stored zips built in code; deflated and encrypted ones with the
// `zip` command when it is installed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mx::scan::avtest {

// The 68-byte EICAR anti-virus test file (https://www.eicar.org/download-anti-malware-testfile/).
std::string eicar();
// Names the test database gives its signatures; libclamav appends ".UNOFFICIAL".
inline constexpr const char* kHashSigName = "Mx.Test.Eicar.Hash";
inline constexpr const char* kBodySigName = "Mx.Test.Eicar.Body";

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void write(const std::string& name, const std::string& bytes) const;
  std::optional<std::string> read(const std::string& name) const;

 private:
  std::string path_;
};

// Output of a shell command, or nullopt if it failed.
std::optional<std::string> run(const std::string& command);
bool have_program(const char* name);
// Tests that need a tool (sigtool, zip) skip without it on a developer's machine, but fail in CI
// (the environment variable CI is set): there a missing tool is a broken setup, not a pass.
bool tools_required();

// Skips the test when `tool_missing` (a reason) is set and tools are optional, fails it in CI.
#define MX_SKIP_OR_FAIL_WITHOUT_TOOL(reason)                                     \
  do {                                                                            \
    if (::mx::scan::avtest::tools_required()) GTEST_FAIL() << "in CI: " << (reason); \
    GTEST_SKIP() << (reason);                                                     \
  } while (0)

// Writes test.hdb (an MD5 hash signature of EICAR from `sigtool --md5`) and test.ndb (a body
// signature: the hex of "EICAR-STANDARD-ANTIVIRUS-TEST-FILE", target 0 = any file) into `dir`.
// Empty string on success, else why not.
std::string write_eicar_database(const TempDir& dir);

// A zip of one stored (uncompressed) entry, built in code (APPNOTE.TXT 4.3).
std::string stored_zip(const std::string& name, const std::string& content);

}  // namespace mx::scan::avtest
