// tests/unit/smtp/transcript.h — runs a server-session script (.in) and renders what the
// session said and did as text (.ref). Also used by the split-invariance property test.
//
// Script lines:
//   C: text          the client sends text + CRLF, as its own segment
//   C| text          text + CRLF appended to the previous segment (pipelined together)
//   R: text          raw bytes (escapes \r \n \t \0 \\ \xNN), no CRLF added, own segment
//   R| text          raw bytes appended to the previous segment
//   !config k=v ...  before the first C/R: hostname, max_message_size, max_recipients,
//                    bare_newlines=normalize
//   !connect CODE ENH TEXT | !connect defer    on_connect's answer (default: accept)
//   !defer rcpt|mail|eod|helo on|off           the handler defers that decision
//   !resume CODE [ENH] TEXT | !resume accept   answer the pending decision
//   !tick SECONDS    advance the clock and call tick()
//   # ...            comment
// The harness handler accepts everything except: recipients outside example.test (550 5.7.1,
// as the gateway's tenant lookup does) and local parts starting with "unknown" (550 5.1.1).
#pragma once

#include <string>
#include <vector>

namespace mx::smtp::test {

struct Segment {
  std::string bytes;
  std::vector<std::string> actions;  // "!" lines to run before this segment is fed
};

struct Script {
  std::vector<std::string> config;
  std::vector<std::string> connect;
  std::vector<Segment> segments;
  std::vector<std::string> trailing_actions;
};

Script parse_script(const std::string& text);
// splits: 0 = each segment as written; N > 0 = each segment cut into pieces by seed N
// (N == 1: one byte at a time).
std::string run_script(const Script& s, unsigned splits);
std::string unescape(const std::string& s);

}  // namespace mx::smtp::test
