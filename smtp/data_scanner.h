// smtp/data_scanner.h — the DATA/BDAT body scanner: end of data, dot-unstuffing, line checks.
//
// SECURITY: this decides where a message ends, so it is where SMTP smuggling is stopped. The
// end of DATA is <CRLF>.<CRLF> and nothing else (RFC 5321 4.1.1.4): a bare LF or a bare CR
// never ends a line for that purpose, so `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>` and
// `<CRLF>.<LF>` are message content. Bare CR/LF and NUL are flagged (the message is then
// rejected) or, where a listener is configured to normalise, rewritten to CRLF / kept flagged.
// Message bytes are handed out as spans of the caller's input (no copy), unstuffed.
// STANDARDS: RFC 5321 4.1.1.4, 4.5.2 (transparency), 2.3.8 (lines); RFC 5322 2.1.1 (998);
// RFC 3030 (BDAT carries no dot-stuffing and no end marker).
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "smtp/smtp_limits.h"

namespace mx::smtp {

enum class BareNewlines : uint8_t { kReject, kNormalize };

struct DataFlags {
  bool bare_lf = false;
  bool bare_cr = false;
  bool nul = false;
  bool long_line = false;
  bool oversize = false;
  bool any() const { return bare_lf || bare_cr || nul || long_line || oversize; }
};

// Finds the first CR, LF or NUL in [p, p+n); returns n when there is none.
size_t find_line_special(const uint8_t* p, size_t n) noexcept;

// The block fast path: how many leading bytes of [p, p+n), in whole 64-byte blocks, are plain
// text — every CR followed by LF, every LF preceded by CR, no NUL, no dot at a line start, and
// no line longer than kMaxTextLine. `line_start` says whether p starts a line and `line_len` is
// the length of the line so far; both are updated to the state after the covered bytes.
size_t plain_blocks(const uint8_t* p, size_t n, bool& line_start, uint64_t& line_len) noexcept;

class DataScanner {
 public:
  // The sink receives message bytes: void(ByteSpan).
  DataScanner(uint64_t max_size, BareNewlines policy) : max_size_(max_size), policy_(policy) {}

  // Starts a message body: dot_mode for DATA (end marker, unstuffing), false for BDAT.
  void begin(bool dot_mode) noexcept {
    state_ = kLineStart;
    dot_mode_ = dot_mode;
    done_ = false;
    size_ = 0;
    line_len_ = 0;
    flags_ = {};
  }
  // Continues a BDAT body with the next chunk (line state carries over chunk boundaries).
  void continue_chunk() noexcept { done_ = false; }

  // Scans input; returns the bytes consumed. In dot mode it stops right after the end marker
  // (done() becomes true); otherwise it consumes everything.
  template <typename Sink>
  size_t scan(ByteSpan in, Sink&& sink);

  bool done() const noexcept { return done_; }
  uint64_t size() const noexcept { return size_; }
  const DataFlags& flags() const noexcept { return flags_; }

 private:
  enum State : uint8_t { kLineStart, kMid, kCr, kDot, kDotCr };
  template <typename Sink>
  void emit(const uint8_t* p, size_t n, Sink& sink) {
    if (n == 0) return;
    if (size_ + n > max_size_) {
      // Pass on exactly the first max_size_ bytes, whatever the chunking, then nothing more;
      // keep scanning for the end.
      if (size_ < max_size_) sink(ByteSpan(p, static_cast<size_t>(max_size_ - size_)));
      flags_.oversize = true;
      size_ += n;
      return;
    }
    size_ += n;
    sink(ByteSpan(p, n));
  }
  void line_bytes(size_t n) noexcept {
    line_len_ += n;
    if (line_len_ > kMaxTextLine) flags_.long_line = true;
  }
  // The 64-byte block path from p[i]; true (and i advanced) when it covered anything.
  template <typename Sink>
  bool try_blocks(const uint8_t* p, size_t n, size_t& i, bool line_start, Sink& sink) {
    if (n - i < 64) return false;
    size_t fast = plain_blocks(p + i, n - i, line_start, line_len_);
    if (!fast) return false;
    emit(p + i, fast, sink);
    i += fast;
    state_ = line_start ? kLineStart : kMid;
    return true;
  }
  // A CR not followed by LF: content (flagged), or a line end where the listener normalises.
  template <typename Sink>
  void bare_cr(Sink& sink) {
    static const uint8_t kCrLf[2] = {'\r', '\n'};
    flags_.bare_cr = true;
    if (policy_ == BareNewlines::kNormalize) {
      emit(kCrLf, 2, sink);
      line_len_ = 0;
    } else {
      emit(kCrLf, 1, sink);
      line_bytes(1);
    }
    state_ = kMid;
  }

  uint64_t max_size_;
  BareNewlines policy_;
  State state_ = kLineStart;
  bool dot_mode_ = true;
  bool done_ = false;
  uint64_t size_ = 0;
  uint64_t line_len_ = 0;
  DataFlags flags_;
};

template <typename Sink>
size_t DataScanner::scan(ByteSpan in, Sink&& sink) {
  static const uint8_t kCrLf[2] = {'\r', '\n'};
  const uint8_t* p = in.data();
  const size_t n = in.size();
  size_t i = 0;
  while (i < n && !done_) {
    const uint8_t c = p[i];
    bool fast_tried = false;  // the line-start case already tried the block path for this byte
    switch (state_) {
      case kLineStart:
        if (try_blocks(p, n, i, true, sink)) continue;
        fast_tried = true;
        if (dot_mode_ && c == '.') {
          state_ = kDot;
          ++i;
          continue;
        }
        state_ = kMid;
        [[fallthrough]];
      case kMid: {
        if (!fast_tried && try_blocks(p, n, i, false, sink)) continue;
        size_t run = find_line_special(p + i, n - i);
        if (run) {
          emit(p + i, run, sink);
          line_bytes(run);
          i += run;
          continue;
        }
        if (c == '\r') {
          state_ = kCr;
        } else if (c == '\n') {
          flags_.bare_lf = true;  // a bare LF is content, never a line end for the end marker
          if (policy_ == BareNewlines::kNormalize) emit(kCrLf, 2, sink);
          else emit(p + i, 1, sink);
          line_len_ = 0;
        } else {  // NUL
          flags_.nul = true;
          emit(p + i, 1, sink);
          line_bytes(1);
        }
        ++i;
        continue;
      }
      case kCr:
        if (c == '\n') {
          emit(kCrLf, 2, sink);
          line_len_ = 0;
          state_ = kLineStart;
          ++i;
        } else {
          bare_cr(sink);  // then reprocess c mid-line
        }
        continue;
      case kDot:
        if (c == '\r') {
          state_ = kDotCr;
          ++i;
        } else {
          state_ = kMid;  // RFC 5321 4.5.2: drop the leading dot, keep the rest of the line
        }
        continue;
      case kDotCr:
        if (c == '\n') {
          done_ = true;  // <CRLF>.<CRLF>
          ++i;
        } else {
          bare_cr(sink);  // ".<CR>x": the dot was stuffing; the CR is a bare CR
        }
        continue;
    }
  }
  return i;
}

}  // namespace mx::smtp
