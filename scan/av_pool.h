// scan/av_pool.h — a bounded pool of worker threads that scan whole objects with one shared
// AvEngine (scan/av_engine.h), and a completion queue that the submitting thread drains.
//
// SECURITY: objects are attacker-controlled; the bounds here keep a flood of attachments from
// growing memory or threads: at most kAvPoolMaxOutstanding jobs are accepted and not yet
// drained (queued + scanning + completed), so neither queue can grow past it; submit() returns
// false beyond it (backpressure: the caller tempfails or waits, it never queues without bound).
// Workers are plain std::threads that reset their CPU affinity to every CPU the process may use,
// so they never inherit a pinned lcore's affinity when created from one.
// Threading contract: submit(), try_pop(), drain() and wait_pop() may be called from any thread
// and never call back into the caller; a worker only touches the job queue and the completion
// queue (one mutex each). The bytes of a job are not copied: the caller keeps them alive and
// unchanged until it has popped that job's completion.
// Shutdown: shutdown() (and the destructor) stops accepting, lets scans in progress finish
// (each bounded by AvLimits::max_scan_time_ms), completes every job still queued with kError
// "av pool shut down" and joins every worker; every accepted job yields exactly one completion.
// STANDARDS: none.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "scan/av_engine.h"

namespace mx::scan {

// Worker threads: the architecture gives AV its own unpinned threads; on the 2-core target two.
constexpr uint32_t kAvPoolDefaultThreads = 2;
constexpr uint32_t kAvPoolMaxThreads = 64;
// Jobs accepted and not yet drained by the caller (queued + scanning + completed).
constexpr uint32_t kAvPoolDefaultOutstanding = 256;
constexpr uint32_t kAvPoolMaxOutstanding = 4096;

struct AvPoolConfig {
  uint32_t threads = kAvPoolDefaultThreads;          // clamped to [1, kAvPoolMaxThreads]
  uint32_t max_outstanding = kAvPoolDefaultOutstanding;  // clamped to [1, kAvPoolMaxOutstanding]
};

struct AvJob {
  uint64_t tag = 0;  // the caller's id, returned in the completion
  ByteSpan data;     // not owned: valid until the completion is popped
};

struct AvCompletion {
  uint64_t tag = 0;
  AvResult result;
};

struct AvPoolStats {
  uint64_t submitted = 0;  // accepted by submit()
  uint64_t rejected = 0;   // submit() returned false (full or shut down)
  uint64_t completed = 0;  // completions produced (scanned or cancelled)
  uint64_t cancelled = 0;  // completed with kError because of shutdown()
};

class AvPool {
 public:
  // Starts the workers. `engine` must outlive the pool.
  AvPool(const AvEngine& engine, const AvPoolConfig& config = {});
  ~AvPool();
  AvPool(const AvPool&) = delete;
  AvPool& operator=(const AvPool&) = delete;

  // Queues a scan. False when max_outstanding jobs are accepted and not yet drained, or after
  // shutdown(); the job is then not owned by the pool and no completion will come for it.
  [[nodiscard]] bool submit(const AvJob& job);

  // Completions, oldest first. try_pop: one if ready. drain: up to out.size(), returns the count.
  // wait_pop: blocks up to `timeout` (for unpinned callers and tests; an lcore polls instead).
  bool try_pop(AvCompletion& out);
  size_t drain(std::span<AvCompletion> out);
  bool wait_pop(AvCompletion& out, std::chrono::milliseconds timeout);

  // Stops accepting, finishes scans in progress, cancels queued jobs, joins workers. Idempotent.
  void shutdown();

  uint32_t threads() const { return static_cast<uint32_t>(workers_.size()); }
  uint32_t max_outstanding() const { return max_outstanding_; }
  uint32_t outstanding() const;
  AvPoolStats stats() const;

 private:
  void worker_main(uint32_t index);
  void complete(AvCompletion c, bool cancelled);

  const AvEngine& engine_;
  uint32_t max_outstanding_;

  // Job queue: a ring of max_outstanding_ slots, allocated once.
  mutable std::mutex job_mu_;
  std::condition_variable job_cv_;
  std::vector<AvJob> jobs_;
  size_t job_head_ = 0;
  size_t job_count_ = 0;
  uint32_t outstanding_ = 0;  // guarded by job_mu_; decremented when a completion is popped
  bool stopping_ = false;
  uint64_t submitted_ = 0;
  uint64_t rejected_ = 0;

  // Completion queue: a ring of max_outstanding_ slots (it can never hold more).
  mutable std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::vector<AvCompletion> done_;
  size_t done_head_ = 0;
  size_t done_count_ = 0;
  uint64_t completed_ = 0;
  uint64_t cancelled_ = 0;

  std::mutex shutdown_mu_;  // serialises shutdown() calls
  std::vector<std::thread> workers_;
};

}  // namespace mx::scan
