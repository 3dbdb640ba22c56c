// dataplane/msg_job.cc
#include "dataplane/msg_job.h"

#include <sys/mman.h>

#include <cstring>
#include <string_view>

#include "dataplane/txlog.h"

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

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
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
  // Header fields (a field runs until a line that does not start with SP/HT) up to the empty line.
  size_t copied = 0, pos = 0, subject_at = std::string_view::npos;
  std::vector<std::pair<size_t, size_t>> keep;  // ranges of msg
  // The whole header section, however long (linear, bounded by the message size): a forged field
  // after 64 KiB of padding must go too.
  while (pos < m.size()) {
    const size_t first_eol = m.find('\n', pos);
    if (first_eol == std::string_view::npos) break;  // an unterminated last line: body
    const std::string_view first = m.substr(pos, first_eol + 1 - pos);
    if (first == "\r\n" || first == "\n") break;  // the empty line ends the header section
    size_t end = first_eol + 1;
    while (end < m.size() && (m[end] == ' ' || m[end] == '\t')) {  // continuation lines
      const size_t eol = m.find('\n', end);
      end = eol == std::string_view::npos ? m.size() : eol + 1;
    }
    const std::string_view line = m.substr(pos, end - pos);
    if (starts_with_ci(line, "x-mxgate-")) {
      keep.emplace_back(copied, pos);
      copied = end;
    } else if (subject_at == std::string_view::npos && starts_with_ci(line, "subject:")) {
      subject_at = pos + 8;
    }
    pos = end;
  }
  keep.emplace_back(copied, m.size());
  if (!subject_prefix.empty() && subject_at == std::string_view::npos) out->added += "Subject: " + subject_prefix + "\r\n";
  const size_t subject_start = out->added.size();
  if (!subject_prefix.empty() && subject_at != std::string_view::npos) out->added += " " + subject_prefix;
  // Ranges are taken only now: `added` does not change any more.
  const ByteSpan added(reinterpret_cast<const uint8_t*>(out->added.data()), out->added.size());
  out->parts.add(added.first(subject_start));
  for (const auto& [a, b] : keep) {
    if (subject_at != std::string_view::npos && subject_at >= a && subject_at < b && subject_start < added.size()) {
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
