// scan/encoded_word.h — RFC 2047 encoded words ("=?charset?B|Q?text?=") decoded to UTF-8.
//
// SECURITY: header values are attacker-controlled. Decoding is lenient where readers are
// lenient (words inside a token, lowercase b/q, RFC 2231 "*lang" suffix, words over 75
// characters) so rules see what a reader shows; a malformed word is copied literally and
// flagged (kEncodedWordInvalid). Adjacent words in the same charset are joined before charset
// conversion (a multibyte character split between two words decodes whole). Output is bounded
// by the caller's buffer (kHeaderTruncated when full).
// STANDARDS: RFC 2047 2 (syntax), 4.1 (B), 4.2 (Q), 6.2 (whitespace between adjacent words);
// RFC 2231 5 (language in encoded words).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mx::scan {

class IconvCache;

struct EncodedWordResult {
  uint64_t flags = 0;  // MimeFlag bits
  bool decoded = false;  // at least one encoded word was decoded
};

// Decodes `in` into out[0..cap), setting len. Text outside encoded words is copied unchanged.
EncodedWordResult decode_encoded_words(std::string_view in, IconvCache* cache, char* out, size_t cap, size_t& len);

}  // namespace mx::scan
