// dataplane/scan_worker.h — the scan thread: streaming MIME, Hyperscan and policy for every
// message (dataplane/msg_job.h), with libclamav in the AV pool (scan/av_pool.h).
//
// Threads: one ScanWorker thread, pinned to its CPU when configured, takes jobs from a bounded
// multi-producer ring; it never blocks on I/O and never touches a session. Per tenant rule set it
// keeps one Hyperscan scratch and a free list of MessageScanners (created on first use, reused).
// AV objects go to the pool without copies; the job waits in the active list until every object's
// result is back. A snapshot's rule sets stay alive while any job started under it is active.
//
// SECURITY: message bytes are untrusted; all bounds are scan/'s. A scanner that cannot be made
// (a compile or scratch failure) makes the job's verdict a tempfail, never "clean".
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/expected.h"
#include "common/strong_id.h"
#include "dataplane/msg_job.h"
#include "scan/av_pool.h"

struct rte_ring;

namespace mx::dp {

constexpr uint32_t kScanRingSize = 4096;     // jobs posted and not yet taken by the scan thread
constexpr uint32_t kScanMaxActive = 65536;   // jobs being scanned at once (open DATA phases)
constexpr size_t kScanFeedStep = 256 * 1024; // bytes fed to one job before turning to the next

struct ScanWorkerStats {
  std::atomic<uint64_t> jobs{0}, aborted{0}, av_objects{0}, av_resubmits{0}, scanner_errors{0}, bytes{0};
};

class ScanWorker {
 public:
  static Expected<std::unique_ptr<ScanWorker>> create(const scan::AvEngine& engine, uint32_t av_threads,
                                                      std::optional<uint32_t> cpu);
  ~ScanWorker();
  // Posts a job (net lcores; multi-producer). False when the ring is full.
  bool post(MsgJob* job);
  void stop();
  const ScanWorkerStats& stats() const { return st_; }

 private:
  struct TenantScan;
  struct Active {
    MsgJob* job = nullptr;
    uint64_t seq = 0;
    TenantScan* ts = nullptr;
    scan::MessageScanner* scanner = nullptr;
    uint64_t fed = 0;
    uint64_t ns = 0;
    bool finished = false;
    size_t next_obj = 0, done_objs = 0;
    std::vector<scan::AvResult> av;
    const scan::ScanOutcome* outcome = nullptr;
  };

  ScanWorker(const scan::AvEngine& engine, uint32_t av_threads, std::optional<uint32_t> cpu, rte_ring* ring);
  void run();
  bool step(Active& a);
  void start_job(MsgJob* job);
  void finish_job(Active& a);
  void submit_av(Active& a);
  void drain_av();
  void release(Active& a);

  rte_ring* ring_;
  scan::AvPool pool_;
  std::optional<uint32_t> cpu_;
  std::atomic<bool> stop_{false};
  std::map<const scan::HsRules*, std::unique_ptr<TenantScan>> tenants_;
  std::vector<std::unique_ptr<Active>> active_;
  std::map<uint64_t, Active*> by_seq_;  // AV completions come back by job sequence number
  uint64_t next_seq_ = 1;
  ScanWorkerStats st_;
  std::thread thread_;
};

}  // namespace mx::dp
