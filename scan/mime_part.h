// scan/mime_part.h — a part's header fields interpreted: type, encodings, boundaries,
// filenames, charsets, and the readings its body will be scanned with.
//
// SECURITY: this is where ambiguous headers are resolved, never in the attacker's favour:
// every declared value is kept as a candidate, flagged, and scanned (scan/mime_parser.h has the
// full list of cases and what is done for each).
// STANDARDS: RFC 2045 5 (Content-Type, default text/plain; charset=us-ascii), 6 (encodings),
// RFC 2046 5.1.1 (boundary), 5.1.5 (multipart/digest defaults to message/rfc822), 5.2.1
// (message/rfc822 only 7bit/8bit/binary), RFC 2183 (Content-Disposition filename), RFC 2231,
// RFC 2047 5 (encoded words, here also accepted inside quoted parameter values, as readers do).
#pragma once

#include <span>
#include <string_view>

#include "scan/mime_types.h"

namespace mx::scan {

class IconvCache;
class ParsedHeader;

struct PartContext {
  bool allow_structure = true;   // false past the depth bound: read as a leaf (kDepthLimit)
  bool parts_ok = true;          // false past the part bound: read as a leaf (kPartLimit)
  bool digest_child = false;     // the parent is multipart/digest
};

// Fills part's type, candidates, flags, kind and readings from its header fields. `scratch`
// is a ParsedHeader the caller owns (it is large).
void analyse_part_headers(PartInfo& part, std::span<const HeaderField> fields, const PartContext& ctx,
                          IconvCache* cache, ParsedHeader& scratch);

// Adds a filename candidate (an equal one gets the source bit instead).
void add_filename(PartInfo& part, std::string_view name, uint8_t source);

bool is_identity(Encoding e);

}  // namespace mx::scan
