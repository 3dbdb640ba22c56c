// dataplane/msg_job.cc
#include "dataplane/msg_job.h"

#include <sys/mman.h>

#include <cstring>
#include <string_view>

#include "common/ascii.h"
#include "dataplane/ipc_use.h"

namespace mx::dp {

MessageStore::MessageStore(uint64_t capacity, MemMeter* process, MemMeter* lcore) : cap_(capacity) {
  meters_[0] = process;
  meters_[1] = lcore;
  const uint64_t page = 4096;
  map_len_ = (capacity + page - 1) / page * page;
  void* p = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) base_ = static_cast<uint8_t*>(p);
}

MessageStore::~MessageStore() { release(); }

void MessageStore::uncharge(uint64_t n) {
  for (MemMeter* m : meters_)
    if (m) m->used.fetch_sub(n, std::memory_order_relaxed);
}

void MessageStore::release() {
  if (!base_) return;
  ::munmap(base_, map_len_);
  base_ = nullptr;
  uncharge(size_);
  size_ = 0;
  cap_ = 0;
}

bool MessageStore::append(ByteSpan b) {
  if (!base_ || b.size() > cap_ - size_) return false;
  std::memcpy(base_ + size_, b.data(), b.size());
  size_ += b.size();
  for (MemMeter* m : meters_)
    if (m) m->used.fetch_add(b.size(), std::memory_order_relaxed);
  return true;
}

namespace {

constexpr size_t kNoPos = std::string_view::npos;

// Where the relayed form differs from the stored message: fields to leave out (in order) and
// where the subject prefix goes.
struct HeaderPlan {
  std::vector<std::pair<size_t, size_t>> drop;
  size_t subject_value = kNoPos;  // the byte after the first Subject field's colon
};

// The colon's offset when `line` is a field named `lname` (blanks may precede the colon,
// RFC 5322 4.5.2 obs-optional), else kNoPos.
size_t field_colon(std::string_view line, std::string_view lname) {
  if (!istarts_with(line, lname)) return kNoPos;
  size_t i = lname.size();
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':' ? i : kNoPos;
}

// The raw walk over the whole header section (a field runs until a line that does not start
// with SP/HT; the section ends at the empty line), for messages whose parsed index is not
// complete. Linear and bounded by the message size: a forged field after any padding goes too.
HeaderPlan walk_header(std::string_view m) {
  HeaderPlan plan;
  size_t pos = 0;
  while (pos < m.size()) {
    const size_t first_eol = m.find('\n', pos);
    if (first_eol == kNoPos) break;  // an unterminated last line: body
    const std::string_view first = m.substr(pos, first_eol + 1 - pos);
    if (first == "\r\n" || first == "\n") break;  // the empty line ends the header section
    size_t end = first_eol + 1;
    while (end < m.size() && (m[end] == ' ' || m[end] == '\t')) {  // continuation lines
      const size_t eol = m.find('\n', end);
      end = eol == kNoPos ? m.size() : eol + 1;
    }
    const std::string_view line = m.substr(pos, end - pos);
    if (istarts_with(line, "x-mxgate-")) {
      plan.drop.emplace_back(pos, end);
    } else if (plan.subject_value == kNoPos) {
      const size_t colon = field_colon(line, "subject");
      if (colon != kNoPos) plan.subject_value = pos + colon + 1;
    }
    pos = end;
  }
  return plan;
}

// The same from the MIME parser's index (scan::HeaderIndex), when it is complete and fits.
bool plan_from_index(const scan::HeaderIndex& h, size_t size, HeaderPlan& plan) {
  if (!h.complete) return false;
  uint64_t last = 0;
  for (const auto& [a, b] : h.own) {
    if (a < last || b < a || b > size) return false;
    last = b;
  }
  if (h.has_subject && h.subject_value > size) return false;
  plan.drop.assign(h.own.begin(), h.own.end());
  plan.subject_value = h.has_subject ? h.subject_value : kNoPos;
  return true;
}

}  // namespace

std::unique_ptr<OutMessage> make_out_message(std::unique_ptr<MsgJob> job,
                                             const std::vector<std::pair<std::string, std::string>>& headers,
                                             const std::string& subject_prefix) {
  auto out = std::make_unique<OutMessage>();
  out->job = std::move(job);
  const ByteSpan msg(out->job->store.data(), out->job->store.size());
  const std::string_view m(reinterpret_cast<const char*>(msg.data()), msg.size());
  for (const auto& [name, value] : headers) out->added += name + ": " + value + "\r\n";
  HeaderPlan plan;
  if (!out->job->scanned || !plan_from_index(out->job->header, m.size(), plan)) plan = walk_header(m);
  std::vector<std::pair<size_t, size_t>> keep;  // ranges of msg
  size_t copied = 0;
  for (const auto& [a, b] : plan.drop) {
    keep.emplace_back(copied, a);
    copied = b;
  }
  keep.emplace_back(copied, m.size());
  const size_t subject_at = plan.subject_value;
  if (!subject_prefix.empty() && subject_at == kNoPos) out->added += "Subject: " + subject_prefix + "\r\n";
  const size_t subject_start = out->added.size();
  if (!subject_prefix.empty() && subject_at != kNoPos) {
    out->added += " " + subject_prefix;
    // "Subject:Hello" becomes "Subject: [SPAM] Hello", not "[SPAM]Hello".
    if (subject_at < m.size() && m[subject_at] != ' ' && m[subject_at] != '\t' && m[subject_at] != '\r' &&
        m[subject_at] != '\n')
      out->added += ' ';
  }
  // Ranges are taken only now: `added` does not change any more.
  const ByteSpan added(reinterpret_cast<const uint8_t*>(out->added.data()), out->added.size());
  out->parts.add(added.first(subject_start));
  for (const auto& [a, b] : keep) {
    if (subject_at != kNoPos && subject_at >= a && subject_at < b && subject_start < added.size()) {
      out->parts.add(msg.subspan(a, subject_at - a));
      out->parts.add(added.subspan(subject_start));
      out->parts.add(msg.subspan(subject_at, b - subject_at));
    } else {
      out->parts.add(msg.subspan(a, b - a));
    }
  }
  return out;
}

}  // namespace mx::dp
