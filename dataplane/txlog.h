// dataplane/txlog.h — pieces of the transaction log record (one JSON line per message and per
// refused attempt; fields in docs/gateway.md).
//
// SECURITY: every string comes from the network; json_string escapes it so that a record is
// always one valid JSON line (RFC 8259), whatever the bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace mx::dp {

constexpr size_t kMaxLogSubject = 256;           // bytes of Subject / Message-ID kept in a record
constexpr size_t kMaxLogHeaderScan = 64 * 1024;  // header bytes searched for them

// The record's "time": UTC with milliseconds, e.g. 2026-11-29T00:56:11.667Z.
std::string log_time();
// Appends s as a JSON string: quote, backslash and control characters escaped, invalid UTF-8
// replaced by U+FFFD.
void json_string(std::string& out, std::string_view s);
// The first value of header field `name` (lower case) in the message's header section,
// unfolded, raw (not RFC 2047-decoded), at most `max` bytes; empty if absent.
std::string header_value(ByteSpan msg, std::string_view name, size_t max);

}  // namespace mx::dp
