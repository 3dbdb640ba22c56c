// dataplane/io_worker.h — the I/O thread: the durable writes of the data plane, and the spool
// runner. Net lcores post requests on a bounded ring and poll the answers on their own ring;
// the thread group-commits everything one dequeue brought: quarantine and spool files (write,
// fsync, rename, directory fsync), then every log line in one append and one fdatasync. A
// request is answered only after its bytes are durable, or with ok = false (disk full, I/O
// error): the caller then answers 4xx, never 250.
//
// Spool runner: the thread keeps an index of the spool directory (dataplane/spool.h), loaded at
// start so spooled mail survives restarts. Entries that are due are read and handed to a net
// lcore as SpoolDelivery on that lcore's ring (the relay runs on tcpstack); the result comes
// back as a kSpoolResult request: delivered recipients are done, 4xx ones retried with backoff
// until the entry expires, 5xx ones and expired ones get an RFC 3464 DSN to the sender (never
// to <>, never for a DSN), itself spooled and delivered through the sender's tenant's route or
// the configured bounce route.
//
// Threads: one unpinned std::thread; it never parses mail and never touches a session.
// SECURITY: file names are made here from ids (digits), never from mail.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/expected.h"
#include "dataplane/msg_job.h"
#include "dataplane/spool.h"
#include "smtp/client.h"

struct rte_ring;

namespace mx::dp {

struct GatewayShared;

constexpr uint32_t kIoRingSize = 16384;
constexpr uint32_t kIoBatch = 256;              // requests per group commit
constexpr uint32_t kSpoolRingSize = 1024;        // deliveries handed to one lcore at a time
constexpr uint64_t kSpoolLostAfterS = 3600;      // an in-flight delivery never answered is retried
constexpr uint64_t kSpoolRescanS = 2;            // new entries (released from quarantine) are seen

enum class IoKind : uint8_t { kLog, kQuarantine, kSpool, kSpoolResult };

struct IoReq {
  IoKind kind = IoKind::kLog;
  std::string log_line;     // one JSON line with its '\n'; may be empty
  uint64_t id = 0;
  // kQuarantine: <id>.eml + <id>.json (meta is JSON); kSpool: <id>.eml + <id>.meta (spool.h).
  // `message` points into `job` and `added` only: the request owns what it writes, so a sender
  // that vanishes while the request is queued cannot free the bytes under the I/O thread.
  ByteParts message;
  std::unique_ptr<OutMessage> out;  // what `message` points into, kept until the request is deleted
  std::string meta;
  std::string envelope;     // kQuarantine: <id>.meta, the envelope in the spool format (for release)
  smtp::ClientResult result;  // kSpoolResult
  // Any kind: recipients the tenant's server refused after others were accepted (the sender has
  // its 250): a DSN for these, built from `message` and the envelope `bounce_meta`.
  std::vector<DsnFailure> bounce_rcpts;
  SpoolMeta bounce_meta;
  std::string remote;         // kSpoolResult: the server's address, for the DSN
  rte_ring* reply_ring = nullptr;  // null: nobody waits; the I/O thread deletes the request
  void* session = nullptr;  // the caller's
  uint64_t session_gen = 0;
  bool ok = false;
  std::string error;
};

// A spooled message on its way to a net lcore and back.
struct SpoolDelivery {
  SpoolMeta meta;
  std::string body;
  std::string tls_name;  // the tenant's route_tls_name in the current snapshot
};

struct SpoolConfig {
  std::string dir;
  std::string hostname;
  uint64_t retry_min_s = 60, retry_max_s = 3600, lifetime_s = 5 * 86400;
  std::optional<Ipv4Addr> bounce_ip;  // DSNs to senders outside every tenant go here
  uint16_t bounce_port = 25;
};

struct IoStats {
  std::atomic<uint64_t> commits{0}, log_lines{0}, quarantined{0}, spooled{0}, errors{0}, spool_attempts{0},
      spool_delivered{0}, spool_retries{0}, dsn_sent{0}, dsn_suppressed{0}, spool_bad{0};
};

class IoWorker {
 public:
  // Opens (creates) the log file and the quarantine and spool directories, loads the spool.
  static Expected<std::unique_ptr<IoWorker>> create(const std::string& log_file, const std::string& quarantine_dir,
                                                    const SpoolConfig& spool, const GatewayShared* shared,
                                                    uint32_t ring_size = kIoRingSize);
  ~IoWorker();
  // Net lcores register the ring they take deliveries from (before the thread starts work).
  void add_spool_target(rte_ring* ring);
  void start();
  bool post(IoReq* r);  // multi-producer; false when the ring is full
  void stop();          // answers what is queued, then joins
  const IoStats& stats() const { return st_; }
  size_t spool_size() const { return spool_count_.load(); }

 private:
  IoWorker(rte_ring* ring, int log_fd, int qdir_fd, int sdir_fd, SpoolConfig spool, const GatewayShared* shared);
  void run();
  void commit(IoReq** reqs, unsigned n);
  bool store_pair(int dir, IoReq& r, const char* meta_ext, std::string& err);
  void load_spool();  // at start, and every kSpoolRescanS for entries others dropped in (release)
  void run_spool(uint64_t now);
  void spool_result(IoReq& r, uint64_t now, std::string& log);
  // The DSN for `failed` recipients of `m`; `original` is the message (read from the spool when
  // empty).
  // False only when a DSN was due and could not be stored.
  bool bounce(const SpoolMeta& m, const std::vector<DsnFailure>& failed, uint64_t now, std::string& log,
              const ByteParts& original = {});
  bool write_meta(const SpoolMeta& m);
  void remove_entry(uint64_t id);

  rte_ring* ring_;
  int log_fd_;
  int qdir_fd_;
  int sdir_fd_;
  SpoolConfig spool_;
  const GatewayShared* shared_;
  std::vector<rte_ring*> targets_;
  size_t next_target_ = 0;
  std::map<uint64_t, SpoolMeta> entries_;
  std::map<uint64_t, uint64_t> in_flight_;  // id -> when it was handed out
  std::atomic<size_t> spool_count_{0};
  uint64_t next_dsn_ = 1;
  std::atomic<bool> stop_{false};
  IoStats st_;
  std::thread thread_;
};

}  // namespace mx::dp
