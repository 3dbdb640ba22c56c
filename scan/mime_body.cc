// scan/mime_body.cc — decode, then fan the decoded bytes out to the sink and the analysers.
#include "scan/mime_body.h"

#include <algorithm>
#include <cstring>

#include "scan/magic.h"

namespace mx::scan {
namespace {

// Appends up to the room left in a kMagicBytes head buffer.
void keep_head(uint8_t* head, size_t& len, ByteSpan d) {
  size_t n = std::min(d.size(), static_cast<size_t>(kMagicBytes) - len);
  std::memcpy(head + len, d.data(), n);
  len += n;
}

// Of two detections of one reading (a multipart's preamble and epilogue), the one that says
// more: an active type over anything, then anything over empty/text.
TrueType stronger(TrueType old_type, TrueType new_type) {
  if (is_active_type(old_type)) return old_type;
  if (is_active_type(new_type) || old_type == TrueType::kEmpty) return new_type;
  return old_type;
}

}  // namespace

void ReadingPipeline::start(uint32_t index, const BodyContext* ctx) {
  ctx_ = ctx;
  index_ = index;
  r_ = &ctx->part->readings[index];
  b64_.reset();
  qp_.reset();
  urls_.reset();
  uu_.reset();
  magic_len_ = 0;
  uu_active_ = false;
  if (r_->text) conv_.reset(r_->charset.view(), ctx->iconv);
}

void ReadingPipeline::feed(ByteSpan raw) {
  while (!raw.empty()) {
    ByteSpan piece = raw.first(std::min(raw.size(), kChunk));
    raw = raw.subspan(piece.size());
    switch (r_->encoding) {
      case Encoding::kBase64:
        decoded(ByteSpan(out_, b64_.decode(piece, out_)));
        break;
      case Encoding::kQuotedPrintable:
        decoded(ByteSpan(out_, qp_.decode(piece, out_)));
        break;
      default:  // RFC 2045 6.2 identity (7bit, 8bit, binary) and unknown encodings (6.4)
        decoded(piece);
        break;
    }
  }
}

void ReadingPipeline::finish() {
  if (r_->encoding == Encoding::kBase64) {
    decoded(ByteSpan(out_, b64_.finish(out_)));
    r_->flags |= b64_.flags();
  } else if (r_->encoding == Encoding::kQuotedPrintable) {
    decoded(ByteSpan(out_, qp_.finish(out_)));
    r_->flags |= qp_.flags();
  }
  uu_.finish(*this);
  if (r_->text) {
    conv_.finish(*this);
    urls_.finish(*this);
    r_->flags |= conv_.flags();
  }
  r_->true_type = stronger(r_->true_type, detect_true_type(ByteSpan(magic_, magic_len_)));
  ctx_->part->flags |= r_->flags;
}

void ReadingPipeline::decoded(ByteSpan d) {
  if (d.empty()) return;
  const uint64_t before = r_->decoded_size;
  r_->decoded_size += d.size();
  keep_head(magic_, magic_len_, d);
  // Deliver only what fits under both bounds; beyond, keep counting.
  const MimeLimits& lim = *ctx_->limits;
  uint64_t cap = lim.max_decoded_part;
  uint64_t msg_room = lim.max_decoded_message > ctx_->message_decoded ? lim.max_decoded_message - ctx_->message_decoded : 0;
  cap = std::min(cap, msg_room);
  if (r_->decoded_size > cap) {
    r_->flags |= kDecodedLimit;
    if (before >= cap) return;
    d = d.first(static_cast<size_t>(cap - before));
  }
  ctx_->sink->on_part_data(*ctx_->part, index_, d);
  uu_.feed(d, *this);
  if (r_->text) conv_.feed(d, *this);
}

void ReadingPipeline::text(std::string_view utf8) {
  r_->text_size += utf8.size();
  ctx_->sink->on_part_text(*ctx_->part, index_, utf8);
  urls_.feed(utf8, *this);
}

void ReadingPipeline::url(std::string_view u, bool truncated) {
  if (ctx_->message_urls + r_->urls >= ctx_->limits->max_urls) {
    r_->flags |= kUrlLimit;
    return;
  }
  ++r_->urls;
  if (truncated) r_->flags |= kUrlTruncated;
  ctx_->sink->on_url(*ctx_->part, index_, u, truncated);
}

void ReadingPipeline::uu_begin(uint32_t mode, std::string_view name) {
  r_->flags |= kUuencode;
  if (r_->uu_blocks >= kMaxUuBlocks) {
    r_->flags |= kCandidateLimit;
    return;
  }
  block_ = UuBlock{};
  block_.reading = index_;
  block_.index = r_->uu_blocks++;
  block_.mode = mode;
  if (!block_.name.assign(name)) r_->flags |= kFilenameTruncated;
  uu_active_ = true;
  uu_magic_len_ = 0;
  PartInfo& p = *ctx_->part;
  if (index_ == 0 && p.n_filenames < kMaxFilenames) {  // only the first reading: a stable order
    p.filenames[p.n_filenames].name.assign(block_.name.view());
    p.filenames[p.n_filenames++].sources = kFromUuencode;
  } else if (index_ == 0) {
    r_->flags |= kCandidateLimit;
  }
}

void ReadingPipeline::uu_data(ByteSpan d) {
  if (!uu_active_) return;
  block_.decoded_size += d.size();
  keep_head(uu_magic_, uu_magic_len_, d);
  ctx_->sink->on_uu_data(*ctx_->part, block_, d);
}

void ReadingPipeline::uu_end(bool complete) {
  if (!uu_active_) return;
  uu_active_ = false;
  block_.complete = complete;
  block_.true_type = detect_true_type(ByteSpan(uu_magic_, uu_magic_len_));
  ctx_->sink->on_uu_end(*ctx_->part, block_);
}

}  // namespace mx::scan
