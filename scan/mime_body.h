// scan/mime_body.h — one reading of a part's body: transfer decoding, then true type, sink
// delivery, uuencode detection, UTF-8 conversion and URL extraction of the decoded bytes.
//
// SECURITY: body bytes are attacker-controlled. Every stage is streaming with fixed buffers
// (allocated with the parser); bounds: decoded bytes per part and per message (kDecodedLimit:
// counting goes on, delivery stops), URLs per message (kUrlLimit), uu blocks per reading.
// Message-wide bounds are checked against the message's totals at the start of the part plus
// this reading's own count, so results never depend on how the input was split.
// STANDARDS: RFC 2045 6 (transfer encodings), RFC 2046 4.1.2 (charset).
#pragma once

#include <cstddef>
#include <cstdint>

#include "scan/base64.h"
#include "scan/charset.h"
#include "scan/mime_types.h"
#include "scan/qp.h"
#include "scan/url_extract.h"
#include "scan/uuencode.h"

namespace mx::scan {

// What a reading needs from the parser, fixed for the length of one body segment.
struct BodyContext {
  MimeSink* sink = nullptr;
  PartInfo* part = nullptr;
  const MimeLimits* limits = nullptr;
  IconvCache* iconv = nullptr;
  uint64_t message_decoded = 0;  // the message's decoded bytes before this part
  uint32_t message_urls = 0;     // the message's URLs before this part
};

class ReadingPipeline final : TextOutput, UrlOutput, UuHandler {
 public:
  explicit ReadingPipeline(Base64Impl impl = Base64Impl::kAuto) : b64_(impl) {}
  ReadingPipeline(const ReadingPipeline&) = delete;
  ReadingPipeline& operator=(const ReadingPipeline&) = delete;

  // Starts (or, for a multipart's epilogue, resumes: results accumulate) reading `index` of
  // ctx->part.
  void start(uint32_t index, const BodyContext* ctx);
  void feed(ByteSpan raw);
  void finish();

 private:
  static constexpr size_t kChunk = 4096;
  void decoded(ByteSpan d);
  void text(std::string_view utf8) override;
  void url(std::string_view u, bool truncated) override;
  void uu_begin(uint32_t mode, std::string_view name) override;
  void uu_data(ByteSpan decoded) override;
  void uu_end(bool complete) override;

  const BodyContext* ctx_ = nullptr;
  uint32_t index_ = 0;
  Reading* r_ = nullptr;
  Base64Decoder b64_;
  QpDecoder qp_;
  TextConverter conv_;
  UrlExtractor urls_;
  UuScanner uu_;
  uint8_t out_[Base64Decoder::max_output(kChunk) + QpDecoder::max_output(kChunk)];
  uint8_t magic_[kMagicBytes];
  size_t magic_len_ = 0;
  UuBlock block_;
  bool uu_active_ = false;  // block_ is being decoded (not past the block limit)
  uint8_t uu_magic_[kMagicBytes];
  size_t uu_magic_len_ = 0;
};

}  // namespace mx::scan
