// scan/charset.cc — UTF-8 validation and iconv conversion with carried partial sequences.
#include "scan/charset.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include <iconv.h>

#include "scan/mime_types.h"

namespace mx::scan {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// RFC 3629 / Unicode Table 3-7 well-formed sequences. Returns the length of the valid sequence
// at p, 0 when the `avail` bytes are a valid but incomplete prefix, -1 when the lead byte
// starts no valid sequence (it alone is replaced; what follows is read again).
int check_sequence(const uint8_t* p, size_t avail) {
  const uint8_t c = p[0];
  if (c < 0x80) return 1;
  int need;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) need = 2;
  else if (c == 0xE0) need = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEF) need = 3, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c == 0xF0) need = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) need = 4;
  else if (c == 0xF4) need = 4, hi = 0x8F;
  else return -1;
  for (int k = 1; k < need; ++k) {
    if (static_cast<size_t>(k) >= avail) return 0;
    const uint8_t b = p[k];
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
  }
  return need;
}

inline std::string_view chars(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

class BufferOutput : public TextOutput {
 public:
  BufferOutput(char* out, size_t cap, size_t& len) : out_(out), cap_(cap), len_(len) {}
  void text(std::string_view s) override {
    size_t n = s.size() < cap_ - len_ ? s.size() : cap_ - len_;
    std::memcpy(out_ + len_, s.data(), n);
    len_ += n;
    if (n < s.size()) truncated = true;
  }
  bool truncated = false;

 private:
  char* out_;
  size_t cap_;
  size_t& len_;
};

}  // namespace

bool normalize_charset(std::string_view in, char* out, size_t& len) {
  len = 0;
  if (in.empty() || in.size() > kMaxCharsetLength) return false;
  for (char ch : in) {
    char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || std::strchr("-_.:+()", c) != nullptr;
    if (!ok || c == 0) return false;
    out[len++] = c;
  }
  return true;
}

bool is_utf8_family(std::string_view cs) {
  return cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii" || cs == "us_ascii" ||
         cs == "ansi_x3.4-1968" || cs == "iso646-us";
}

IconvCache::~IconvCache() {
  for (size_t i = 0; i < n_; ++i)
    if (entries_[i].cd) iconv_close(static_cast<iconv_t>(entries_[i].cd));
}

void* IconvCache::get(std::string_view charset) {
  char name[kMaxCharsetLength + 1];
  size_t len = 0;
  if (!normalize_charset(charset, name, len)) return nullptr;
  name[len] = 0;
  ++clock_;
  for (size_t i = 0; i < n_; ++i) {
    if (std::strcmp(entries_[i].name, name) != 0) continue;
    entries_[i].used = clock_;
    if (entries_[i].cd) iconv(static_cast<iconv_t>(entries_[i].cd), nullptr, nullptr, nullptr, nullptr);
    return entries_[i].cd;
  }
  size_t slot = n_;
  if (n_ == kMaxIconvCache) {  // evict the least recently used
    slot = 0;
    for (size_t i = 1; i < n_; ++i)
      if (entries_[i].used < entries_[slot].used) slot = i;
    if (entries_[slot].cd) iconv_close(static_cast<iconv_t>(entries_[slot].cd));
  } else {
    ++n_;
  }
  iconv_t cd = iconv_open("UTF-8", name);
  Entry& e = entries_[slot];
  std::memcpy(e.name, name, len + 1);
  e.cd = cd == reinterpret_cast<iconv_t>(-1) ? nullptr : cd;
  e.used = clock_;
  return e.cd;
}

void TextConverter::reset(std::string_view charset, IconvCache* cache) {
  flags_ = 0;
  carry_len_ = 0;
  stage_len_ = 0;
  cd_ = nullptr;
  if (is_utf8_family(charset)) return;
  cd_ = cache ? cache->get(charset) : nullptr;
  if (!cd_) flags_ |= kUnknownCharset;
}

void TextConverter::feed(ByteSpan in, TextOutput& out) {
  if (cd_) feed_iconv(in, out);
  else feed_utf8(in, out);
}

// Completes a sequence carried from the previous call with bytes of `in`; returns how many
// bytes of `in` it used.
size_t TextConverter::utf8_from_carry(ByteSpan in, TextOutput& out) {
  size_t used = 0;
  while (true) {
    int r = check_sequence(carry_, carry_len_);
    if (r > 0) {
      out.text(chars(carry_, static_cast<size_t>(r)));
      carry_len_ = 0;
      return used;
    }
    if (r < 0) {
      // The lead byte starts nothing valid; the bytes between it and the one that broke the
      // sequence are continuation bytes, each invalid alone; the breaking byte (the last one
      // taken from `in`) is read again, as it would be in one contiguous input.
      for (size_t k = 0; k + 1 < carry_len_; ++k) out.text(kReplacement);
      flags_ |= kInvalidCharset;
      carry_len_ = 0;
      return used - 1;
    }
    if (used == in.size()) return used;  // still incomplete: wait for more
    carry_[carry_len_++] = in[used++];
  }
}

void TextConverter::feed_utf8(ByteSpan in, TextOutput& out) {
  size_t i = carry_len_ ? utf8_from_carry(in, out) : 0;
  if (carry_len_) return;
  const uint8_t* p = in.data();
  const size_t n = in.size();
  size_t run = i;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    int r = check_sequence(p + i, n - i);
    if (r > 0) {
      i += static_cast<size_t>(r);
      continue;
    }
    if (run < i) out.text(chars(p + run, i - run));
    if (r == 0) {  // incomplete at the end of this call: carry it
      std::memcpy(carry_, p + i, n - i);
      carry_len_ = n - i;
      return;
    }
    out.text(kReplacement);
    flags_ |= kInvalidCharset;
    run = ++i;
  }
  if (run < n) out.text(chars(p + run, n - run));
}

// Converts stage_ with iconv. Invalid sequences: U+FFFD and one byte skipped. An incomplete
// sequence at the end stays in stage_ for the next call (or is invalid when final).
void TextConverter::convert_stage(TextOutput& out, bool final) {
  iconv_t cd = static_cast<iconv_t>(cd_);
  char* inp = reinterpret_cast<char*>(stage_);
  size_t inleft = stage_len_;
  while (inleft > 0) {
    char* outp = outbuf_;
    size_t outleft = sizeof(outbuf_);
    size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
    const int err = errno;
    if (outp != outbuf_) out.text(std::string_view(outbuf_, static_cast<size_t>(outp - outbuf_)));
    if (r != static_cast<size_t>(-1) || err == E2BIG) continue;
    if (err == EINVAL && !final && inleft < sizeof(carry_)) break;  // completed by the next call
    out.text(kReplacement);  // EILSEQ, or an incomplete sequence at the very end
    flags_ |= kInvalidCharset;
    ++inp;
    --inleft;
  }
  std::memmove(stage_, inp, inleft);
  stage_len_ = inleft;
}

void TextConverter::feed_iconv(ByteSpan in, TextOutput& out) {
  size_t i = 0;
  while (i < in.size()) {
    size_t take = std::min(kStage - stage_len_, in.size() - i);
    std::memcpy(stage_ + stage_len_, in.data() + i, take);
    stage_len_ += take;
    i += take;
    convert_stage(out, false);
  }
}

void TextConverter::finish(TextOutput& out) {
  if (cd_) {
    convert_stage(out, true);
    char* outp = outbuf_;
    size_t outleft = sizeof(outbuf_);
    iconv(static_cast<iconv_t>(cd_), nullptr, nullptr, &outp, &outleft);  // shift state back
    if (outp != outbuf_) out.text(std::string_view(outbuf_, static_cast<size_t>(outp - outbuf_)));
  } else if (carry_len_) {
    for (size_t k = 0; k < carry_len_; ++k) out.text(kReplacement);
    flags_ |= kInvalidCharset;
  }
  carry_len_ = 0;
  stage_len_ = 0;
}

uint64_t convert_to_utf8(std::string_view charset, ByteSpan in, IconvCache* cache, char* out, size_t cap,
                         size_t& len) {
  TextConverter conv;
  char name[kMaxCharsetLength + 1];
  size_t nlen = 0;
  if (!normalize_charset(charset, name, nlen)) nlen = 0;
  conv.reset(std::string_view(name, nlen), cache);
  BufferOutput sink(out, cap, len);
  conv.feed(in, sink);
  conv.finish(sink);
  uint64_t flags = conv.flags();
  if (nlen == 0 && !charset.empty()) flags |= kUnknownCharset;
  if (sink.truncated) flags |= kHeaderTruncated;
  return flags;
}

}  // namespace mx::scan
