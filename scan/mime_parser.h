// scan/mime_parser.h — the streaming MIME parser: a message in chunks in, parts and their
// decoded content out (scan/mime_types.h, MimeSink).
//
// SECURITY: the whole message is attacker-controlled, and a gateway that reads MIME differently
// from the recipient's reader can be evaded. So wherever readers disagree the parser flags the
// part (MimeFlag) and scans every reading it can. Exactly:
//  - Duplicate Content-Type: kDupContentType; all types are kept (PartInfo::declared_types).
//    Structure follows a multipart type that has a boundary if any does (its parts are scanned
//    one by one, and its raw bytes are what a reader taking it as a single text sees), else a
//    message type, else the first. Charsets and filenames of every Content-Type are kept.
//  - Duplicate Content-Transfer-Encoding: kDupEncoding; the body is decoded once per distinct
//    encoding (PartInfo::readings), each reading delivered, typed and scanned on its own.
//  - Duplicate charset (in one or several fields): kDupCharset; each text reading is converted
//    once per distinct charset (readings = encodings x charsets, at most kMaxReadings).
//  - Duplicate boundary (two Content-Type fields or two boundary= parameters), boundary*0/*1
//    (kBoundaryRfc2231: the joined value and section 0 alone), a boundary that is an RFC 2047 encoded word
//    (kBoundaryEncodedWord: the literal and the decoded value), an unquoted boundary with blanks
//    (the whole value and its first word): all are candidates, and a line matching any candidate
//    is a delimiter — the body is split by the union, so every part either reading produces is
//    scanned, possibly in smaller pieces. kDupBoundary when there is more than one candidate.
//  - Empty boundary (boundary=""): kEmptyBoundary; lines "--" and "----" (exactly) are then the
//    delimiters. Multipart without boundary: kMissingBoundary, read as one text leaf.
//  - Delimiter matching (RFC 2046 5.1.1): first exact ("--" boundary ["--"] blanks), innermost
//    multipart first; then a line that only starts with "--" boundary is a delimiter too
//    (kBoundaryPrefixMatch: several readers accept it). A delimiter of an outer multipart closes
//    the inner ones (kMissingCloseBoundary on them).
//  - Missing close delimiter: at the end of the message every open multipart gets
//    kMissingCloseBoundary (kNoParts if no delimiter at all); the content up to the end is
//    scanned as the last part. Non-blank preamble or epilogue: kPreamble / kEpilogue, and their
//    bytes are delivered as reading 0 of the multipart itself (text, URLs).
//  - Invalid base64: kInvalidBase64 (characters skipped), kBase64AfterPadding (decoding goes on
//    after '='), kBase64Truncated; invalid quoted-printable: kInvalidQp (kept literally).
//  - Multipart or message/rfc822 with a non-identity encoding (RFC 2045 6.4 forbids it):
//    kEncodedMultipart; a multipart is split on its raw bytes; a message/rfc822 is decoded and
//    scanned as a leaf (its inner structure is not parsed again — see the README's to-do).
//  - A header section ended by a line that is not a header field: kMalformedHeader; that line
//    is the first body line. A message ending inside headers: kNoHeaderEnd.
//  - Filenames: every Content-Type name= and Content-Disposition filename=, their RFC 2231
//    forms and the RFC 2047 decodings of each are candidates (kMultipleFilenames when they
//    differ), with "begin NNN name" lines of uuencoded blocks.
// Bounds (scan/mime_limits.h) set kDepthLimit, kPartLimit, kTooManyHeaders, kHeaderTruncated,
// kLongLine, kDecodedLimit, kUrlLimit, kCandidateLimit — on the part and on the message.
// Results do not depend on how the message is split into feed() calls (a property test and the
// fuzz target compare every split with the whole). No heap allocation after construction
// except inside glibc's iconv_open, once per charset name (IconvCache).
// STANDARDS: RFC 5322 2.1.1, 2.2, 2.2.3 (fields, unfolding), 3.6.8; RFC 2045 (5, 6.1, 6.4,
// 6.7, 6.8), RFC 2046 (4.1.2, 5.1.1 delimiters, preamble/epilogue, 5.1.5 digest, 5.2.1
// message/rfc822), RFC 2047, RFC 2183, RFC 2231.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "scan/base64.h"
#include "scan/mime_limits.h"
#include "scan/mime_types.h"

namespace mx::scan {

class MimeParser {
 public:
  // limits fields are clamped to the compile-time maxima of scan/mime_limits.h.
  explicit MimeParser(MimeSink& sink, const MimeLimits& limits = {}, Base64Impl b64 = Base64Impl::kAuto);
  ~MimeParser();
  MimeParser(const MimeParser&) = delete;
  MimeParser& operator=(const MimeParser&) = delete;

  // Starts a new message (the sink stays).
  void reset();
  // The next bytes of the message, split anywhere.
  void feed(ByteSpan chunk);
  // End of the message: closes every open part, then on_message_end. feed() after finish()
  // is ignored until reset().
  void finish();

  const MessageInfo& message() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace mx::scan
