// dataplane/io_worker.cc
#include "dataplane/io_worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace mx::dp {
namespace {

bool write_all(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n) {
    ssize_t w = ::write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Writes `name` in directory fd `dir` durably under a temporary name, then renames it.
bool durable_file(int dir, const std::string& name, ByteSpan a, std::string* err) {
  const std::string tmp = "." + name + ".tmp";
  int fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = name + ": " + std::strerror(errno);
    return false;
  }
  bool ok = write_all(fd, a.data(), a.size()) && ::fsync(fd) == 0;
  if (!ok) *err = name + ": " + std::strerror(errno);
  ::close(fd);
  if (ok && ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    *err = name + ": rename: " + std::strerror(errno);
    ok = false;
  }
  if (!ok) ::unlinkat(dir, tmp.c_str(), 0);
  return ok;
}

}  // namespace

Expected<std::unique_ptr<IoWorker>> IoWorker::create(const std::string& log_file, const std::string& quarantine_dir) {
  ::mkdir(quarantine_dir.c_str(), 0700);
  int qfd = ::open(quarantine_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (qfd < 0) return Error{"quarantine directory " + quarantine_dir + ": " + std::strerror(errno)};
  int lfd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (lfd < 0) {
    ::close(qfd);
    return Error{"log file " + log_file + ": " + std::strerror(errno)};
  }
  rte_ring* r = rte_ring_create("mx_io_reqs", kIoRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (!r) {
    ::close(qfd);
    ::close(lfd);
    return Error{std::string("I/O ring: ") + rte_strerror(rte_errno)};
  }
  return std::unique_ptr<IoWorker>(new IoWorker(r, lfd, qfd, quarantine_dir));
}

IoWorker::IoWorker(rte_ring* ring, int log_fd, int qdir_fd, std::string qdir)
    : ring_(ring), log_fd_(log_fd), qdir_fd_(qdir_fd), qdir_(std::move(qdir)) {
  thread_ = std::thread([this] { run(); });
}

IoWorker::~IoWorker() {
  stop();
  rte_ring_free(ring_);
  ::close(log_fd_);
  ::close(qdir_fd_);
}

void IoWorker::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool IoWorker::post(IoReq* r) { return rte_ring_mp_enqueue(ring_, r) == 0; }

bool IoWorker::store_quarantine(IoReq& r) {
  const std::string base = std::to_string(r.id);
  std::string err;
  bool ok = durable_file(qdir_fd_, base + ".eml", r.message, &err) &&
            durable_file(qdir_fd_, base + ".json",
                         ByteSpan(reinterpret_cast<const uint8_t*>(r.meta.data()), r.meta.size()), &err);
  if (!ok) r.error = "quarantine " + err;
  return ok;
}

void IoWorker::commit(IoReq** reqs, unsigned n) {
  bool any_q = false, qok = true;
  for (unsigned i = 0; i < n; ++i) {
    IoReq& r = *reqs[i];
    r.ok = true;
    if (r.quarantine) {
      any_q = true;
      r.ok = store_quarantine(r);
      qok &= r.ok;
    }
  }
  // The renames are durable once the directory is.
  if (any_q && ::fsync(qdir_fd_) != 0) {
    for (unsigned i = 0; i < n; ++i)
      if (reqs[i]->quarantine) {
        reqs[i]->ok = false;
        reqs[i]->error = std::string("quarantine directory fsync: ") + std::strerror(errno);
      }
  }
  (void)qok;
  std::string batch;
  uint64_t lines = 0;
  for (unsigned i = 0; i < n; ++i)
    if (reqs[i]->ok && !reqs[i]->log_line.empty()) {
      batch += reqs[i]->log_line;
      ++lines;
    }
  if (!batch.empty()) {
    const bool ok = write_all(log_fd_, batch.data(), batch.size()) && ::fdatasync(log_fd_) == 0;
    if (!ok) {
      const std::string why = std::string("transaction log: ") + std::strerror(errno);
      for (unsigned i = 0; i < n; ++i)
        if (!reqs[i]->log_line.empty()) {
          reqs[i]->ok = false;
          reqs[i]->error = why;
        }
    } else {
      st_.log_lines.fetch_add(lines, std::memory_order_relaxed);
    }
  }
  st_.commits.fetch_add(1, std::memory_order_relaxed);
  for (unsigned i = 0; i < n; ++i) {
    IoReq* r = reqs[i];
    if (!r->ok) st_.errors.fetch_add(1, std::memory_order_relaxed);
    else if (r->quarantine) st_.quarantined.fetch_add(1, std::memory_order_relaxed);
    if (!r->reply_ring) {
      delete r;
      continue;
    }
    // Reply rings are sized for every request their lcore can have outstanding.
    while (rte_ring_mp_enqueue(r->reply_ring, r) != 0) std::this_thread::yield();
  }
}

void IoWorker::run() {
  pthread_setname_np(pthread_self(), "mx-io");
  void* in[kIoBatch];
  for (;;) {
    const unsigned n = rte_ring_sc_dequeue_burst(ring_, in, kIoBatch, nullptr);
    if (n) {
      commit(reinterpret_cast<IoReq**>(in), n);
      continue;
    }
    if (stop_.load()) break;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace mx::dp
