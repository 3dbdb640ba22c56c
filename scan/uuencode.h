// scan/uuencode.h — uuencoded blocks inside decoded part content: detected and decoded.
//
// SECURITY: a uuencoded file inside a text body is an attachment that MIME does not announce;
// this finds it ("begin NNN name" line, data lines, "end" line), reports its name as a filename
// candidate and its decoded bytes so that true type and antivirus see it. Lines are held up to
// kMaxUuLine bytes (a longer line inside a block ends the block, incomplete). A block without
// its "end" line is reported incomplete at the end of the part.
// STANDARDS: POSIX uuencode/uudecode (historical algorithm: length character, then groups of
// four characters 0x20-0x60 carrying 6 bits each; "`" as zero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace mx::scan {

class UuHandler {
 public:
  virtual ~UuHandler() = default;
  virtual void uu_begin(uint32_t mode, std::string_view name) = 0;
  virtual void uu_data(ByteSpan decoded) = 0;
  virtual void uu_end(bool complete) = 0;
};

class UuScanner {
 public:
  static constexpr size_t kMaxUuLine = 512;

  void reset() {
    in_block_ = false;
    len_ = 0;
    overflow_ = false;
  }
  void feed(ByteSpan in, UuHandler& h);
  void finish(UuHandler& h);

 private:
  void line(UuHandler& h);
  bool data_line(std::string_view l, UuHandler& h);

  bool in_block_ = false;
  char buf_[kMaxUuLine];
  size_t len_ = 0;
  bool overflow_ = false;
};

}  // namespace mx::scan
