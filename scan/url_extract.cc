// scan/url_extract.cc — a byte state machine with a 16-byte lowercase window for the prefixes.
#include "scan/url_extract.h"

namespace mx::scan {
namespace {

constexpr uint64_t pack(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = v << 8 | static_cast<uint8_t>(c);
  return v;
}
constexpr uint64_t mask(size_t n) { return n >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1; }

inline bool is_alnum(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
inline bool ends_bare_url(char c) {
  auto u = static_cast<uint8_t>(c);
  return u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`';
}

}  // namespace

void UrlExtractor::start(std::string_view prefix, State s) {
  len_ = 0;
  truncated_ = false;
  for (char c : prefix) put(c);
  state_ = s;
}

void UrlExtractor::put(char c) {
  if (len_ < sizeof(buf_)) buf_[len_++] = c;
  else truncated_ = true;
}

void UrlExtractor::emit(UrlOutput& out, bool trim_punctuation) {
  size_t n = len_;
  if (trim_punctuation && !truncated_) {
    while (n > 0 && std::string_view(".,;:!?)]}").find(buf_[n - 1]) != std::string_view::npos) --n;
    // A bare match needs something after its prefix ("http://" alone is not a URL).
    std::string_view u(buf_, n);
    if (u == "http://" || u == "https://" || u == "www.") n = 0;
  }
  while (n > 0 && is_space(buf_[n - 1])) --n;
  size_t b = 0;
  while (b < n && is_space(buf_[b])) ++b;
  if (b < n) out.url(std::string_view(buf_ + b, n - b), truncated_);
  len_ = 0;
  truncated_ = false;
  state_ = kScan;
  lo_ = hi_ = 0;
}

// kScan: shifts c into the window and starts a capture when a prefix completes.
void UrlExtractor::scan_byte(char c) {
  auto u = static_cast<uint8_t>(c);
  if (u >= 'A' && u <= 'Z') u = static_cast<uint8_t>(u - 'A' + 'a');
  hi_ = hi_ << 8 | lo_ >> 56;
  lo_ = lo_ << 8 | u;
  auto before = [&](size_t n) { return static_cast<uint8_t>(n < 8 ? lo_ >> (8 * n) : hi_ >> (8 * (n - 8))); };
  if ((lo_ & mask(7)) == pack("http://") && !is_alnum(before(7))) return start("http://", kUrl);
  if (lo_ == pack("https://") && !is_alnum(before(8))) return start("https://", kUrl);
  if ((lo_ & mask(4)) == pack("www.") && !is_alnum(before(4)) && before(4) != '/' && before(4) != '.')
    return start("www.", kUrl);
  auto attr_start = [&](size_t n) { uint8_t b = before(n); return is_space(static_cast<char>(b)) || b == '"' || b == '\''; };
  if (((lo_ & mask(4)) == pack("href") && attr_start(4)) || ((lo_ & mask(3)) == pack("src") && attr_start(3)))
    state_ = kAttrEq;
}

void UrlExtractor::step(char c, UrlOutput& out) {
  switch (state_) {
    case kScan:
      scan_byte(c);
      return;
    case kUrl:
      if (ends_bare_url(c)) {
        emit(out, true);
        scan_byte(c);
      } else {
        put(c);
      }
      return;
    case kAttrEq:
      if (is_space(c)) return;
      if (c == '=') {
        state_ = kAttrStart;
        return;
      }
      state_ = kScan;
      scan_byte(c);
      return;
    case kAttrStart:
      if (is_space(c)) return;
      if (c == '"' || c == '\'') {
        quote_ = c;
        start("", kAttrQuoted);
      } else if (c == '>') {
        state_ = kScan;
      } else {
        start("", kAttrBare);
        put(c);
      }
      return;
    case kAttrQuoted:
      if (c == quote_) emit(out, false);
      else if (c != '\t' && c != '\r' && c != '\n') put(c);
      return;
    case kAttrBare:
      if (is_space(c) || c == '>') emit(out, false);
      else put(c);
      return;
  }
}

void UrlExtractor::feed(std::string_view text, UrlOutput& out) {
  for (char c : text) step(c, out);
}

void UrlExtractor::finish(UrlOutput& out) {
  if (state_ == kUrl) emit(out, true);
  else if (state_ == kAttrQuoted || state_ == kAttrBare) emit(out, false);
  reset();
}

}  // namespace mx::scan
