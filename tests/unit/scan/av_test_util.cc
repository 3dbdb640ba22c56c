// Helpers of the AV tests (see av_test_util.h).
#include "tests/unit/scan/av_test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mx::scan::avtest {

std::string eicar() {
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp");
  tmpl += "/mx-av-XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& bytes) const {
  std::ofstream f(path_ + "/" + name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::optional<std::string> TempDir::read(const std::string& name) const {
  std::ifstream f(path_ + "/" + name, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<std::string> run(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  if (pclose(p) != 0) return std::nullopt;
  return out;
}

bool tools_required() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string_view(ci) != "false" && std::string_view(ci) != "0";
}

bool have_program(const char* name) {
  return run(std::string("command -v ") + name + " >/dev/null 2>&1").has_value();
}

std::string write_eicar_database(const TempDir& dir) {
  if (dir.path().empty()) return "no temporary directory";
  if (!have_program("sigtool")) return "sigtool is not installed (scripts/setup installs clamav)";
  TempDir work;
  work.write("eicar.com", eicar());
  auto md5 = run("sigtool --md5 '" + work.path() + "/eicar.com' 2>/dev/null");
  if (!md5) return "sigtool --md5 failed";
  // "hash:size:filename\n" -> "hash:size:Mx.Test.Eicar.Hash\n"
  const size_t first = md5->find(':');
  const size_t second = first == std::string::npos ? first : md5->find(':', first + 1);
  if (second == std::string::npos) return "unexpected sigtool output: " + *md5;
  dir.write("test.hdb", md5->substr(0, second + 1) + kHashSigName + "\n");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : std::string("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  dir.write("test.ndb", std::string(kBodySigName) + ":0:*:" + hex + "\n");
  return {};
}

namespace {

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void le16(std::string& o, uint32_t v) {
  o += static_cast<char>(v & 0xff);
  o += static_cast<char>((v >> 8) & 0xff);
}
void le32(std::string& o, uint32_t v) {
  le16(o, v & 0xffff);
  le16(o, v >> 16);
}

}  // namespace

std::string stored_zip(const std::string& name, const std::string& content) {
  const uint32_t crc = crc32(content);
  const auto size = static_cast<uint32_t>(content.size());
  const auto name_len = static_cast<uint32_t>(name.size());
  std::string z;
  // Local file header (APPNOTE 4.3.7).
  le32(z, 0x04034b50); le16(z, 10); le16(z, 0); le16(z, 0);  // version, flags, method=stored
  le16(z, 0); le16(z, 0x21);                                  // time, date (1980-01-01)
  le32(z, crc); le32(z, size); le32(z, size); le16(z, name_len); le16(z, 0);
  z += name;
  z += content;
  const auto cd_offset = static_cast<uint32_t>(z.size());
  // Central directory header (4.3.12).
  le32(z, 0x02014b50); le16(z, 20); le16(z, 10); le16(z, 0); le16(z, 0);
  le16(z, 0); le16(z, 0x21);
  le32(z, crc); le32(z, size); le32(z, size); le16(z, name_len); le16(z, 0); le16(z, 0);
  le16(z, 0); le16(z, 0); le32(z, 0); le32(z, 0);  // disk, internal attrs, external attrs, offset
  z += name;
  const auto cd_size = static_cast<uint32_t>(z.size()) - cd_offset;
  // End of central directory (4.3.16).
  le32(z, 0x06054b50); le16(z, 0); le16(z, 0); le16(z, 1); le16(z, 1);
  le32(z, cd_size); le32(z, cd_offset); le16(z, 0);
  return z;
}

}  // namespace mx::scan::avtest
