// scan/mime_dump.h — a MimeSink that writes the structure as text: the golden tests' .ref
// format, the fuzz target's split-invariance check, and a debugging aid.
//
// SECURITY: output escapes every non-printable byte (\xNN), so a dump of hostile input is
// safe to print. Not for the hot path (it allocates).
// STANDARDS: none (our format): one line per part begin, per reading result, per URL, per
// uuencoded block; decoded content is summarised by size, FNV-1a 64 hash and a prefix.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scan/charset.h"

#include "scan/mime_types.h"

namespace mx::scan {

class MimeDumpSink : public MimeSink {
 public:
  void on_part_begin(const PartInfo& part) override;
  void on_part_data(const PartInfo& part, uint32_t reading, ByteSpan decoded) override;
  void on_part_text(const PartInfo& part, uint32_t reading, std::string_view utf8) override;
  void on_url(const PartInfo& part, uint32_t reading, std::string_view url, bool truncated) override;
  void on_uu_data(const PartInfo& part, const UuBlock& block, ByteSpan decoded) override;
  void on_uu_end(const PartInfo& part, const UuBlock& block) override;
  void on_part_end(const PartInfo& part) override;
  void on_message_end(const MessageInfo& msg) override;

  const std::string& text() const { return out_; }
  void clear();

 private:
  // What one reading of an open part delivered, printed at the part's end (readings are fed
  // interleaved, so their events are kept apart to be independent of the input's split).
  struct Acc {
    uint64_t hash = kFnvBasis, text_hash = kFnvBasis, uu_hash = kFnvBasis;
    std::string prefix, text_prefix, uu_prefix, lines;
  };
  static constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;
  Acc& acc(const PartInfo& p, uint32_t reading);

  std::string out_;
  std::vector<std::pair<uint64_t, Acc>> open_;  // key: part id << 8 | reading
  std::unique_ptr<IconvCache> iconv_ = std::make_unique<IconvCache>();
};

std::string flags_string(uint64_t flags);
std::string escape_bytes(std::string_view s, size_t max);

}  // namespace mx::scan
