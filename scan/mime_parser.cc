// scan/mime_parser.cc — line assembly over chunk boundaries and RFC 5322 header fields.
#include "scan/mime_parser.h"

#include <algorithm>
#include <cstring>

#include "scan/mime_parser_state.h"
#include "scan/mime_part.h"

namespace mx::scan {
namespace {

MimeLimits clamp(MimeLimits l) {
  l.max_depth = std::min(l.max_depth, kMaxDepth);
  l.max_parts = std::min(l.max_parts, kMaxParts);
  l.max_header_fields = std::min(l.max_header_fields, kMaxHeaderFields);
  l.max_header_bytes = std::min(l.max_header_bytes, kMaxHeaderBytes);
  return l;
}

inline std::string_view chars(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

bool is_content_field(std::string_view name) {
  if (name.size() < 8) return false;
  for (size_t i = 0; i < 8; ++i)
    if ((name[i] | 0x20) != "content-"[i]) return false;
  return true;
}

}  // namespace

MimeParser::State::State(MimeSink& s, const MimeLimits& l, Base64Impl b64)
    : sink(s), limits(clamp(l)), parsed(std::make_unique<ParsedHeader>()),
      line(std::make_unique<uint8_t[]>(kLineBuffer)),
      hbuf_cap(limits.max_header_bytes + size_t{kMaxHeaderField} * (1 + kMaxStructuralFields)),
      stack(std::make_unique<Entity[]>(limits.max_depth + 1)) {
  hbuf = std::make_unique<char[]>(hbuf_cap);
  fields = std::make_unique<FieldRef[]>(limits.max_header_fields + kMaxStructuralFields);
  views = std::make_unique<HeaderField[]>(limits.max_header_fields + kMaxStructuralFields);
  for (auto& p : pipes) p = std::make_unique<ReadingPipeline>(b64);
  reset();
}

void MimeParser::State::reset() {
  msg = MessageInfo{};
  finished = frozen = false;
  line_len = 0;
  tail = tail_discard = pending_cr = false;
  eol_len = 0;
  hbytes = n_fields = n_generic = n_structural = 0;
  field_open = field_stored = raw_open = false;
  line_pos = 0;
  active = 0;
  depth = 1;
  stack[0] = Entity{};
  msg.parts = 1;
}

void MimeParser::State::feed(ByteSpan in) {
  if (finished) return;
  const uint64_t base = msg.raw_size;
  msg.raw_size += in.size();
  const uint8_t* p = in.data();
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    if (!tail && line_len == 0) line_pos = base + i;
    const auto* lf = static_cast<const uint8_t*>(std::memchr(p + i, '\n', n - i));
    const size_t end = lf ? static_cast<size_t>(lf - p) + 1 : n;
    if (tail) {
      tail_piece(ByteSpan(p + i, end - i), lf != nullptr);
      i = end;
      continue;
    }
    const size_t len = end - i;
    if (line_len == 0 && lf && len <= kLineBuffer) {  // a whole line in this chunk: no copy
      line_end(ByteSpan(p + i, len), true);
      i = end;
      continue;
    }
    const size_t take = std::min(len, kLineBuffer - line_len);
    std::memcpy(line.get() + line_len, p + i, take);
    line_len += take;
    i += take;
    if (take == len && lf) {
      const size_t whole = line_len;
      line_len = 0;
      line_end(ByteSpan(line.get(), whole), true);
    } else if (line_len == kLineBuffer) {  // kLineBuffer bytes and no LF yet: head, then tail
      line_len = 0;
      tail = true;
      head(ByteSpan(line.get(), kLineBuffer));
    }
  }
}

// A complete line (with its LF, or the last bytes of the message without one).
void MimeParser::State::line_end(ByteSpan bytes, bool has_lf) {
  std::string_view l = chars(bytes);
  std::string_view eol_bytes;
  if (has_lf) {
    size_t k = l.size() >= 2 && l[l.size() - 2] == '\r' ? 2 : 1;
    eol_bytes = l.substr(l.size() - k);
    l.remove_suffix(k);
  }
  if (l.size() > kMaxLineLength) set_flag(kLongLine);
  dispatch(l, eol_bytes);
}

// The first kLineBuffer bytes of a longer line; the rest follows as tail pieces.
void MimeParser::State::head(ByteSpan bytes) {
  set_flag(kLongLine);
  std::string_view l = chars(bytes);
  while (true) {
    if (top().state != BodyState::kHeaders) {
      body_head(l);
      return;
    }
    if (header_line(l)) {
      tail_discard = true;  // the rest of an over-long header line is dropped (flagged)
      set_flag(kHeaderTruncated);
      return;
    }
    set_flag(kMalformedHeader);
    end_headers();
  }
}

void MimeParser::State::tail_piece(ByteSpan bytes, bool ends_line) {
  if (ends_line) tail = false;
  if (tail_discard) {
    if (ends_line) tail_discard = false;
    return;
  }
  std::string_view b = chars(bytes);
  if (pending_cr) {
    pending_cr = false;
    if (ends_line && b.size() == 1) {  // "\r" + "\n": the line ends with CRLF
      eol[0] = '\r';
      eol[1] = '\n';
      eol_len = 2;
      return;
    }
    body_bytes("\r");
  }
  if (ends_line) {
    size_t k = b.size() >= 2 && b[b.size() - 2] == '\r' ? 2 : 1;
    body_bytes(b.substr(0, b.size() - k));
    std::memcpy(eol, b.data() + b.size() - k, k);
    eol_len = k;
    return;
  }
  if (!b.empty() && b.back() == '\r') {
    pending_cr = true;
    b.remove_suffix(1);
  }
  body_bytes(b);
}

// RFC 5322 2.2: "name:" value, or (2.2.3) a continuation line starting with a blank. False when
// the line is neither (the caller ends the header section there).
bool MimeParser::State::header_line(std::string_view l) {
  if (l.empty()) {
    end_headers();
    return true;
  }
  if (l[0] == ' ' || l[0] == '\t') {
    if (!field_open) return false;
    append_value(l);  // unfolding: the CRLF goes, the blank stays
    return true;
  }
  close_field();
  size_t colon = l.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = l.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);  // obs-optional
  if (name.empty()) return false;
  for (char c : name)  // RFC 5322 3.6.8 ftext
    if (static_cast<uint8_t>(c) < 33 || static_cast<uint8_t>(c) > 126) return false;
  std::string_view value = l.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  begin_field(name, value, static_cast<uint32_t>(colon));
  return true;
}

// The last stored field ends where the line being handled begins.
void MimeParser::State::close_field() {
  if (raw_open) fields[n_fields - 1].raw_end = line_pos;
  raw_open = false;
}

void MimeParser::State::begin_field(std::string_view name, std::string_view value, uint32_t colon) {
  field_open = true;
  field_stored = false;
  if (n_generic < limits.max_header_fields && hbytes < limits.max_header_bytes) {
    ++n_generic;
  } else {
    set_flag(kTooManyHeaders);
    // Past the bounds, Content-* fields are still kept (from a reserve) so that padding the
    // header cannot hide the structure.
    if (!is_content_field(name) || n_structural == kMaxStructuralFields) return;
    ++n_structural;
  }
  name = name.substr(0, kMaxHeaderField);
  FieldRef& f = fields[n_fields++];
  f.name_off = static_cast<uint32_t>(hbytes);
  f.name_len = static_cast<uint32_t>(name.size());
  std::memcpy(hbuf.get() + hbytes, name.data(), name.size());
  hbytes += name.size();
  f.value_off = static_cast<uint32_t>(hbytes);
  f.value_len = 0;
  f.raw_begin = line_pos;
  f.raw_end = line_pos;
  f.colon = colon;
  raw_open = true;
  field_stored = true;
  append_value(value);
}

void MimeParser::State::append_value(std::string_view s) {
  if (!field_stored) return;
  FieldRef& f = fields[n_fields - 1];
  size_t room = kMaxHeaderField - (f.name_len + f.value_len);
  size_t take = std::min(room, s.size());
  std::memcpy(hbuf.get() + hbytes, s.data(), take);
  hbytes += take;
  f.value_len += static_cast<uint32_t>(take);
  if (take < s.size()) set_flag(kHeaderTruncated);
}

// The empty line: the entity's fields are interpreted and its body begins.
void MimeParser::State::end_headers() {
  Entity& e = top();
  close_field();
  for (uint32_t i = 0; i < n_fields; ++i) {
    const FieldRef& f = fields[i];
    views[i] = {std::string_view(hbuf.get() + f.name_off, f.name_len),
                std::string_view(hbuf.get() + f.value_off, f.value_len), f.raw_begin, f.raw_end, f.colon};
  }
  PartContext pc;
  pc.allow_structure = e.info.depth < limits.max_depth;
  pc.parts_ok = msg.parts < limits.max_parts;
  pc.digest_child = depth >= 2 && stack[depth - 2].digest;
  analyse_part_headers(e.info, std::span<const HeaderField>(views.get(), n_fields), pc, &iconv, *parsed);
  e.digest = e.info.kind == EntityKind::kMultipart && e.info.content_type.view() == "multipart/digest";
  e.info.headers = std::span<const HeaderField>(views.get(), n_fields);
  sink.on_part_begin(e.info);
  e.info.headers = {};
  hbytes = n_fields = n_generic = n_structural = 0;
  field_open = field_stored = false;
  eol_len = 0;
  open_body(e);
}

void MimeParser::State::finish() {
  if (finished) return;
  if (tail) {
    if (pending_cr && !tail_discard) body_bytes("\r");
    tail = tail_discard = pending_cr = false;
  } else if (line_len) {
    const size_t n = line_len;
    line_len = 0;
    line_end(ByteSpan(line.get(), n), false);
  }
  line_pos = msg.raw_size;  // a field still open ends with the message
  while (top().state == BodyState::kHeaders) {  // (a message/rfc822 opens another one)
    set_flag(kNoHeaderEnd);
    end_headers();
  }
  flush_eol();  // the last line end of the last body is content
  while (depth) close_top();
  finished = true;
  sink.on_message_end(msg);
}

MimeParser::MimeParser(MimeSink& sink, const MimeLimits& limits, Base64Impl b64)
    : s_(std::make_unique<State>(sink, limits, b64)) {}
MimeParser::~MimeParser() = default;
void MimeParser::reset() { s_->reset(); }
void MimeParser::feed(ByteSpan chunk) { s_->feed(chunk); }
void MimeParser::finish() { s_->finish(); }
const MessageInfo& MimeParser::message() const { return s_->msg; }

}  // namespace mx::scan
