// scan/av_pool.cc — AV worker threads, the bounded job ring and the completion ring.
#include "scan/av_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace mx::scan {
namespace {

// Undo an inherited pinning: allow every CPU; the kernel intersects the mask with the
// process's cpuset. Best effort — on failure the thread keeps its inherited affinity.
void unpin_current_thread() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &all);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

void name_current_thread(uint32_t index) {
  char name[16];  // Linux: 15 characters + NUL
  std::snprintf(name, sizeof(name), "mx-av-%u", index);
  (void)pthread_setname_np(pthread_self(), name);
}

}  // namespace

AvPool::AvPool(const AvEngine& engine, const AvPoolConfig& config)
    : engine_(engine),
      max_outstanding_(std::clamp<uint32_t>(config.max_outstanding, 1, kAvPoolMaxOutstanding)),
      jobs_(max_outstanding_),
      done_(max_outstanding_) {
  const uint32_t n = std::clamp<uint32_t>(config.threads, 1, kAvPoolMaxThreads);
  workers_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

AvPool::~AvPool() { shutdown(); }

bool AvPool::submit(const AvJob& job) {
  std::lock_guard lock(job_mu_);
  if (stopping_ || outstanding_ >= max_outstanding_) {
    ++rejected_;
    return false;
  }
  jobs_[(job_head_ + job_count_) % jobs_.size()] = job;
  ++job_count_;
  ++outstanding_;
  ++submitted_;
  job_cv_.notify_one();
  return true;
}

void AvPool::worker_main(uint32_t index) {
  unpin_current_thread();
  name_current_thread(index);
  for (;;) {
    AvJob job;
    {
      std::unique_lock lock(job_mu_);
      job_cv_.wait(lock, [this] { return stopping_ || job_count_ > 0; });
      if (stopping_) return;  // queued jobs are cancelled by shutdown()
      job = jobs_[job_head_];
      job_head_ = (job_head_ + 1) % jobs_.size();
      --job_count_;
    }
    complete(AvCompletion{job.tag, engine_.scan(job.data)}, false);
  }
}

void AvPool::complete(AvCompletion c, bool cancelled) {
  std::lock_guard lock(done_mu_);
  // Cannot overflow: every completion belongs to an accepted job that counts in outstanding_
  // until it is popped from this ring, and outstanding_ <= max_outstanding_ == done_.size().
  done_[(done_head_ + done_count_) % done_.size()] = std::move(c);
  ++done_count_;
  ++completed_;
  if (cancelled) ++cancelled_;
  done_cv_.notify_one();
}

bool AvPool::try_pop(AvCompletion& out) { return drain(std::span<AvCompletion>(&out, 1)) == 1; }

size_t AvPool::drain(std::span<AvCompletion> out) {
  size_t n = 0;
  {
    std::lock_guard lock(done_mu_);
    while (n < out.size() && done_count_ > 0) {
      out[n++] = std::move(done_[done_head_]);
      done_head_ = (done_head_ + 1) % done_.size();
      --done_count_;
    }
  }
  if (n > 0) {
    std::lock_guard lock(job_mu_);
    outstanding_ -= static_cast<uint32_t>(n);
  }
  return n;
}

bool AvPool::wait_pop(AvCompletion& out, std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(done_mu_);
    if (!done_cv_.wait_for(lock, timeout, [this] { return done_count_ > 0; })) return false;
  }
  return try_pop(out);
}

void AvPool::shutdown() {
  std::lock_guard serial(shutdown_mu_);
  {
    std::lock_guard lock(job_mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  job_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  // Workers are gone: complete what is still queued, so that every accepted job is reported.
  for (;;) {
    AvJob job;
    {
      std::lock_guard lock(job_mu_);
      if (job_count_ == 0) break;
      job = jobs_[job_head_];
      job_head_ = (job_head_ + 1) % jobs_.size();
      --job_count_;
    }
    AvResult r;
    r.verdict = AvVerdict::kError;
    r.name = "av pool shut down";
    complete(AvCompletion{job.tag, std::move(r)}, true);
  }
}

uint32_t AvPool::outstanding() const {
  std::lock_guard lock(job_mu_);
  return outstanding_;
}

AvPoolStats AvPool::stats() const {
  AvPoolStats s;
  {
    std::lock_guard lock(job_mu_);
    s.submitted = submitted_;
    s.rejected = rejected_;
  }
  std::lock_guard lock(done_mu_);
  s.completed = completed_;
  s.cancelled = cancelled_;
  return s;
}

}  // namespace mx::scan
