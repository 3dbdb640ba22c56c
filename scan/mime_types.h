// scan/mime_types.h — what the streaming MIME parser reports: parts, readings, flags, the sink.
//
// SECURITY: everything here describes attacker-controlled input. Strings are bounded copies
// (FixedStr truncates, and the truncation is flagged); nothing here allocates.
// STANDARDS: RFC 2045 (Content-Transfer-Encoding, 6), RFC 2046 (media types, multipart),
// RFC 2183 (Content-Disposition), RFC 2231 (parameter values), RFC 2047 (encoded words).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "scan/mime_limits.h"

namespace mx::scan {

// A bounded string: appends beyond N bytes are dropped and reported by the return value.
template <size_t N>
class FixedStr {
 public:
  bool assign(std::string_view s) {
    len_ = 0;
    return append(s);
  }
  bool append(std::string_view s) {
    size_t room = N - len_;
    size_t n = s.size() < room ? s.size() : room;
    if (n) std::memcpy(buf_ + len_, s.data(), n);
    len_ += static_cast<uint32_t>(n);
    return n == s.size();
  }
  void clear() { len_ = 0; }
  std::string_view view() const { return {buf_, len_}; }
  size_t size() const { return len_; }
  bool empty() const { return len_ == 0; }
  static constexpr size_t capacity() { return N; }

 private:
  char buf_[N];
  uint32_t len_ = 0;
};

// RFC 2045 6.1 mechanisms (x-uuencode and friends are identity plus uuencode detection).
enum class Encoding : uint8_t { k7bit, k8bit, kBinary, kQuotedPrintable, kBase64, kUuencode, kUnknown };
std::string_view encoding_name(Encoding e);

// The type a part's decoded content really has, from its first bytes (scan/magic.h).
enum class TrueType : uint8_t {
  kEmpty, kText, kHtml, kBinary, kPe, kMz, kElf, kMachO, kScript, kZip, kOoxml, kRar, k7z, kGzip,
  kBzip2, kXz, kTar, kCab, kOle, kPdf, kRtf, kPng, kJpeg, kGif,
};
std::string_view true_type_name(TrueType t);

// Flags on a part (and, OR-ed together, on the message). Each ambiguity or exceeded bound has
// one; scan/mime_parser.h says what the parser does in each case.
enum MimeFlag : uint64_t {
  kDupContentType = 1ull << 0,       // more than one Content-Type field
  kDupEncoding = 1ull << 1,          // more than one Content-Transfer-Encoding field
  kDupBoundary = 1ull << 2,          // more than one boundary value
  kBoundaryRfc2231 = 1ull << 3,      // boundary given as boundary*0/boundary*1 or boundary*
  kBoundaryEncodedWord = 1ull << 4,  // boundary looks like an RFC 2047 encoded word
  kEmptyBoundary = 1ull << 5,        // boundary=""
  kMissingBoundary = 1ull << 6,      // multipart/* without a boundary: read as a leaf
  kMissingCloseBoundary = 1ull << 7, // multipart ended without its close delimiter
  kBoundaryPrefixMatch = 1ull << 8,  // a delimiter line with text after the boundary
  kBoundaryTooLong = 1ull << 9,
  kDupDisposition = 1ull << 10,
  kDupCharset = 1ull << 11,
  kMultipleFilenames = 1ull << 12,   // distinct filename candidates disagree
  kMalformedHeader = 1ull << 13,     // a non-field line ended the header section
  kHeaderTruncated = 1ull << 14,
  kTooManyHeaders = 1ull << 15,
  kLongLine = 1ull << 16,            // a line over kMaxLineLength
  kNoHeaderEnd = 1ull << 17,         // the message ended inside a header section
  kEncodedMultipart = 1ull << 18,    // multipart or message/rfc822 with a non-identity encoding
  kUnknownEncoding = 1ull << 19,
  kInvalidBase64 = 1ull << 20,       // a character outside the alphabet (skipped)
  kBase64AfterPadding = 1ull << 21,  // data after '=' padding (decoded as a new quantum)
  kBase64Truncated = 1ull << 22,     // final quantum incomplete
  kInvalidQp = 1ull << 23,           // '=' not followed by two hex digits or a line end
  kInvalidCharset = 1ull << 24,      // invalid sequence for the charset, replaced by U+FFFD
  kUnknownCharset = 1ull << 25,      // read as UTF-8 instead
  kRfc2231Invalid = 1ull << 26,      // missing or repeated continuation section, bad %XX
  kEncodedWordInvalid = 1ull << 27,
  kDepthLimit = 1ull << 28,
  kPartLimit = 1ull << 29,
  kDecodedLimit = 1ull << 30,
  kUrlLimit = 1ull << 31,
  kUrlTruncated = 1ull << 32,
  kCandidateLimit = 1ull << 33,      // more candidates (types, names, readings...) than kept
  kUuencode = 1ull << 34,            // a uuencoded block inside the part
  kPreamble = 1ull << 35,            // non-blank multipart preamble
  kEpilogue = 1ull << 36,            // non-blank multipart epilogue
  kNoParts = 1ull << 37,             // multipart without any delimiter line
  kFilenameTruncated = 1ull << 38,
};
constexpr size_t kMimeFlagCount = 39;
std::string_view mime_flag_name(size_t bit);

enum class EntityKind : uint8_t { kLeaf, kMultipart, kMessage };

// Where a filename candidate was declared (bits; one name may come from several places).
enum FilenameSource : uint8_t {
  kFromTypeName = 1,     // Content-Type name=
  kFromDispFilename = 2, // Content-Disposition filename=
  kFromRfc2231 = 4,      // the RFC 2231 form (name*=, filename*0*=...)
  kFromRfc2047 = 8,      // decoded from an RFC 2047 encoded word
  kFromUuencode = 16,    // a "begin NNN name" line (in the part's first reading)
};

struct FilenameCandidate {
  FixedStr<kMaxFilenameLength> name;  // UTF-8 when decoded, else as declared
  uint8_t sources = 0;
};

// One way of reading a leaf's body: a transfer encoding and, for text, a charset. A part with
// duplicate encodings or charsets has several readings and every one is decoded and scanned.
struct Reading {
  Encoding encoding = Encoding::k7bit;
  bool text = false;                     // converted to UTF-8, URLs extracted
  FixedStr<kMaxCharsetLength> charset;   // lowercase; for text readings
  // Results, final at on_part_end:
  uint64_t decoded_size = 0;
  uint64_t text_size = 0;                // UTF-8 bytes delivered
  uint32_t urls = 0;                     // URLs delivered
  uint32_t uu_blocks = 0;
  TrueType true_type = TrueType::kEmpty;
  uint64_t flags = 0;                    // decoding flags of this reading
};

struct HeaderField {
  std::string_view name;   // as written
  std::string_view value;  // unfolded (RFC 5322 2.2.3), not decoded
  // Where the field is in the message as fed: [raw_begin, raw_end) covers its first line to the
  // end of its last continuation line (line ends included); the colon is at raw_begin + colon.
  uint64_t raw_begin = 0, raw_end = 0;
  uint32_t colon = 0;
};

struct PartInfo {
  uint32_t id = 0;        // 0 is the message itself; in order of appearance
  uint32_t parent = 0;
  uint32_t depth = 0;
  EntityKind kind = EntityKind::kLeaf;
  FixedStr<kMaxTypeLength> content_type;  // lowercase type/subtype used for structure
  FixedStr<kMaxTypeLength> declared_types[kMaxContentTypes];
  uint32_t n_declared_types = 0;
  Encoding encodings[kMaxEncodings] = {};
  uint32_t n_encodings = 0;
  FixedStr<kMaxBoundaryLength> boundaries[kMaxBoundaries];
  uint32_t n_boundaries = 0;
  FixedStr<32> disposition;  // lowercase, empty when absent
  FilenameCandidate filenames[kMaxFilenames];
  uint32_t n_filenames = 0;
  Reading readings[kMaxReadings];
  uint32_t n_readings = 0;
  uint64_t raw_size = 0;  // body bytes as they arrived (final at on_part_end)
  uint64_t flags = 0;
  std::span<const HeaderField> headers;  // valid during on_part_begin only

  std::span<const FilenameCandidate> filename_candidates() const { return {filenames, n_filenames}; }
};

struct UuBlock {
  uint32_t reading = 0;  // the reading of the part it was found in
  uint32_t index = 0;    // in that reading
  uint32_t mode = 0;   // the octal file mode of the begin line
  FixedStr<kMaxFilenameLength> name;
  uint64_t decoded_size = 0;
  TrueType true_type = TrueType::kEmpty;
  bool complete = false;  // an "end" line was seen
};

struct MessageInfo {
  uint32_t parts = 0;
  uint32_t urls = 0;
  uint64_t raw_size = 0;
  uint64_t decoded_size = 0;  // all readings
  uint64_t flags = 0;         // every part's flags OR-ed, plus message-level bounds
};

// Receives the structure. Calls nest like the parts: begin(p), [data/text/url/uu of p or of
// children begin..end], end(p). Data arrives in runs (never one virtual call per byte); the
// views are valid during the call only.
class MimeSink {
 public:
  virtual ~MimeSink() = default;
  virtual void on_part_begin(const PartInfo& part) { (void)part; }
  // Decoded bytes of one reading (leaf body, or a multipart's preamble/epilogue).
  virtual void on_part_data(const PartInfo& part, uint32_t reading, ByteSpan decoded) {
    (void)part, (void)reading, (void)decoded;
  }
  // The same reading's text converted to UTF-8 (text readings only), for body rules.
  virtual void on_part_text(const PartInfo& part, uint32_t reading, std::string_view utf8) {
    (void)part, (void)reading, (void)utf8;
  }
  virtual void on_url(const PartInfo& part, uint32_t reading, std::string_view url, bool truncated) {
    (void)part, (void)reading, (void)url, (void)truncated;
  }
  virtual void on_uu_data(const PartInfo& part, const UuBlock& block, ByteSpan decoded) {
    (void)part, (void)block, (void)decoded;
  }
  virtual void on_uu_end(const PartInfo& part, const UuBlock& block) { (void)part, (void)block; }
  virtual void on_part_end(const PartInfo& part) { (void)part; }
  virtual void on_message_end(const MessageInfo& msg) { (void)msg; }
};

}  // namespace mx::scan
