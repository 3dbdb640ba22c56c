// dataplane/scan_worker.cc
#include "dataplane/scan_worker.h"

#include <pthread.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <sched.h>

#include <chrono>
#include <ctime>

namespace mx::dp {
namespace {

uint64_t thread_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr uint32_t kAvTagShift = 8;  // tag = seq << 8 | object index (kMaxAvObjects <= 256)
static_assert(scan::kMaxAvObjects <= (1u << kAvTagShift));

}  // namespace

struct ScanWorker::TenantScan {
  std::shared_ptr<const scan::HsRules> rules;  // kept alive while jobs use it
  std::optional<scan::HsScratch> scratch;
  std::vector<std::unique_ptr<scan::MessageScanner>> free;
  uint32_t in_use = 0;
};

Expected<std::unique_ptr<ScanWorker>> ScanWorker::create(const scan::AvEngine& engine, uint32_t av_threads,
                                                         std::optional<uint32_t> cpu) {
  rte_ring* r = rte_ring_create("mx_scan_jobs", kScanRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (!r) return Error{std::string("scan ring: ") + rte_strerror(rte_errno)};
  return std::unique_ptr<ScanWorker>(new ScanWorker(engine, av_threads, cpu, r));
}

ScanWorker::ScanWorker(const scan::AvEngine& engine, uint32_t av_threads, std::optional<uint32_t> cpu, rte_ring* ring)
    : ring_(ring), pool_(engine, scan::AvPoolConfig{av_threads, scan::kAvPoolDefaultOutstanding}), cpu_(cpu) {
  thread_ = std::thread([this] { run(); });
}

ScanWorker::~ScanWorker() {
  stop();
  rte_ring_free(ring_);
}

void ScanWorker::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  pool_.shutdown();
}

bool ScanWorker::post(MsgJob* job) { return rte_ring_mp_enqueue(ring_, job) == 0; }

void ScanWorker::start_job(MsgJob* job) {
  st_.jobs.fetch_add(1, std::memory_order_relaxed);
  auto a = std::make_unique<Active>();
  a->job = job;
  a->seq = next_seq_++;
  const scan::HsRules* key = job->tenant->rules.get();
  auto& ts = tenants_[key];
  if (!ts) {
    ts = std::make_unique<TenantScan>();
    ts->rules = job->tenant->rules;
    auto s = ts->rules->make_scratch();
    if (s) ts->scratch.emplace(std::move(*s));
  }
  a->ts = ts.get();
  if (ts->scratch) {
    if (!ts->free.empty()) {
      a->scanner = ts->free.back().release();
      ts->free.pop_back();
    } else if (auto m = scan::MessageScanner::create(*ts->rules, *ts->scratch)) {
      a->scanner = m->release();
    }
  }
  if (!a->scanner) {
    st_.scanner_errors.fetch_add(1, std::memory_order_relaxed);
    job->scan_error = "scanner unavailable";
  } else {
    ++ts->in_use;
    a->scanner->begin(job->env, /*in_place=*/true);  // the store never moves: AV reads it there
  }
  by_seq_[a->seq] = a.get();
  active_.push_back(std::move(a));
}

// Feeds what has arrived; finishes when complete. True when the job can be posted back.
bool ScanWorker::step(Active& a) {
  MsgJob* j = a.job;
  if (j->aborted.load(std::memory_order_acquire)) return a.done_objs == a.next_obj;
  if (!a.scanner) return j->complete.load(std::memory_order_acquire);
  if (a.finished) return a.done_objs == a.outcome->av_objects.size();
  const bool complete = j->complete.load(std::memory_order_acquire);
  const uint64_t avail = j->committed.load(std::memory_order_acquire);
  if (avail > a.fed) {
    const uint64_t t0 = thread_ns();
    const uint64_t n = std::min<uint64_t>(avail - a.fed, kScanFeedStep);
    a.scanner->feed(ByteSpan(j->store.data() + a.fed, n));
    a.fed += n;
    st_.bytes.fetch_add(n, std::memory_order_relaxed);
    a.ns += thread_ns() - t0;
    if (a.fed < avail) return false;
  }
  if (!complete || a.fed < j->committed.load(std::memory_order_acquire)) return false;
  const uint64_t t0 = thread_ns();
  a.outcome = &a.scanner->finish(ByteSpan(j->store.data(), j->store.size()));
  a.finished = true;
  a.av.assign(a.outcome->av_objects.size(), scan::AvResult{});
  a.ns += thread_ns() - t0;
  submit_av(a);
  return a.done_objs == a.outcome->av_objects.size();
}

void ScanWorker::submit_av(Active& a) {
  while (a.next_obj < a.outcome->av_objects.size()) {
    const scan::AvObject& o = a.outcome->av_objects[a.next_obj];
    if (!pool_.submit(scan::AvJob{(a.seq << kAvTagShift) | a.next_obj, o.data})) {
      st_.av_resubmits.fetch_add(1, std::memory_order_relaxed);
      return;  // the pool is full: retried on the next pass
    }
    st_.av_objects.fetch_add(1, std::memory_order_relaxed);
    ++a.next_obj;
  }
}

void ScanWorker::drain_av() {
  scan::AvCompletion done[32];
  size_t n = pool_.drain(done);
  for (size_t i = 0; i < n; ++i) {
    auto it = by_seq_.find(done[i].tag >> kAvTagShift);
    if (it == by_seq_.end()) continue;
    Active& a = *it->second;
    const size_t idx = done[i].tag & ((1u << kAvTagShift) - 1);
    if (idx < a.av.size()) a.av[idx] = std::move(done[i].result);
    ++a.done_objs;
  }
}

void ScanWorker::finish_job(Active& a) {
  MsgJob* j = a.job;
  if (j->aborted.load(std::memory_order_acquire)) {
    st_.aborted.fetch_add(1, std::memory_order_relaxed);
  } else if (a.scanner && a.finished) {
    const uint64_t t0 = thread_ns();
    static const scan::UserPrefs kNoPrefs;
    j->verdict = scan::decide_verdict(*a.outcome, a.av, j->env, j->tenant->policy, j->user ? j->user->prefs : kNoPrefs);
    j->header = a.outcome->header;
    for (const scan::AvResult& r : a.av)
      if (r.verdict != scan::AvVerdict::kClean && !r.name.empty()) j->av_names.push_back(r.name);
    j->scanned = true;
    a.ns += thread_ns() - t0;
  }
  j->scan_ns = a.ns;
  release(a);
  // The reply ring is sized for every job its lcore can have open, so this cannot fail.
  while (rte_ring_mp_enqueue(j->reply_ring, j) != 0) std::this_thread::yield();
}

void ScanWorker::release(Active& a) {
  if (a.scanner) {
    a.scanner->release_buffers();
    a.ts->free.emplace_back(a.scanner);
    --a.ts->in_use;
    a.scanner = nullptr;
  }
  by_seq_.erase(a.seq);
}

void ScanWorker::run() {
  if (cpu_) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(*cpu_, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  pthread_setname_np(pthread_self(), "mx-scan");
  uint32_t idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    void* in[32];
    const unsigned n = active_.size() < kScanMaxActive ? rte_ring_sc_dequeue_burst(ring_, in, 32, nullptr) : 0;
    for (unsigned i = 0; i < n; ++i) start_job(static_cast<MsgJob*>(in[i]));
    drain_av();
    bool progress = n > 0;
    for (size_t i = 0; i < active_.size();) {
      Active& a = *active_[i];
      const uint64_t before = a.fed;
      if (a.finished && a.next_obj < a.outcome->av_objects.size()) submit_av(a);
      if (step(a)) {
        finish_job(a);
        active_[i] = std::move(active_.back());
        active_.pop_back();
        progress = true;
        continue;
      }
      progress |= a.fed != before;
      ++i;
    }
    // Rule sets of snapshots no job uses any more (and the current snapshot no longer holds).
    if (n > 0 || active_.empty()) {
      for (auto it = tenants_.begin(); it != tenants_.end();) {
        if (it->second->in_use == 0 && it->second->rules.use_count() == 1) it = tenants_.erase(it);
        else ++it;
      }
    }
    if (progress) {
      idle = 0;
    } else if (++idle > 64) {
      // Nothing arrived: sleep a little (the scan thread is not a busy-polling lcore yet).
      std::this_thread::sleep_for(std::chrono::microseconds(idle > 1024 ? 200 : 20));
    }
  }
  for (auto& a : active_) {
    release(*a);
    a->job->aborted.store(true);
    while (rte_ring_mp_enqueue(a->job->reply_ring, a->job) != 0) std::this_thread::yield();
  }
  active_.clear();
}

}  // namespace mx::dp
