// scan/mime_limits.h — every bound of the streaming MIME parser, with the RFC that motivates it.
//
// SECURITY: a message is attacker-controlled. Each input dimension has a named bound here;
// exceeding one never makes a part "clean": it sets a MimeFlag on the part and on the message
// (see scan/mime_types.h), which policy sees. Buffers are sized from these at construction.
// STANDARDS: RFC 5322 2.1.1 (line length), RFC 2046 5.1.1 (boundaries), RFC 2045.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mx::scan {

// RFC 5322 2.1.1: 998 characters per line (+CRLF). Longer lines are flagged kLongLine; they are
// still processed (a body line of any length passes through the decoders in pieces).
constexpr uint32_t kMaxLineLength = 998;
// Bytes of one line held to recognise it (header line, boundary delimiter). Longer lines are
// handled as a head of exactly this many bytes and a tail streamed through (header fields are
// truncated there, flagged kHeaderTruncated).
constexpr uint32_t kLineBuffer = 8192;
// One unfolded header field (RFC 5322 2.2.3). Longer: truncated, kHeaderTruncated.
constexpr uint32_t kMaxHeaderField = 8192;
// Header fields kept per entity, and their total bytes. Beyond either, further fields are not
// delivered to the sink (kTooManyHeaders) — but Content-* fields are still interpreted, from a
// reserve of kMaxStructuralFields extra fields, so the structure cannot be hidden by padding.
constexpr uint32_t kMaxHeaderFields = 256;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr uint32_t kMaxStructuralFields = 8;
// Nesting of multipart and message/rfc822 entities (the message itself is depth 0). An entity
// that would open a deeper level is treated as a leaf (its body scanned as content), kDepthLimit.
constexpr uint32_t kMaxDepth = 16;
// Entities (parts) per message, the message itself included. Beyond: no new part is opened; the
// rest of the message stays in the current part (delimiter lines included), kPartLimit.
constexpr uint32_t kMaxParts = 512;
// RFC 2046 5.1.1 allows 70 characters; we keep up to this many. Longer: truncated and then only
// matched as a prefix of delimiter lines, kBoundaryTooLong.
constexpr uint32_t kMaxBoundaryLength = 256;
// Candidates kept per entity: boundaries (duplicates, RFC 2231 and RFC 2047 forms), declared
// Content-Types, transfer encodings, charsets, filename candidates. Beyond: kCandidateLimit.
constexpr uint32_t kMaxBoundaries = 4;
constexpr uint32_t kMaxContentTypes = 4;
constexpr uint32_t kMaxEncodings = 4;
constexpr uint32_t kMaxCharsets = 4;
constexpr uint32_t kMaxFilenames = 8;
constexpr uint32_t kMaxFilenameLength = 255;
constexpr uint32_t kMaxTypeLength = 127;
constexpr uint32_t kMaxCharsetLength = 63;
// Readings of one leaf body (distinct transfer encodings x distinct charsets). Beyond: the
// first kMaxReadings are scanned, kCandidateLimit.
constexpr uint32_t kMaxReadings = 4;
// Decoded bytes delivered per reading of a part, and over the whole message (all readings).
// Beyond: counting continues, delivery stops, kDecodedLimit.
constexpr uint64_t kMaxDecodedPart = 64ull << 20;
constexpr uint64_t kMaxDecodedMessage = 256ull << 20;
// Decoded bytes kept per reading for true-type detection (tar's magic is at 257; OOXML's
// [Content_Types].xml is normally the first zip entry; PDF's header may be anywhere in 1024).
constexpr uint32_t kMagicBytes = 4096;
// URLs delivered per message, and bytes of one URL (longer: truncated, kUrlTruncated).
// Like the decoded-size bound, it is checked per reading against the message's count at the
// start of the part (so the result does not depend on how readings interleave): a part with n
// readings may deliver up to n times the remainder.
constexpr uint32_t kMaxUrls = 1000;
constexpr uint32_t kMaxUrlLength = 2048;
// uuencoded blocks reported per reading of a part ("begin NNN name" ... "end"); more:
// kCandidateLimit, not decoded.
constexpr uint32_t kMaxUuBlocks = 64;

// The bounds a parser is built with; tests shrink them. Every field must be <= its constant
// above where the constant sizes a buffer (depth, parts, header fields/bytes, URL length).
struct MimeLimits {
  uint32_t max_depth = kMaxDepth;
  uint32_t max_parts = kMaxParts;
  uint32_t max_header_fields = kMaxHeaderFields;
  uint32_t max_header_bytes = kMaxHeaderBytes;
  uint64_t max_decoded_part = kMaxDecodedPart;
  uint64_t max_decoded_message = kMaxDecodedMessage;
  uint32_t max_urls = kMaxUrls;
};

}  // namespace mx::scan
