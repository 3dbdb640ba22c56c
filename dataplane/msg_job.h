// dataplane/msg_job.h — one message in flight between a net lcore and the scan thread.
//
// The net lcore creates the job when DATA/BDAT begins and posts it to the scan ring once; it
// then appends the unstuffed message bytes to the job's store and publishes how many are valid
// with `committed` (release). The scan thread reads up to `committed` (acquire) as they arrive
// and, once `complete` is set and every byte is fed, finishes the scan and posts the job back
// on `reply_ring`. The store is one reserved mapping that never moves, so no byte is copied to
// cross the ring and the relay sends from the same bytes. After posting back, the scan thread
// never touches the job again; the net lcore frees it.
//
// SECURITY: the bytes are attacker-controlled; the store's capacity is the message size limit
// (the SMTP engine refuses more with 552 before the store is full).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "dataplane/ipc_use.h"
#include "scan/pipeline.h"
#include "scan/policy.h"

struct rte_ring;

namespace mx::dp {

// Bytes of messages held in memory, against a budget (GatewaySection::message_memory_mb). Charged
// and released by MessageStore from whichever thread holds it; relaxed atomics (a counter, not a
// synchronisation point).
struct MemMeter {
  std::atomic<uint64_t> used{0};
  uint64_t limit = UINT64_MAX;
  bool over() const { return used.load(std::memory_order_relaxed) >= limit; }
};

// A reserved, lazily committed byte region (mmap with MAP_NORESERVE): pages are touched as the
// message grows; the address never changes. What it holds is charged to up to two meters (the
// process and the net lcore).
class MessageStore {
 public:
  explicit MessageStore(uint64_t capacity, MemMeter* process = nullptr, MemMeter* lcore = nullptr);
  ~MessageStore();
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;
  bool ok() const { return base_ != nullptr; }
  // Appends; false (nothing written) past the capacity, or after release().
  bool append(ByteSpan b);
  // Gives the memory back now (the message was refused); the store stays unusable.
  void release();
  uint8_t* data() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t capacity() const { return cap_; }

 private:
  void uncharge(uint64_t n);

  uint8_t* base_ = nullptr;
  uint64_t cap_ = 0, map_len_ = 0, size_ = 0;
  MemMeter* meters_[2] = {nullptr, nullptr};
};

struct MsgJob {
  explicit MsgJob(uint64_t capacity, MemMeter* process = nullptr, MemMeter* lcore = nullptr)
      : store(capacity, process, lcore) {}

  // Set by the net lcore before posting; read-only afterwards.
  uint64_t id = 0;                             // the transaction id in the log and the reply
  std::shared_ptr<const Snapshot> snapshot;    // the generation the session started with
  const Tenant* tenant = nullptr;
  const User* user = nullptr;
  scan::Envelope env;
  rte_ring* reply_ring = nullptr;

  MessageStore store;                          // written by the net lcore only
  std::atomic<uint64_t> committed{0};          // bytes of store valid for the scan thread
  std::atomic<bool> complete{false};           // no more bytes will come
  std::atomic<bool> aborted{false};            // the session went away: scan nothing more

  // Written by the scan thread before it posts the job back.
  scan::Verdict verdict;
  scan::HeaderIndex header;                    // the header section as the MIME parser read it
  uint64_t scan_ns = 0;                        // scan thread time spent on the job
  std::vector<std::string> av_names;           // signature names found
  bool scanned = false;                        // false: aborted or the scanner failed (tempfail)
  std::string scan_error;

  // Net lcore only.
  void* session = nullptr;
};

// A message as it leaves: the job's store with header lines added (`added`) or left out, as
// ranges (ByteParts) into `job->store` and `added` — no copy of the message. Heap-allocated and
// moved by unique_ptr between the session, the relay and the I/O thread, so the ranges stay
// valid wherever it goes. A spooled message read back from disk has no job: it is in `added`.
struct OutMessage {
  std::unique_ptr<MsgJob> job;
  std::string added;
  ByteParts parts;
};

// The relayed form of a scanned message: header fields named X-Mxgate-* that came with it are
// left out (downstream filters trust ours only), then `headers` ("Name: value" pairs the verdict
// adds) go first and `subject_prefix`, when not empty, is put before the first Subject's value
// (a Subject field is added when there is none). The whole header section is read. Exposed for
// tests.
std::unique_ptr<OutMessage> make_out_message(std::unique_ptr<MsgJob> job,
                                             const std::vector<std::pair<std::string, std::string>>& headers,
                                             const std::string& subject_prefix);

}  // namespace mx::dp
