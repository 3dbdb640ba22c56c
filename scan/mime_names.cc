// scan/mime_names.cc — names of encodings, true types and flags (logs, dumps, policy rules).
#include <array>

#include "scan/mime_types.h"

namespace mx::scan {

std::string_view encoding_name(Encoding e) {
  switch (e) {
    case Encoding::k7bit: return "7bit";
    case Encoding::k8bit: return "8bit";
    case Encoding::kBinary: return "binary";
    case Encoding::kQuotedPrintable: return "quoted-printable";
    case Encoding::kBase64: return "base64";
    case Encoding::kUuencode: return "x-uuencode";
    case Encoding::kUnknown: return "unknown";
  }
  return "?";
}

std::string_view true_type_name(TrueType t) {
  static constexpr std::array<std::string_view, 24> kNames = {
      "empty", "text", "html", "binary", "pe", "mz", "elf", "macho", "script", "zip", "ooxml", "rar",
      "7z", "gzip", "bzip2", "xz", "tar", "cab", "ole", "pdf", "rtf", "png", "jpeg", "gif"};
  auto i = static_cast<size_t>(t);
  return i < kNames.size() ? kNames[i] : "?";
}

std::string_view mime_flag_name(size_t bit) {
  static constexpr std::array<std::string_view, kMimeFlagCount> kNames = {
      "dup-content-type", "dup-encoding", "dup-boundary", "boundary-rfc2231", "boundary-encoded-word",
      "empty-boundary", "missing-boundary", "missing-close-boundary", "boundary-prefix-match",
      "boundary-too-long", "dup-disposition", "dup-charset", "multiple-filenames", "malformed-header",
      "header-truncated", "too-many-headers", "long-line", "no-header-end", "encoded-multipart",
      "unknown-encoding", "invalid-base64", "base64-after-padding", "base64-truncated", "invalid-qp",
      "invalid-charset", "unknown-charset", "rfc2231-invalid", "encoded-word-invalid", "depth-limit",
      "part-limit", "decoded-limit", "url-limit", "url-truncated", "candidate-limit", "uuencode",
      "preamble", "epilogue", "no-parts", "filename-truncated"};
  return bit < kNames.size() ? kNames[bit] : "?";
}

}  // namespace mx::scan
