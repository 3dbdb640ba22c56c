// scan/uuencode.cc — line assembly and the uudecode of one line.
#include "scan/uuencode.h"

#include <cstring>

namespace mx::scan {
namespace {

constexpr char kBegin[] = "begin ";

// "begin" SP 3-4 octal digits SP name
bool parse_begin(std::string_view l, uint32_t& mode, std::string_view& name) {
  if (l.substr(0, 6) != "begin ") return false;
  size_t i = 6, digits = 0;
  mode = 0;
  while (i < l.size() && l[i] >= '0' && l[i] <= '7' && digits < 5) {
    mode = mode * 8 + static_cast<uint32_t>(l[i] - '0');
    ++i;
    ++digits;
  }
  if (digits < 3 || digits > 4 || i >= l.size() || l[i] != ' ') return false;
  name = l.substr(i + 1);
  return !name.empty();
}

inline int sextet(char c) {
  auto u = static_cast<uint8_t>(c);
  if (u < 0x20 || u > 0x60) return -1;
  return (u - 0x20) & 0x3F;  // "`" (0x60) is zero
}

}  // namespace

// One data line: decoded and handed on; false when it is not a valid data line.
bool UuScanner::data_line(std::string_view l, UuHandler& h) {
  int n = sextet(l[0]);
  if (n < 0) return false;
  // Characters missing at the end (some encoders drop trailing spaces) count as zero.
  uint8_t out[kMaxUuLine];
  size_t o = 0;
  for (size_t i = 1; o < static_cast<size_t>(n); i += 4) {
    int s[4];
    for (size_t k = 0; k < 4; ++k) {
      s[k] = i + k < l.size() ? sextet(l[i + k]) : 0;
      if (s[k] < 0) return false;
    }
    uint8_t b[3] = {static_cast<uint8_t>(s[0] << 2 | s[1] >> 4), static_cast<uint8_t>(s[1] << 4 | s[2] >> 2),
                    static_cast<uint8_t>(s[2] << 6 | s[3])};
    for (size_t k = 0; k < 3 && o < static_cast<size_t>(n); ++k) out[o++] = b[k];
  }
  if (o) h.uu_data(ByteSpan(out, o));
  return true;
}

void UuScanner::line(UuHandler& h) {
  std::string_view l(buf_, len_);
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
  bool overflow = overflow_;
  len_ = 0;
  overflow_ = false;
  if (in_block_) {
    if (l == "end") {
      in_block_ = false;
      h.uu_end(true);
      return;
    }
    if (l.empty() || (!overflow && data_line(l, h))) return;
    in_block_ = false;  // not a data line: the block ends here, incomplete
    h.uu_end(false);
  }
  uint32_t mode = 0;
  std::string_view name;
  if (!overflow && parse_begin(l, mode, name)) {
    in_block_ = true;
    h.uu_begin(mode, name);
  }
}

void UuScanner::feed(ByteSpan in, UuHandler& h) {
  const uint8_t* p = in.data();
  size_t n = in.size(), i = 0;
  while (i < n) {
    const void* lf = std::memchr(p + i, '\n', n - i);
    size_t end = lf ? static_cast<size_t>(static_cast<const uint8_t*>(lf) - p) : n;
    size_t take = end - i;
    size_t room = kMaxUuLine - len_;
    if (take > room) {
      overflow_ = true;
      take = room;
    }
    // Outside a block only lines starting "begin " matter: skip the rest of any other line.
    if (!in_block_ && len_ + take >= 6 && !overflow_ && len_ < 6 &&
        std::memcmp(p + i, &kBegin[len_], 6 - len_) != 0)
      overflow_ = true;
    std::memcpy(buf_ + len_, p + i, take);
    len_ += take;
    if (!lf) break;
    line(h);
    i = end + 1;
  }
}

void UuScanner::finish(UuHandler& h) {
  if (len_ || overflow_) line(h);
  if (in_block_) h.uu_end(false);
  reset();
}

}  // namespace mx::scan
