// scan/url_extract.h — URLs in text and HTML, streaming over chunk boundaries.
//
// SECURITY: runs on decoded, UTF-8 text (so quoted-printable soft breaks and base64 cannot split
// a URL from the rules). Finds bare "http://", "https://" and "www." (case-insensitive, not
// preceded by a letter or digit) and the values of href= and src= attributes (quoted or not;
// tabs and line breaks inside a value are dropped as browsers drop them). Each URL is bounded
// by kMaxUrlLength (longer: the first kMaxUrlLength bytes, marked truncated); the count per
// message is bounded by the caller (scan/mime_body.cc, kUrlLimit). Bare URLs are reported with
// the prefix lowercase ("HTTP://X" -> "http://X"). Not done: HTML character
// references (&amp;) are left as written.
// STANDARDS: RFC 3986 (URI syntax: the characters that end a bare URL here are those it never
// allows unencoded: whitespace, controls, <, >, ", ', `), HTML 4.01 / WHATWG attribute syntax.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scan/mime_limits.h"

namespace mx::scan {

class UrlOutput {
 public:
  virtual ~UrlOutput() = default;
  virtual void url(std::string_view url, bool truncated) = 0;
};

class UrlExtractor {
 public:
  void reset() {
    state_ = kScan;
    lo_ = hi_ = 0;
    len_ = 0;
    truncated_ = false;
  }
  void feed(std::string_view text, UrlOutput& out);
  void finish(UrlOutput& out);

 private:
  enum State : uint8_t { kScan, kUrl, kAttrEq, kAttrStart, kAttrQuoted, kAttrBare };
  void step(char c, UrlOutput& out);
  void scan_byte(char c);
  void start(std::string_view prefix, State s);
  void put(char c);
  void emit(UrlOutput& out, bool trim_punctuation);

  State state_ = kScan;
  uint64_t lo_ = 0, hi_ = 0;  // the last 16 bytes seen in kScan, lowercased, newest lowest
  char quote_ = 0;
  char buf_[kMaxUrlLength];
  size_t len_ = 0;
  bool truncated_ = false;
};

}  // namespace mx::scan
