// scan/charset.h — text in any declared charset to UTF-8, streaming and bounded.
//
// SECURITY: charset names and bytes are attacker-controlled. Names are checked before they
// reach iconv_open (letters, digits and "-_.:+()" only, at most kMaxCharsetLength), so no
// "//TRANSLIT" or path games; converters are opened once per name and cached (IconvCache,
// kMaxIconvCache entries), never on the per-chunk path. Invalid sequences become U+FFFD and set
// kInvalidCharset; an unknown charset is read as UTF-8 with kUnknownCharset. UTF-8 and US-ASCII
// are validated here without iconv (overlongs, surrogates, > U+10FFFF are invalid). Output is
// the same however the input is split: incomplete sequences are carried to the next call.
// STANDARDS: RFC 2045 5.1 / RFC 2046 4.1.2 (charset parameter, us-ascii default), RFC 3629.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "scan/mime_limits.h"

namespace mx::scan {

constexpr size_t kMaxIconvCache = 8;

// Receives converted UTF-8 in runs.
class TextOutput {
 public:
  virtual ~TextOutput() = default;
  virtual void text(std::string_view utf8) = 0;
};

// Open iconv descriptors (to UTF-8) by lowercase charset name. Owned by one parser (iconv
// descriptors carry state and are not shared between threads).
class IconvCache {
 public:
  IconvCache() = default;
  IconvCache(const IconvCache&) = delete;
  IconvCache& operator=(const IconvCache&) = delete;
  ~IconvCache();
  // A descriptor reset to its initial state, or nullptr when the charset is unknown to iconv or
  // its name is refused. Never called for UTF-8/US-ASCII (see is_utf8_family).
  void* get(std::string_view charset);

 private:
  struct Entry {
    char name[kMaxCharsetLength + 1];
    void* cd;  // iconv_t, or nullptr when iconv_open failed (remembered too)
    uint64_t used;
  };
  Entry entries_[kMaxIconvCache] = {};
  size_t n_ = 0;
  uint64_t clock_ = 0;
};

// UTF-8 itself, its subset US-ASCII, and the usual aliases: validated without iconv.
bool is_utf8_family(std::string_view charset);
// Lowercases and checks a charset name into out (capacity kMaxCharsetLength); false if refused.
bool normalize_charset(std::string_view in, char* out, size_t& len);

class TextConverter {
 public:
  // Starts a stream in `charset` (lowercase). cache may be nullptr (then only UTF-8 family).
  void reset(std::string_view charset, IconvCache* cache);
  void feed(ByteSpan in, TextOutput& out);
  void finish(TextOutput& out);
  uint64_t flags() const { return flags_; }

 private:
  void feed_utf8(ByteSpan in, TextOutput& out);
  size_t utf8_from_carry(ByteSpan in, TextOutput& out);
  void feed_iconv(ByteSpan in, TextOutput& out);
  void convert_stage(TextOutput& out, bool final);

  void* cd_ = nullptr;  // iconv_t; nullptr: UTF-8 validation
  uint64_t flags_ = 0;
  uint8_t carry_[16];   // an incomplete sequence from the previous call
  size_t carry_len_ = 0;
  static constexpr size_t kStage = 4096;
  uint8_t stage_[kStage];  // iconv input: carry + next input
  size_t stage_len_ = 0;
  char outbuf_[4 * kStage];
};

// One-shot conversion for header values (RFC 2047 words, RFC 2231 values): appends UTF-8 to
// out (capacity cap, from len); returns MimeFlag bits (kHeaderTruncated when out is full).
uint64_t convert_to_utf8(std::string_view charset, ByteSpan in, IconvCache* cache, char* out, size_t cap, size_t& len);

}  // namespace mx::scan
