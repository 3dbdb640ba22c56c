// dataplane/io_worker.cc
#include "dataplane/io_worker.h"

#include <algorithm>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <vector>

#include "dataplane/durable.h"
#include "dataplane/gateway.h"
#include "dataplane/ipc_use.h"

namespace mx::dp {
namespace {

ByteSpan span(const std::string& s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

uint64_t unix_now() { return static_cast<uint64_t>(std::time(nullptr)); }


constexpr uint64_t kDsnIdBit = 1ull << 62;

std::string reply_text(const smtp::Reply& r) { return std::to_string(r.code) + " " + r.enhanced + " " + r.text; }

}  // namespace

Expected<std::unique_ptr<IoWorker>> IoWorker::create(const std::string& log_file, const std::string& quarantine_dir,
                                                     const SpoolConfig& spool, const GatewayShared* shared,
                                                     uint32_t ring_size) {
  ::mkdir(quarantine_dir.c_str(), 0700);
  ::mkdir(spool.dir.c_str(), 0700);
  int qfd = ::open(quarantine_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (qfd < 0) return Error{"quarantine directory " + quarantine_dir + ": " + std::strerror(errno)};
  int sfd = ::open(spool.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0) {
    ::close(qfd);
    return Error{"spool directory " + spool.dir + ": " + std::strerror(errno)};
  }
  int lfd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (lfd < 0) {
    ::close(qfd);
    ::close(sfd);
    return Error{"log file " + log_file + ": " + std::strerror(errno)};
  }
  rte_ring* r = rte_ring_create("mx_io_reqs", std::clamp(ring_size, 2u, kIoRingSize), SOCKET_ID_ANY,
                                RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (!r) {
    ::close(qfd);
    ::close(sfd);
    ::close(lfd);
    return Error{std::string("I/O ring: ") + rte_strerror(rte_errno)};
  }
  auto w = std::unique_ptr<IoWorker>(new IoWorker(r, lfd, qfd, sfd, spool, shared));
  w->load_spool();
  return w;
}

IoWorker::IoWorker(rte_ring* ring, int log_fd, int qdir_fd, int sdir_fd, SpoolConfig spool, const GatewayShared* shared)
    : ring_(ring), log_fd_(log_fd), qdir_fd_(qdir_fd), sdir_fd_(sdir_fd), spool_(std::move(spool)), shared_(shared) {}

IoWorker::~IoWorker() {
  stop();
  rte_ring_free(ring_);
  ::close(log_fd_);
  ::close(qdir_fd_);
  ::close(sdir_fd_);
}

void IoWorker::add_spool_target(rte_ring* ring) { targets_.push_back(ring); }

void IoWorker::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void IoWorker::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool IoWorker::post(IoReq* r) { return rte_ring_mp_enqueue(ring_, r) == 0; }

bool IoWorker::store_pair(int dir, IoReq& r, const char* meta_ext, std::string& err) {
  const std::string base = std::to_string(r.id);
  return durable_file(dir, base + ".eml", r.message, &err) && durable_file(dir, base + meta_ext, span(r.meta), &err);
}

void IoWorker::load_spool() {
  DIR* d = ::fdopendir(::dup(sdir_fd_));
  if (!d) return;
  ::rewinddir(d);  // the duplicate shares the directory offset of the last scan
  std::string log;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".meta") != 0 || name[0] == '.') continue;
    uint64_t known = 0;
    if (std::from_chars(name.data(), name.data() + name.size() - 5, known).ptr == name.data() + name.size() - 5 &&
        entries_.count(known))
      continue;
    std::string text;
    auto m = read_file_at(sdir_fd_, name, text, kMaxSpoolMetaBytes)
                 ? parse_spool_meta(text)
                 : Expected<SpoolMeta>(Error{"unreadable"});
    if (!m || std::to_string(m->id) + ".meta" != name) {
      // Never deliver what we do not fully understand: set it aside for an operator.
      ::renameat(sdir_fd_, name.c_str(), sdir_fd_, (name + ".bad").c_str());
      ++st_.spool_bad;
      log += "{\"time\":";
      json_string(log, log_time());
      log += ",\"event\":\"spool_bad\",\"file\":";
      json_string(log, name);
      log += ",\"error\":";
      json_string(log, m ? std::string("id does not match the name") : m.error().message);
      log += "}\n";
      continue;
    }
    entries_.emplace(m->id, std::move(*m));
  }
  ::closedir(d);
  spool_count_.store(entries_.size());
  if (!log.empty()) write_all(log_fd_, log.data(), log.size());
}

bool IoWorker::write_meta(const SpoolMeta& m) {
  std::string err;
  return durable_file(sdir_fd_, std::to_string(m.id) + ".meta", span(format_spool_meta(m)), &err) &&
         ::fsync(sdir_fd_) == 0;
}

void IoWorker::remove_entry(uint64_t id) {
  const std::string base = std::to_string(id);
  // The meta first: a crash between the two leaves an .eml without meta, never a meta that
  // would deliver again.
  ::unlinkat(sdir_fd_, (base + ".meta").c_str(), 0);
  ::unlinkat(sdir_fd_, (base + ".eml").c_str(), 0);
  ::fsync(sdir_fd_);
  entries_.erase(id);
  in_flight_.erase(id);
  spool_count_.store(entries_.size());
}

bool IoWorker::bounce(const SpoolMeta& m, const std::vector<DsnFailure>& failed, uint64_t now, std::string& log,
                      const ByteParts& original_bytes) {
  auto note = [&](const char* what) {
    log += "{\"time\":";
    json_string(log, log_time());
    log += ",\"event\":\"dsn\",\"id\":" + std::to_string(m.id) + ",\"result\":";
    json_string(log, what);
    log += ",\"to\":";
    json_string(log, m.from);
    log += "}\n";
  };
  if (m.from.empty() || m.dsn) {
    ++st_.dsn_suppressed;
    note(m.dsn ? "suppressed: a notification is never bounced" : "suppressed: null sender");
    return true;
  }
  std::string original;
  if (original_bytes.empty()) read_file_at(sdir_fd_, std::to_string(m.id) + ".eml", original, 1ull << 30);
  else
    for (const ByteSpan& p : original_bytes.parts()) original.append(reinterpret_cast<const char*>(p.data()), p.size());
  SpoolMeta d;
  // DSN ids have bit 62 set: never equal to a message id (start time << 24 | counter).
  do {
    d.id = kDsnIdBit | (now << 20) | (next_dsn_++ & 0xfffff);
  } while (entries_.count(d.id));
  d.from = "";
  d.dsn = true;
  d.rcpts.push_back(SpoolRcpt{m.from, {}});
  d.created = now;
  d.expires = now + spool_.lifetime_s;
  d.next = now;
  // Route: the sender's tenant (outbound relaying customers), else the bounce route.
  const std::string domain = ascii_lower(m.from.substr(m.from.rfind('@') + 1));
  const Tenant* t = nullptr;
  std::shared_ptr<const Snapshot> snap = shared_ ? shared_->current() : nullptr;
  if (snap) t = snap->tenant_for_domain(domain);
  if (t) {
    d.tenant = t->name;
    d.route_ip = t->route_ip;
    d.route_port = t->route_port;
    d.tls = t->route_tls;
  } else if (spool_.bounce_ip) {
    d.tenant = "-";
    d.route_ip = *spool_.bounce_ip;
    d.route_port = spool_.bounce_port;
  } else {
    ++st_.dsn_suppressed;
    note("dropped: no route for the sender's domain (set bounce_route)");
    return true;
  }
  const std::string body = build_dsn(m, failed, span(original), spool_.hostname, now, d.id);
  IoReq w;
  w.id = d.id;
  w.message = span(body);
  w.meta = format_spool_meta(d);
  std::string err;
  if (!store_pair(sdir_fd_, w, ".meta", err) || ::fsync(sdir_fd_) != 0) {
    note(("failed to spool: " + err).c_str());
    return false;
  }
  ++st_.dsn_sent;
  entries_.emplace(d.id, d);
  spool_count_.store(entries_.size());
  note(("spooled as " + std::to_string(d.id)).c_str());
  return true;
}

void IoWorker::spool_result(IoReq& r, uint64_t now, std::string& log) {
  auto it = entries_.find(r.id);
  in_flight_.erase(r.id);
  if (it == entries_.end()) return;
  SpoolMeta& m = it->second;
  const smtp::ClientResult& res = r.result;
  using O = smtp::ClientResult::Outcome;
  std::vector<SpoolRcpt> retry;
  std::vector<DsnFailure> failed;
  size_t delivered = 0;
  for (size_t i = 0; i < m.rcpts.size(); ++i) {
    smtp::Reply rr = i < res.rcpt_replies.size() ? res.rcpt_replies[i] : res.reply;
    if (res.outcome == O::kDelivered && rr.positive()) {
      ++delivered;
    } else if (res.outcome == O::kPermFail || (res.outcome == O::kDelivered && rr.code >= 500)) {
      const smtp::Reply& why = res.outcome == O::kPermFail && !(rr.code >= 500) ? res.reply : rr;
      failed.push_back(DsnFailure{m.rcpts[i], why.enhanced.empty() ? "5.0.0" : why.enhanced, reply_text(why), r.remote});
    } else {
      retry.push_back(m.rcpts[i]);
    }
  }
  ++m.attempts;
  m.last = reply_text(res.reply) + " (" + res.stage + ")";
  std::string result = retry.empty() ? (failed.empty() ? "delivered" : delivered ? "partly bounced" : "bounced")
                                     : now >= m.expires ? "expired" : "deferred";
  log += "{\"time\":";
  json_string(log, log_time());
  log += ",\"event\":\"spool\",\"id\":" + std::to_string(m.id);
  log += ",\"tenant\":";
  json_string(log, m.tenant);
  log += ",\"attempt\":" + std::to_string(m.attempts) + ",\"result\":";
  json_string(log, result);
  log += ",\"downstream\":";
  json_string(log, m.last);
  log += std::string(",\"dsn\":") + (m.dsn ? "true" : "false") + "}\n";
  if (delivered) st_.spool_delivered.fetch_add(1, std::memory_order_relaxed);
  if (!retry.empty() && now >= m.expires) {
    for (const SpoolRcpt& rc : retry)
      failed.push_back(DsnFailure{rc, "4.4.7", "delivery time expired; last error: " + m.last, r.remote});
    retry.clear();
  }
  if (!failed.empty() && !bounce(m, failed, now, log)) {
    // The DSN could not be stored (disk full, I/O error): the entry keeps those recipients and
    // is tried again, so the next refusal bounces them then — never dropped without a notice.
    for (const DsnFailure& f : failed) retry.push_back(f.rcpt);
    st_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  if (retry.empty()) {
    remove_entry(r.id);
    return;
  }
  ++st_.spool_retries;
  m.rcpts = std::move(retry);
  m.next = now + spool_backoff(m.attempts, spool_.retry_min_s, spool_.retry_max_s);
  if (!write_meta(m)) {
    // The index keeps the new state; the file on disk keeps the old one (more recipients, never
    // fewer): after a restart some may be tried again — a duplicate at worst, never a loss.
    st_.errors.fetch_add(1, std::memory_order_relaxed);
    log += "{\"time\":";
    json_string(log, log_time());
    log += ",\"event\":\"spool_error\",\"id\":" + std::to_string(m.id) +
           ",\"error\":\"the entry's new state could not be written\"}\n";
  }
}

void IoWorker::run_spool(uint64_t now) {
  if (targets_.empty()) return;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now - it->second > kSpoolLostAfterS) it = in_flight_.erase(it);
    else ++it;
  }
  for (auto& [id, m] : entries_) {
    if (m.next > now || in_flight_.count(id)) continue;
    auto* d = new SpoolDelivery;
    d->meta = m;
    if (!read_file_at(sdir_fd_, std::to_string(id) + ".eml", d->body, 1ull << 30)) {
      delete d;
      m.next = now + spool_.retry_min_s;  // unreadable now: try again later
      continue;
    }
    // The tenant's current route, when the snapshot still has the tenant.
    std::shared_ptr<const Snapshot> snap = shared_ ? shared_->current() : nullptr;
    if (snap && !m.dsn)
      for (const Tenant& t : snap->tenants())
        if (t.name == m.tenant) {
          d->meta.route_ip = t.route_ip;
          d->meta.route_port = t.route_port;
          d->meta.tls = t.route_tls;
          d->tls_name = t.route_tls_name;
        }
    rte_ring* ring = targets_[next_target_++ % targets_.size()];
    if (rte_ring_mp_enqueue(ring, d) != 0) {
      delete d;
      return;  // the lcores are busy: the rest waits for the next pass
    }
    in_flight_[id] = now;
    st_.spool_attempts.fetch_add(1, std::memory_order_relaxed);
  }
}

void IoWorker::commit(IoReq** reqs, unsigned n) {
  bool any_q = false, any_s = false;
  std::string batch;
  const uint64_t now = unix_now();
  for (unsigned i = 0; i < n; ++i) {
    IoReq& r = *reqs[i];
    r.ok = true;
    std::string err;
    if (r.kind == IoKind::kQuarantine) {
      any_q = true;
      r.ok = store_pair(qdir_fd_, r, ".json", err) &&
             durable_file(qdir_fd_, std::to_string(r.id) + ".meta", span(r.envelope), &err);
      if (!r.ok) r.error = "quarantine " + err;
    } else if (r.kind == IoKind::kSpool) {
      any_s = true;
      r.ok = store_pair(sdir_fd_, r, ".meta", err);
      if (!r.ok) r.error = "spool " + err;
    } else if (r.kind == IoKind::kSpoolResult) {
      spool_result(r, now, batch);
    }
  }
  // The renames are durable once the directories are.
  for (auto [any, fd, kind] : {std::tuple{any_q, qdir_fd_, IoKind::kQuarantine}, std::tuple{any_s, sdir_fd_, IoKind::kSpool}}) {
    if (!any || ::fsync(fd) == 0) continue;
    for (unsigned i = 0; i < n; ++i)
      if (reqs[i]->kind == kind) {
        reqs[i]->ok = false;
        reqs[i]->error = std::string("directory fsync: ") + std::strerror(errno);
      }
  }
  // Recipients refused after others were accepted: their DSN, durable before the sender's 250.
  for (unsigned i = 0; i < n; ++i)
    if (reqs[i]->ok && !reqs[i]->bounce_rcpts.empty() &&
        !bounce(reqs[i]->bounce_meta, reqs[i]->bounce_rcpts, now, batch, reqs[i]->message)) {
      reqs[i]->ok = false;
      reqs[i]->error = "the DSN for refused recipients could not be stored";
    }
  // Spooled entries join the runner's index (due after the first backoff step).
  for (unsigned i = 0; i < n; ++i)
    if (reqs[i]->kind == IoKind::kSpool && reqs[i]->ok) {
      auto m = parse_spool_meta(reqs[i]->meta);
      if (m) entries_[m->id] = std::move(*m);
      st_.spooled.fetch_add(1, std::memory_order_relaxed);
    }
  spool_count_.store(entries_.size());
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
    else if (r->kind == IoKind::kQuarantine) st_.quarantined.fetch_add(1, std::memory_order_relaxed);
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
  uint64_t last_spool = 0, last_scan = unix_now();
  for (;;) {
    const unsigned n = rte_ring_sc_dequeue_burst(ring_, in, kIoBatch, nullptr);
    if (n) commit(reinterpret_cast<IoReq**>(in), n);
    const uint64_t now = unix_now();
    if (now != last_spool && !stop_.load()) {
      last_spool = now;
      if (now - last_scan >= kSpoolRescanS) {
        last_scan = now;
        load_spool();
      }
      run_spool(now);
    }
    if (n) continue;
    if (stop_.load()) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace mx::dp
