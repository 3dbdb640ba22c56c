// ipc/txlog.h — pieces of the transaction log record (one JSON line per message and per
// refused attempt; fields in docs/gateway.md).
//
// SECURITY: every string comes from the network; json_string escapes it so that a record is
// always one valid JSON line (RFC 8259), whatever the bytes; terminal_text so that printing it
// to a terminal cannot move the cursor, retitle the window or send any other control sequence.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace mx::ipc {

constexpr size_t kMaxLogSubject = 256;           // bytes of Subject / Message-ID kept in a record
constexpr size_t kMaxLogHeaderScan = 64 * 1024;  // header bytes searched for them

// The record's "time": UTC with milliseconds, e.g. 2026-11-29T00:56:11.667Z.
std::string log_time();
// Appends s as a JSON string: quote, backslash and control characters escaped, invalid UTF-8
// replaced by U+FFFD.
void json_string(std::string& out, std::string_view s);
// Bytes (a quarantined message) as an operator's terminal can show them without obeying any:
// printable ASCII, TAB and LF as they are, CR LF as LF (the lines stay lines), every other C0
// control, DEL, the C1 controls (U+0080..U+009F, of which U+009B is CSI, ECMA-48 5.3) and bytes
// that are not UTF-8 as \xNN. Other valid UTF-8 passes, so text stays readable. A backslash is
// not escaped: "\x1b" in the output may also be those four characters in the message.
std::string terminal_text(std::string_view bytes);
// The first value of header field `name` (lower case) in the message's header section,
// unfolded, raw (not RFC 2047-decoded), at most `max` bytes; empty if absent.
std::string header_value(ByteSpan msg, std::string_view name, size_t max);

}  // namespace mx::ipc
