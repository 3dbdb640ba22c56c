// ipc/txlog.cc — pieces of the transaction log record: JSON string escaping and the
// header lookup for Subject and Message-ID; the terminal rendering of untrusted bytes.
#include "ipc/txlog.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace mx::ipc {

std::string log_time() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  return buf;
}

namespace {

// The length of the valid UTF-8 sequence that starts at s[i] (a byte >= 0x80), or 0 (RFC 3629
// table: no overlongs, no surrogates, <= U+10FFFF, not truncated).
size_t utf8_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  bool ok = len && i + len <= s.size();
  for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
  if (ok && len >= 3) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
      ok = false;
  }
  return ok ? len : 0;
}

}  // namespace

// RFC 8259 7: quotation mark, reverse solidus and control characters escaped; bytes >= 0x80
// that are not valid UTF-8 become U+FFFD so that every line is valid JSON.
void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (const size_t len = utf8_length(s, i)) {
      out.append(s.data() + i, len);
      i += len - 1;
    } else {
      out += "\\ufffd";
    }
  }
  out += '"';
}

std::string terminal_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;  // CR LF: the LF ends the line
    if (c == '\t' || c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += s[i];
      continue;
    }
    size_t len = c >= 0x80 ? utf8_length(s, i) : 0;
    if (len == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) len = 0;  // C1 control
    if (len) {
      out.append(s.data() + i, len);
      i += len - 1;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string header_value(ByteSpan msg, std::string_view name, size_t max) {
  const size_t end = std::min(msg.size(), kMaxLogHeaderScan);
  const char* p = reinterpret_cast<const char*>(msg.data());
  size_t i = 0;
  while (i < end) {
    size_t eol = i;
    while (eol < end && p[eol] != '\n') ++eol;
    std::string_view line(p + i, eol - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header section
    const size_t colon = line.find(':');
    bool match = colon == name.size() && line[0] != ' ' && line[0] != '\t';
    for (size_t k = 0; match && k < colon; ++k) {
      char c = line[k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      match = c == name[k];
    }
    i = eol + 1;
    if (!match) continue;
    std::string v(line.substr(colon + 1));
    // Continuation lines (RFC 5322 2.2.3 unfolding).
    while (i < end && (p[i] == ' ' || p[i] == '\t') && v.size() < max) {
      size_t e2 = i;
      while (e2 < end && p[e2] != '\n') ++e2;
      std::string_view cont(p + i, e2 - i);
      if (!cont.empty() && cont.back() == '\r') cont.remove_suffix(1);
      v += cont;
      i = e2 + 1;
    }
    const size_t b = v.find_first_not_of(" \t");
    v = b == std::string::npos ? std::string() : v.substr(b);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    if (v.size() > max) v.resize(max);
    return v;
  }
  return {};
}

}  // namespace mx::ipc
