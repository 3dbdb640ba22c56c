// scan/magic.cc — signatures, most specific first.
#include "scan/magic.h"

#include <cstring>
#include <string_view>

namespace mx::scan {
namespace {

bool starts(ByteSpan b, std::string_view sig, size_t off = 0) {
  return b.size() >= off + sig.size() && std::memcmp(b.data() + off, sig.data(), sig.size()) == 0;
}

bool contains(ByteSpan b, std::string_view needle, size_t limit) {
  size_t n = b.size() < limit ? b.size() : limit;
  std::string_view hay(reinterpret_cast<const char*>(b.data()), n);
  return hay.find(needle) != std::string_view::npos;
}

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// "MZ": a PE when e_lfanew (0x3C) points at "PE\0\0" inside what we hold, else a DOS MZ image.
TrueType mz_type(ByteSpan b) {
  if (b.size() >= 0x40) {
    uint32_t lfanew = load_le32(b.data() + 0x3C);
    if (lfanew <= b.size() - 4 && starts(b, std::string_view("PE\0\0", 4), lfanew)) return TrueType::kPe;
  }
  return TrueType::kMz;
}

// CAFEBABE is a fat Mach-O or a Java class; a fat header's arch count is small, a class
// file's major version (same bytes) is 45 or more.
TrueType cafebabe_type(ByteSpan b) {
  if (b.size() < 8) return TrueType::kBinary;
  uint32_t narch = load_be32(b.data() + 4);
  return narch > 0 && narch < 30 ? TrueType::kMachO : TrueType::kBinary;
}

TrueType executable_type(ByteSpan b) {
  if (starts(b, "MZ")) return mz_type(b);
  if (starts(b, "\x7F" "ELF")) return TrueType::kElf;
  static const char* const kMacho[] = {"\xFE\xED\xFA\xCE", "\xFE\xED\xFA\xCF", "\xCE\xFA\xED\xFE", "\xCF\xFA\xED\xFE"};
  for (const char* m : kMacho)
    if (starts(b, std::string_view(m, 4))) return TrueType::kMachO;
  if (starts(b, "\xCA\xFE\xBA\xBE")) return cafebabe_type(b);
  if (starts(b, "#!")) return TrueType::kScript;
  return TrueType::kEmpty;
}

TrueType archive_type(ByteSpan b) {
  if (starts(b, "PK\x03\x04") || starts(b, "PK\x05\x06") || starts(b, "PK\x07\x08"))
    return contains(b, "[Content_Types].xml", b.size()) ? TrueType::kOoxml : TrueType::kZip;
  if (starts(b, std::string_view("Rar!\x1A\x07\x00", 7)) || starts(b, "Rar!\x1A\x07\x01")) return TrueType::kRar;
  if (starts(b, "7z\xBC\xAF\x27\x1C")) return TrueType::k7z;
  if (starts(b, "\x1F\x8B")) return TrueType::kGzip;
  if (starts(b, "BZh")) return TrueType::kBzip2;
  if (starts(b, std::string_view("\xFD" "7zXZ\x00", 6))) return TrueType::kXz;
  if (starts(b, "MSCF")) return TrueType::kCab;
  if (starts(b, "ustar", 257)) return TrueType::kTar;
  if (starts(b, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) return TrueType::kOle;
  return TrueType::kEmpty;
}

TrueType document_type(ByteSpan b) {
  if (contains(b, "%PDF-", 1024)) return TrueType::kPdf;
  if (starts(b, "{\\rtf")) return TrueType::kRtf;
  if (starts(b, "\x89PNG\r\n\x1A\n")) return TrueType::kPng;
  if (starts(b, "\xFF\xD8\xFF")) return TrueType::kJpeg;
  if (starts(b, "GIF87a") || starts(b, "GIF89a")) return TrueType::kGif;
  return TrueType::kEmpty;
}

// HTML: a tag that only HTML starts with, after leading whitespace (case-insensitive).
bool looks_html(ByteSpan b) {
  size_t i = 0;
  while (i < b.size() && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) ++i;
  static const char* const kTags[] = {"<!doctype html", "<html", "<head", "<body", "<script", "<iframe"};
  for (const char* tag : kTags) {
    size_t n = std::strlen(tag);
    if (b.size() - i < n) continue;
    bool eq = true;
    for (size_t k = 0; k < n && eq; ++k) eq = (b[i + k] | 0x20) == (tag[k] | 0x20) || b[i + k] == tag[k];
    if (eq) return true;
  }
  return false;
}

// Text: no NUL and few control bytes other than whitespace (UTF-8 and 8-bit charsets pass).
bool looks_text(ByteSpan b) {
  size_t control = 0;
  for (uint8_t c : b) {
    if (c == 0) return false;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B) ++control;
  }
  return control * 100 <= b.size();
}

}  // namespace

TrueType detect_true_type(ByteSpan b) noexcept {
  if (b.empty()) return TrueType::kEmpty;
  for (auto fn : {executable_type, archive_type, document_type}) {
    TrueType t = fn(b);
    if (t != TrueType::kEmpty) return t;
  }
  if (looks_html(b)) return TrueType::kHtml;
  return looks_text(b) ? TrueType::kText : TrueType::kBinary;
}

bool is_active_type(TrueType t) noexcept {
  switch (t) {
    case TrueType::kEmpty:
    case TrueType::kText:
    case TrueType::kBinary:
    case TrueType::kPng:
    case TrueType::kJpeg:
    case TrueType::kGif:
      return false;
    default:
      return true;
  }
}

}  // namespace mx::scan
