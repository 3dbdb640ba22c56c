// scan/mime_parser_state.h — the parser's state, shared by mime_parser.cc (lines, header
// fields) and mime_structure.cc (entities, delimiters, bodies). Internal to scan/.
//
// SECURITY: every buffer here is allocated once, at construction, from the bounds of
// scan/mime_limits.h; nothing grows while a message is parsed.
// STANDARDS: see scan/mime_parser.h.
#pragma once

#include <memory>
#include <string_view>

#include "scan/charset.h"
#include "scan/mime_body.h"
#include "scan/mime_header.h"
#include "scan/mime_parser.h"

namespace mx::scan {

enum class BodyState : uint8_t { kHeaders, kLeaf, kPreamble, kParts, kEpilogue, kMessage };

struct Entity {
  PartInfo info;
  BodyState state = BodyState::kHeaders;
  bool closed = false;  // a multipart whose close delimiter was seen
  bool digest = false;  // multipart/digest: parts default to message/rfc822
};

struct Delimiter {
  uint32_t level = 0;  // index of the multipart in the entity stack
  bool close = false;
  bool prefix = false;
};

struct MimeParser::State {
  State(MimeSink& sink, const MimeLimits& limits, Base64Impl b64);
  void reset();

  // mime_parser.cc: line assembly and header fields
  void feed(ByteSpan in);
  void finish();
  void line_end(ByteSpan line, bool has_lf);
  void head(ByteSpan bytes);
  void tail_piece(ByteSpan bytes, bool ends_line);
  bool header_line(std::string_view content);
  void begin_field(std::string_view name, std::string_view value, uint32_t colon);
  void close_field();
  void append_value(std::string_view s);
  void end_headers();

  // mime_structure.cc: entities, delimiters, bodies
  Entity& top() { return stack[depth - 1]; }
  void dispatch(std::string_view content, std::string_view eol);
  void body_line(std::string_view content, std::string_view eol);
  void body_head(std::string_view bytes);
  bool find_delimiter(std::string_view line, Delimiter& d, bool allow_strict) const;
  void on_delimiter(const Delimiter& d);
  void push_child();
  void open_body(Entity& e);
  void start_body(Entity& e);
  void finish_body();
  void body_bytes(std::string_view b);
  void flush_eol();
  void close_top();
  void set_flag(uint64_t f) { top().info.flags |= f; }

  MimeSink& sink;
  MimeLimits limits;
  MessageInfo msg;
  bool finished = false;
  bool frozen = false;  // past the part bound: no more structure
  IconvCache iconv;
  std::unique_ptr<ParsedHeader> parsed;

  // Line assembly: a line is held up to kLineBuffer bytes; beyond, its head is handled and
  // the rest streamed as tail pieces.
  std::unique_ptr<uint8_t[]> line;
  size_t line_len = 0;
  bool tail = false;
  bool tail_discard = false;  // the tail of a header or delimiter line: dropped
  bool pending_cr = false;    // a tail piece ended with CR (maybe half of CRLF)
  char eol[2] = {};           // the line end of the previous body line, held: it belongs to
  size_t eol_len = 0;         // a delimiter if one follows (RFC 2046 5.1.1)

  // The header section of the top entity.
  struct FieldRef {
    uint32_t name_off, name_len, value_off, value_len;
    uint64_t raw_begin, raw_end;
    uint32_t colon;
  };
  uint64_t line_pos = 0;  // offset in the message of the line being assembled
  bool raw_open = false;  // the last stored field's raw_end is not known yet
  std::unique_ptr<char[]> hbuf;
  size_t hbuf_cap = 0;
  size_t hbytes = 0;
  std::unique_ptr<FieldRef[]> fields;
  std::unique_ptr<HeaderField[]> views;
  uint32_t n_fields = 0, n_generic = 0, n_structural = 0;
  bool field_open = false;    // continuation lines apply to the last field
  bool field_stored = false;  // ... which was stored

  // Open entities: [0] is the message; the top one receives lines.
  std::unique_ptr<Entity[]> stack;
  uint32_t depth = 0;

  // The readings of the body being read.
  std::unique_ptr<ReadingPipeline> pipes[kMaxReadings];
  BodyContext ctx;
  uint32_t active = 0;
};

}  // namespace mx::scan
