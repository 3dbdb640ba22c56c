// scan/mime_structure.cc — the entity stack: bodies, delimiters, nesting, closing.
#include <algorithm>

#include "scan/mime_parser_state.h"
#include "scan/mime_part.h"

namespace mx::scan {
namespace {

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

}  // namespace

// A whole line (content without its line end) for the top entity.
void MimeParser::State::dispatch(std::string_view content, std::string_view eol_bytes) {
  while (top().state == BodyState::kHeaders) {
    if (header_line(content)) return;
    set_flag(kMalformedHeader);  // not a field: the header section ends, the line is body
    end_headers();
  }
  body_line(content, eol_bytes);
}

void MimeParser::State::body_line(std::string_view content, std::string_view eol_bytes) {
  Delimiter d;
  if (!frozen && find_delimiter(content, d, true)) {
    if (d.close || msg.parts < limits.max_parts) {
      eol_len = 0;  // the line end before a delimiter belongs to it (RFC 2046 5.1.1)
      on_delimiter(d);
      return;
    }
    // Past the part bound: no more structure; the rest stays in the current body.
    set_flag(kPartLimit);
    msg.flags |= kPartLimit;
    frozen = true;
  }
  flush_eol();
  body_bytes(content);
  std::copy(eol_bytes.begin(), eol_bytes.end(), eol);
  eol_len = eol_bytes.size();
}

// The head of an over-long body line: a delimiter (its tail is dropped) or content.
void MimeParser::State::body_head(std::string_view bytes) {
  Delimiter d;
  if (!frozen && find_delimiter(bytes, d, false) && (d.close || msg.parts < limits.max_parts)) {
    eol_len = 0;
    tail_discard = true;
    on_delimiter(d);
    return;
  }
  flush_eol();
  if (!bytes.empty() && bytes.back() == '\r') {
    pending_cr = true;
    bytes.remove_suffix(1);
  }
  body_bytes(bytes);
}

// RFC 2046 5.1.1: "--" boundary ["--"] blanks. Exact matches first, innermost multipart first;
// then a line that only starts with "--" boundary (kBoundaryPrefixMatch). `allow_strict` is
// false for the head of an over-long line (it cannot be all blanks after the boundary).
bool MimeParser::State::find_delimiter(std::string_view l, Delimiter& d, bool allow_strict) const {
  if (l.size() < 2 || l[0] != '-' || l[1] != '-') return false;
  const std::string_view rest = l.substr(2);
  for (int pass = allow_strict ? 0 : 1; pass < 2; ++pass) {
    for (uint32_t lvl = depth; lvl-- > 0;) {
      const Entity& e = stack[lvl];
      if (e.info.kind != EntityKind::kMultipart || e.closed) continue;
      for (uint32_t k = 0; k < e.info.n_boundaries; ++k) {
        std::string_view b = e.info.boundaries[k].view();
        if (rest.substr(0, b.size()) != b) continue;
        std::string_view after = rest.substr(b.size());
        bool close = after.substr(0, 2) == "--";
        if (close) after.remove_prefix(2);
        if (pass == 0 && !blank(after)) continue;
        if (pass == 1 && b.empty()) continue;  // "--" alone only matches exactly
        d = {lvl, close, pass == 1};
        return true;
      }
    }
  }
  return false;
}

void MimeParser::State::on_delimiter(const Delimiter& d) {
  Entity& m = stack[d.level];
  if (d.prefix) m.info.flags |= kBoundaryPrefixMatch;
  while (depth - 1 > d.level) close_top();  // inner parts end here (inner multiparts unclosed)
  if (m.state == BodyState::kPreamble) finish_body();
  if (d.close) {
    m.closed = true;
    m.state = BodyState::kEpilogue;
    start_body(m);
  } else {
    m.state = BodyState::kParts;
    push_child();
  }
}

void MimeParser::State::push_child() {
  const PartInfo& parent = top().info;
  Entity& c = stack[depth];
  c = Entity{};
  c.info.id = msg.parts++;
  c.info.parent = parent.id;
  c.info.depth = parent.depth + 1;
  ++depth;
}

void MimeParser::State::open_body(Entity& e) {
  switch (e.info.kind) {
    case EntityKind::kMultipart:
      e.state = BodyState::kPreamble;
      start_body(e);
      return;
    case EntityKind::kMessage:  // RFC 2046 5.2.1: the body is a message: its headers follow
      e.state = BodyState::kMessage;
      push_child();
      return;
    case EntityKind::kLeaf:
      e.state = BodyState::kLeaf;
      start_body(e);
      return;
  }
}

void MimeParser::State::start_body(Entity& e) {
  ctx.sink = &sink;
  ctx.part = &e.info;
  ctx.limits = &limits;
  ctx.iconv = &iconv;
  ctx.message_decoded = msg.decoded_size;
  ctx.message_urls = msg.urls;
  active = e.info.n_readings;
  for (uint32_t r = 0; r < active; ++r) pipes[r]->start(r, &ctx);
}

void MimeParser::State::finish_body() {
  for (uint32_t r = 0; r < active; ++r) pipes[r]->finish();
  active = 0;
}

void MimeParser::State::body_bytes(std::string_view b) {
  if (b.empty()) return;
  Entity& e = top();
  e.info.raw_size += b.size();
  if (e.state == BodyState::kPreamble && !blank(b)) e.info.flags |= kPreamble;
  if (e.state == BodyState::kEpilogue && !blank(b)) e.info.flags |= kEpilogue;
  ByteSpan bytes(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  for (uint32_t r = 0; r < active; ++r) pipes[r]->feed(bytes);
}

void MimeParser::State::flush_eol() {
  if (!eol_len) return;
  const size_t n = eol_len;
  eol_len = 0;
  body_bytes(std::string_view(eol, n));
}

// Ends the top entity (its body, then on_part_end) and pops it.
void MimeParser::State::close_top() {
  Entity& e = top();
  if (e.state == BodyState::kHeaders) {  // ended by a delimiter before an empty line
    end_headers();
    if (&top() != &e) close_top();  // the message/rfc822 child that just opened
  }
  finish_body();
  if (e.info.kind == EntityKind::kMultipart && !e.closed) {
    e.info.flags |= kMissingCloseBoundary;
    if (e.state == BodyState::kPreamble) e.info.flags |= kNoParts;
  }
  for (uint32_t r = 0; r < e.info.n_readings; ++r) {
    msg.decoded_size += e.info.readings[r].decoded_size;
    msg.urls += e.info.readings[r].urls;
  }
  msg.flags |= e.info.flags;
  sink.on_part_end(e.info);
  --depth;
}

}  // namespace mx::scan
