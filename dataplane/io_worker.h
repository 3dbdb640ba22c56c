// dataplane/io_worker.h — the I/O thread: the durable writes of the data plane. Net lcores post
// requests on a bounded ring and poll the answers on their own ring; the thread group-commits
// everything one dequeue brought: quarantine files (write, fsync, rename, directory fsync), then
// every log line in one append and one fdatasync. A request is answered only after its bytes are
// durable, or with ok = false (disk full, I/O error): the caller then answers 4xx, never 250.
//
// Threads: one unpinned std::thread; it never parses mail and never touches a session.
// SECURITY: file names are made here from the transaction id (digits), never from mail.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/bytes.h"
#include "common/expected.h"

struct rte_ring;

namespace mx::dp {

constexpr uint32_t kIoRingSize = 16384;
constexpr uint32_t kIoBatch = 256;  // requests per group commit

struct IoReq {
  std::string log_line;     // one JSON line with its '\n'; may be empty
  // Quarantine: the message and its metadata (JSON), stored as <id>.eml and <id>.json.
  bool quarantine = false;
  uint64_t id = 0;
  ByteSpan message;         // owned by the caller until the answer
  std::string meta;
  rte_ring* reply_ring = nullptr;  // null: nobody waits; the I/O thread deletes the request
  void* session = nullptr;  // the caller's
  uint64_t session_gen = 0;
  bool ok = false;
  std::string error;
};

struct IoStats {
  std::atomic<uint64_t> commits{0}, log_lines{0}, quarantined{0}, errors{0}, dropped{0};
};

class IoWorker {
 public:
  // Opens (creates) the log file and the quarantine directory.
  static Expected<std::unique_ptr<IoWorker>> create(const std::string& log_file, const std::string& quarantine_dir);
  ~IoWorker();
  bool post(IoReq* r);  // multi-producer; false when the ring is full
  void stop();          // answers what is queued, then joins
  const IoStats& stats() const { return st_; }

 private:
  IoWorker(rte_ring* ring, int log_fd, int qdir_fd, std::string qdir);
  void run();
  void commit(IoReq** reqs, unsigned n);
  bool store_quarantine(IoReq& r);

  rte_ring* ring_;
  int log_fd_;
  int qdir_fd_;
  std::string qdir_;
  std::atomic<bool> stop_{false};
  IoStats st_;
  std::thread thread_;
};

}  // namespace mx::dp
