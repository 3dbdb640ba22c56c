// tests/fuzz/fuzz_out_message.cc — the relayed form of a message (dataplane/msg_job.h,
// make_out_message) over arbitrary bytes: its parts are ranges of the store (in order, never
// overlapping) or of the added text; nothing is lost but the forged X-Mxgate-* fields; and when
// the header section ends within the scanned bytes, no X-Mxgate-* field is left in it. And the
// form made from the MIME parser's index of the header (a scanned job) is byte for byte the form
// made by the raw walk (an unscanned one) whenever the index says it is complete.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/ipc_use.h"
#include "dataplane/msg_job.h"
#include "scan/mime_parser.h"

namespace {

struct IndexSink final : mx::scan::MimeSink {
  mx::scan::HeaderIndex index;
  void on_part_begin(const mx::scan::PartInfo& part) override {
    if (part.id == 0) mx::scan::index_header(part, index);
  }
};

std::string flatten(const mx::ByteParts& p) {
  std::string s;
  for (const mx::ByteSpan& b : p.parts()) s.append(reinterpret_cast<const char*>(b.data()), b.size());
  return s;
}

bool starts_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != p[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool tag = data[0] & 1;
  auto job = std::make_unique<mx::dp::MsgJob>(size + 1);
  if (!job->store.append(mx::ByteSpan(data + 1, size - 1))) __builtin_trap();
  const uint8_t* base = job->store.data();
  const size_t n = job->store.size();
  static const std::vector<std::pair<std::string, std::string>> kAdd{{"X-Test-Added", "yes"}};
  static const std::vector<std::pair<std::string, std::string>> kNone;
  {  // the parser's index against the walk
    IndexSink sink;
    mx::scan::MimeParser parser(sink);
    const size_t cut = size > 2 ? data[1] % (size - 1) : 0;  // split the feed somewhere
    parser.feed(mx::ByteSpan(base, cut));
    parser.feed(mx::ByteSpan(base + cut, n - cut));
    parser.finish();
    if (sink.index.complete) {
      auto again = std::make_unique<mx::dp::MsgJob>(size + 1);
      if (!again->store.append(mx::ByteSpan(data + 1, size - 1))) __builtin_trap();
      again->scanned = true;
      again->header = sink.index;
      auto walked = std::make_unique<mx::dp::MsgJob>(size + 1);
      if (!walked->store.append(mx::ByteSpan(data + 1, size - 1))) __builtin_trap();
      const std::string a = flatten(mx::dp::make_out_message(std::move(again), tag ? kAdd : kNone, tag ? "[T]" : "")->parts);
      const std::string b = flatten(mx::dp::make_out_message(std::move(walked), tag ? kAdd : kNone, tag ? "[T]" : "")->parts);
      if (a != b) __builtin_trap();
    }
  }
  auto out = mx::dp::make_out_message(std::move(job), tag ? kAdd : kNone, tag ? "[T]" : "");
  const auto* added = reinterpret_cast<const uint8_t*>(out->added.data());
  size_t from_store = 0, from_added = 0;
  const uint8_t* last_end = base;
  std::string flat;
  for (const mx::ByteSpan& p : out->parts.parts()) {
    if (p.data() >= base && p.data() + p.size() <= base + n) {
      if (p.data() < last_end) __builtin_trap();  // out of order, or overlapping
      last_end = p.data() + p.size();
      from_store += p.size();
    } else if (p.data() >= added && p.data() + p.size() <= added + out->added.size()) {
      from_added += p.size();
    } else {
      __builtin_trap();  // a range of neither
    }
    flat.append(reinterpret_cast<const char*>(p.data()), p.size());
  }
  if (from_added != out->added.size() || from_store > n || flat.size() != out->parts.size()) __builtin_trap();
  const std::string_view in(reinterpret_cast<const char*>(base), n);
  // Checked where the header section is plain: it ends with the first CRLF CRLF, within the
  // scanned bytes, and every LF before it ends a CRLF line.
  const size_t eoh = in.find("\r\n\r\n");
  if (eoh == std::string_view::npos || in.starts_with("\r\n") || eoh + 4 > mx::dp::kMaxLogHeaderScan) return 0;
  for (size_t i = 0; i < eoh; ++i)
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) return 0;
  // The blank line and the body are kept whole; before them (the header section, which may now
  // be empty) no X-Mxgate-* field is left.
  const std::string_view fl(flat);
  const std::string_view tail = in.substr(eoh + 2);
  if (fl.size() < tail.size() || fl.substr(fl.size() - tail.size()) != tail) __builtin_trap();
  const size_t feoh = fl.size() - tail.size();
  for (size_t pos = 0; pos < feoh;) {
    if (starts_ci(fl.substr(pos), "x-mxgate-")) __builtin_trap();
    const size_t lf = fl.find('\n', pos);
    if (lf == std::string_view::npos) break;
    pos = lf + 1;
  }
  return 0;
}
