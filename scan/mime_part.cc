// scan/mime_part.cc — from header fields to PartInfo: candidates, flags, kind, readings.
#include "scan/mime_part.h"

#include "common/ascii.h"
#include "scan/charset.h"
#include "scan/encoded_word.h"
#include "scan/mime_header.h"

namespace mx::scan {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Encoding parse_encoding(std::string_view v) {  // v lowercase (RFC 2045 6.1 is case-insensitive)
  if (v == "7bit") return Encoding::k7bit;
  if (v == "8bit") return Encoding::k8bit;
  if (v == "binary") return Encoding::kBinary;
  if (v == "quoted-printable") return Encoding::kQuotedPrintable;
  if (v == "base64") return Encoding::kBase64;
  if (v == "x-uuencode" || v == "uuencode" || v == "x-uue") return Encoding::kUuencode;
  return Encoding::kUnknown;
}

// Collects candidates while the fields are read.
struct Collector {
  PartInfo& part;
  IconvCache* cache;
  char scratch[kMaxHeaderField];
  char decoded[kMaxHeaderField];

  void add_type(std::string_view t) {
    for (uint32_t i = 0; i < part.n_declared_types; ++i)
      if (part.declared_types[i].view() == t) return;
    if (part.n_declared_types == kMaxContentTypes) {
      part.flags |= kCandidateLimit;
      return;
    }
    part.declared_types[part.n_declared_types++].assign(t);
  }
  void add_boundary(std::string_view b) {
    if (b.size() > kMaxBoundaryLength) part.flags |= kBoundaryTooLong;
    if (b.empty()) part.flags |= kEmptyBoundary;
    b = b.substr(0, kMaxBoundaryLength);
    for (uint32_t i = 0; i < part.n_boundaries; ++i)
      if (part.boundaries[i].view() == b) return;
    if (part.n_boundaries == kMaxBoundaries) {
      part.flags |= kCandidateLimit;
      return;
    }
    part.boundaries[part.n_boundaries++].assign(b);
  }
  void add_encoding(Encoding e) {
    for (uint32_t i = 0; i < part.n_encodings; ++i)
      if (part.encodings[i] == e) return;
    if (part.n_encodings == kMaxEncodings) {
      part.flags |= kCandidateLimit;
      return;
    }
    part.encodings[part.n_encodings++] = e;
  }
  FixedStr<kMaxCharsetLength> charsets[kMaxCharsets];
  uint32_t n_charsets = 0;
  void add_charset(std::string_view cs) {
    char norm[kMaxCharsetLength + 1];
    size_t len = 0;
    if (!normalize_charset(cs, norm, len)) {
      part.flags |= kUnknownCharset;
      len = 0;  // read as UTF-8 (the empty name)
    }
    std::string_view v(norm, len);
    for (uint32_t i = 0; i < n_charsets; ++i)
      if (charsets[i].view() == v) return;
    if (n_charsets == kMaxCharsets) {
      part.flags |= kCandidateLimit;
      return;
    }
    charsets[n_charsets++].assign(v);
  }
  void add_name(std::string_view v, uint8_t source) {
    add_filename(part, v, source);
    if (v.find("=?") == std::string_view::npos) return;
    size_t len = 0;
    EncodedWordResult r = decode_encoded_words(v, cache, decoded, sizeof(decoded), len);
    part.flags |= r.flags & (kEncodedWordInvalid | kInvalidCharset | kUnknownCharset);
    if (r.decoded) add_filename(part, std::string_view(decoded, len), static_cast<uint8_t>(source | kFromRfc2047));
  }
  // Every value of parameter `name` of h, with its RFC 2231 form flagged by `form_flag`.
  template <typename Fn>
  void each_param(const ParsedHeader& h, std::string_view name, Fn&& fn) {
    ParamValue vals[kMaxParams];
    size_t n = param_values(h, name, cache, vals, kMaxParams, scratch, sizeof(scratch), part.flags);
    for (size_t i = 0; i < n; ++i) fn(vals[i]);
  }
};

void content_type_field(Collector& c, const ParsedHeader& h) {
  c.part.flags |= h.flags() & (kCandidateLimit | kRfc2231Invalid);
  c.add_type(h.value());
  c.each_param(h, "charset", [&](const ParamValue& v) { c.add_charset(v.value); });
  c.each_param(h, "name", [&](const ParamValue& v) {
    if (v.form == ParamForm::kRfc2231First) return;
    c.add_name(v.value, static_cast<uint8_t>(kFromTypeName | (v.form != ParamForm::kPlain ? kFromRfc2231 : 0)));
  });
  if (!starts_with(h.value(), "multipart/")) return;
  c.each_param(h, "boundary", [&](const ParamValue& v) {
    if (v.form != ParamForm::kPlain) c.part.flags |= kBoundaryRfc2231;
    c.add_boundary(v.value);
    // An unquoted value with blanks: readers that stop at the blank see its first word.
    if (size_t sp = v.value.find_first_of(" \t"); sp != std::string_view::npos && sp > 0)
      c.add_boundary(v.value.substr(0, sp));
    if (v.value.find("=?") != std::string_view::npos) {  // some readers decode it
      size_t len = 0;
      if (decode_encoded_words(v.value, c.cache, c.decoded, sizeof(c.decoded), len).decoded) {
        c.part.flags |= kBoundaryEncodedWord;
        c.add_boundary(std::string_view(c.decoded, len));
      }
    }
  });
}

void disposition_field(Collector& c, const ParsedHeader& h, bool first) {
  c.part.flags |= h.flags() & (kCandidateLimit | kRfc2231Invalid);
  if (first) c.part.disposition.assign(h.value().substr(0, 32));
  c.each_param(h, "filename", [&](const ParamValue& v) {
    if (v.form == ParamForm::kRfc2231First) return;
    c.add_name(v.value, static_cast<uint8_t>(kFromDispFilename | (v.form != ParamForm::kPlain ? kFromRfc2231 : 0)));
  });
}

// The structural type: a multipart with a boundary wins (its parts are then scanned one by
// one), then a message type, then the first declared type, then the default.
void choose_type(PartInfo& p, const PartContext& ctx) {
  std::string_view chosen;
  for (uint32_t i = 0; i < p.n_declared_types && chosen.empty(); ++i)
    if (starts_with(p.declared_types[i].view(), "multipart/") && p.n_boundaries) chosen = p.declared_types[i].view();
  for (uint32_t i = 0; i < p.n_declared_types && chosen.empty(); ++i)
    if (p.declared_types[i].view() == "message/rfc822" || p.declared_types[i].view() == "message/global")
      chosen = p.declared_types[i].view();
  if (chosen.empty() && p.n_declared_types) chosen = p.declared_types[0].view();
  if (chosen.empty()) chosen = ctx.digest_child ? "message/rfc822" : "text/plain";
  p.content_type.assign(chosen);
  p.kind = EntityKind::kLeaf;
  if (starts_with(chosen, "multipart/")) {
    if (!p.n_boundaries) p.flags |= kMissingBoundary;
    else p.kind = EntityKind::kMultipart;
  } else if (chosen == "message/rfc822" || chosen == "message/global") {
    p.kind = EntityKind::kMessage;
  }
  if (p.kind != EntityKind::kLeaf) {
    for (uint32_t i = 0; i < p.n_encodings; ++i)
      if (!is_identity(p.encodings[i])) p.flags |= kEncodedMultipart;
    // An encoded message/rfc822 is decoded and scanned as a leaf (not parsed again).
    if (p.kind == EntityKind::kMessage && (p.flags & kEncodedMultipart)) p.kind = EntityKind::kLeaf;
  }
  if (p.kind != EntityKind::kLeaf && (!ctx.allow_structure || !ctx.parts_ok)) {
    p.flags |= ctx.allow_structure ? kPartLimit : kDepthLimit;
    p.kind = EntityKind::kLeaf;
  }
}

bool is_text_type(const PartInfo& p) {
  if (p.kind != EntityKind::kLeaf) return false;
  for (uint32_t i = 0; i < p.n_declared_types; ++i) {
    std::string_view t = p.declared_types[i].view();
    if (starts_with(t, "text/") || starts_with(t, "message/") || starts_with(t, "multipart/")) return true;
  }
  return p.n_declared_types == 0 || p.content_type.view().find('/') == std::string_view::npos;
}

void make_readings(PartInfo& p, const Collector& c) {
  if (p.kind == EntityKind::kMessage) return;
  if (p.kind == EntityKind::kMultipart) {  // preamble and epilogue: raw text
    p.n_readings = 1;
    p.readings[0].encoding = Encoding::k7bit;
    p.readings[0].text = true;
    p.readings[0].charset.assign("us-ascii");
    return;
  }
  const bool text = is_text_type(p);
  const uint32_t ncs = text ? (c.n_charsets ? c.n_charsets : 1) : 1;
  for (uint32_t e = 0; e < p.n_encodings; ++e) {
    for (uint32_t k = 0; k < ncs; ++k) {
      if (p.n_readings == kMaxReadings) {
        p.flags |= kCandidateLimit;
        return;
      }
      Reading& r = p.readings[p.n_readings++];
      r.encoding = p.encodings[e];
      r.text = text;
      if (text) r.charset.assign(c.n_charsets ? c.charsets[k].view() : "us-ascii");
    }
  }
}

}  // namespace

bool is_identity(Encoding e) {
  return e == Encoding::k7bit || e == Encoding::k8bit || e == Encoding::kBinary;
}

void add_filename(PartInfo& part, std::string_view name, uint8_t source) {
  if (name.size() > kMaxFilenameLength) part.flags |= kFilenameTruncated;
  name = name.substr(0, kMaxFilenameLength);
  for (uint32_t i = 0; i < part.n_filenames; ++i) {
    if (part.filenames[i].name.view() == name) {
      part.filenames[i].sources |= source;
      return;
    }
  }
  if (part.n_filenames == kMaxFilenames) {
    part.flags |= kCandidateLimit;
    return;
  }
  part.filenames[part.n_filenames].name.assign(name);
  part.filenames[part.n_filenames++].sources = source;
  if (part.n_filenames > 1) part.flags |= kMultipleFilenames;
}

void analyse_part_headers(PartInfo& part, std::span<const HeaderField> fields, const PartContext& ctx,
                          IconvCache* cache, ParsedHeader& h) {
  Collector c{part, cache, {}, {}, {}, 0};
  uint32_t n_ct = 0, n_cte = 0, n_cd = 0;
  for (const HeaderField& f : fields) {
    if (iequals(f.name, "content-type")) {
      h.parse(f.value);
      content_type_field(c, h);
      ++n_ct;
    } else if (iequals(f.name, "content-transfer-encoding")) {
      h.parse(f.value);
      Encoding e = parse_encoding(h.value());
      if (e == Encoding::kUnknown) part.flags |= kUnknownEncoding;
      c.add_encoding(e);
      ++n_cte;
    } else if (iequals(f.name, "content-disposition")) {
      h.parse(f.value);
      disposition_field(c, h, n_cd == 0);
      ++n_cd;
    }
  }
  if (n_ct > 1) part.flags |= kDupContentType;
  if (n_cte > 1) part.flags |= kDupEncoding;
  if (n_cd > 1) part.flags |= kDupDisposition;
  if (c.n_charsets > 1) part.flags |= kDupCharset;
  if (part.n_boundaries > 1) part.flags |= kDupBoundary;
  if (part.n_encodings == 0) part.encodings[part.n_encodings++] = Encoding::k7bit;  // RFC 2045 6.1
  choose_type(part, ctx);
  make_readings(part, c);
}

}  // namespace mx::scan
