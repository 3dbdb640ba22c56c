// bench/control_log.cc — mxgate-control's log store: ingest rate of transaction records (what a
// node's batches cost: reading each line's fields, the record's row, its search keys, one
// transaction per batch) against a baseline measured in the same run (the same lines into a
// one-column table, same batches: the floor SQLite sets), and search latency by sender,
// recipient, Message-ID and client IP over everything stored.
//
//   build/bench/bench_control_log [--records N] [--batch N] [--queries N] [--db FILE]
//
// Each ingest line also gives the CPU seconds (user + system) it took, steadier than the rate
// when the machine is shared.
//
// Records are synthetic but shaped like the gateway's (docs/gateway.md): 10,000 senders, 100,000
// recipients, 1..3 recipients each, 100 tenants. Progress goes to stderr; the table to stdout.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "control/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// This process's CPU time (user + system), in seconds: on a shared machine the wall-clock rate
// moves with the neighbours' load, the CPU spent per record much less.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

std::string record(uint64_t i, std::mt19937_64& rng) {
  char buf[1024];
  const uint64_t sender = rng() % 10000, tenant = rng() % 100, n_rcpt = 1 + rng() % 3;
  std::string rcpts;
  for (uint64_t k = 0; k < n_rcpt; ++k) {
    if (k) rcpts += ',';
    rcpts += "\"user" + std::to_string(rng() % 100000) + "@tenant" + std::to_string(tenant) + ".test\"";
  }
  const uint64_t sec = 1764756000 + i / 1000;
  std::snprintf(buf, sizeof buf,
                "{\"time\":\"2026-12-03T%02llu:%02llu:%02llu.%03lluZ\",\"event\":\"message\",\"id\":%llu,\"tenant\":\"tenant%llu\","
                "\"client_ip\":\"198.18.%llu.%llu\",\"client_port\":40000,\"helo\":\"mx.sender.test\",\"tls\":null,"
                "\"mail_from\":\"sender%llu@example%llu.test\",\"rcpts\":[%s],\"message_id\":\"<%llu@bench>\","
                "\"subject\":\"message %llu\",\"size\":4096,\"class\":\"clean\",\"score\":\"0.5\",\"rules\":[],\"av\":[],"
                "\"reason\":\"score 0.5\",\"action\":\"deliver\",\"reply\":\"250 2.0.0 Ok\",\"data_ms\":1,\"scan_cpu_us\":300,"
                "\"relay_ms\":2,\"session_ms\":10}",
                static_cast<unsigned long long>((sec / 3600) % 24), static_cast<unsigned long long>((sec / 60) % 60),
                static_cast<unsigned long long>(sec % 60), static_cast<unsigned long long>(i % 1000),
                static_cast<unsigned long long>(i), static_cast<unsigned long long>(tenant),
                static_cast<unsigned long long>(rng() % 256), static_cast<unsigned long long>(rng() % 256),
                static_cast<unsigned long long>(sender), static_cast<unsigned long long>(sender % 500), rcpts.c_str(),
                static_cast<unsigned long long>(i), static_cast<unsigned long long>(i));
  return buf;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 200000, batch = 4000, queries = 200;  // 4000 records ~ a node's 4 MiB batch
  std::string db = "/tmp/mx_bench_control_log.db";
  for (int i = 1; i < argc; i += 2) {
    const std::string a = i + 1 < argc ? argv[i] : "";  // a flag without its value (--help): usage
    if (a == "--records") records = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--batch") batch = std::max<uint64_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
    else if (a == "--queries") queries = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--db") db = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: bench_control_log [--records N] [--batch N] [--queries N] [--db FILE]\n");
      return 2;
    }
  }
  for (const char* s : {"", "-wal", "-shm"}) ::unlink((db + s).c_str());
  const std::string base_db = db + ".baseline";
  for (const char* s : {"", "-wal", "-shm"}) ::unlink((base_db + s).c_str());

  // The batches, made once (not timed), as a node would send them.
  std::mt19937_64 rng(42);
  std::vector<std::string> batches;
  std::string cur;
  std::vector<std::string> senders, rcpts, msgids, ips;
  for (uint64_t i = 0; i < records; ++i) {
    std::string r = record(i, rng);
    if (queries && i % (records / queries + 1) == 0) {
      auto field = [&](const char* key) {
        const std::string k = std::string("\"") + key + "\":\"";
        const size_t a = r.find(k) + k.size();
        return r.substr(a, r.find('"', a) - a);
      };
      senders.push_back(field("mail_from"));
      msgids.push_back(field("message_id"));
      ips.push_back(field("client_ip"));
      const size_t a = r.find("\"rcpts\":[\"") + 10;
      rcpts.push_back(r.substr(a, r.find('"', a) - a));
    }
    cur += r;
    cur += '\n';
    if ((i + 1) % batch == 0 || i + 1 == records) {
      batches.push_back(std::move(cur));
      cur.clear();
    }
  }

  // Baseline: the same batches, each line as one row of a one-column table, one transaction each.
  sqlite3* b = nullptr;
  sqlite3_open(base_db.c_str(), &b);
  sqlite3_exec(b, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE l (line TEXT NOT NULL);", nullptr,
               nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(b, "INSERT INTO l (line) VALUES (?);", -1, &ins, nullptr);
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  for (const std::string& bt : batches) {
    sqlite3_exec(b, "BEGIN;", nullptr, nullptr, nullptr);
    size_t pos = 0;
    while (pos < bt.size()) {
      const size_t eol = bt.find('\n', pos);
      sqlite3_reset(ins);
      sqlite3_bind_text(ins, 1, bt.data() + pos, static_cast<int>(eol - pos), SQLITE_STATIC);
      sqlite3_step(ins);
      pos = eol + 1;
    }
    sqlite3_exec(b, "COMMIT;", nullptr, nullptr, nullptr);
  }
  const double base_s = seconds_since(t0), base_cpu = cpu_seconds() - c0;
  sqlite3_finalize(ins);
  sqlite3_close(b);
  std::fprintf(stderr, "baseline: %llu records in %.2f s\n", static_cast<unsigned long long>(records), base_s);

  auto store = mx::control::Store::open(db);
  if (!store) {
    std::fprintf(stderr, "bench_control_log: %s\n", store.error().message.c_str());
    return 1;
  }
  t0 = Clock::now();
  c0 = cpu_seconds();
  uint64_t seq = 0, done = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    auto added = (*store)->add_log_batch("bench-node", seq, batches[i]);
    if (!added) {
      std::fprintf(stderr, "bench_control_log: %s\n", added.error().message.c_str());
      return 1;
    }
    seq += batches[i].size();
    done += *added;
    if (i % 50 == 49) std::fprintf(stderr, "ingest: %llu / %llu\n", static_cast<unsigned long long>(done),
                                   static_cast<unsigned long long>(records));
  }
  const double store_s = seconds_since(t0), store_cpu = cpu_seconds() - c0;

  struct Q {
    const char* name;
    std::vector<std::string>* values;
    std::string mx::control::LogQuery::*field;
  } qs[] = {{"sender", &senders, &mx::control::LogQuery::sender},
            {"recipient", &rcpts, &mx::control::LogQuery::rcpt},
            {"message-id", &msgids, &mx::control::LogQuery::message_id},
            {"client ip", &ips, &mx::control::LogQuery::client_ip}};
  std::printf("bench_control_log: %llu records, batches of %llu, SQLite %s (WAL, synchronous=FULL)\n\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(batch), sqlite3_libversion());
  std::printf("%-44s %12s %14s %10s\n", "ingest", "seconds", "records/s", "CPU s");
  std::printf("%-44s %12.2f %14.0f %10.2f\n", "baseline: lines into a one-column table", base_s,
              static_cast<double>(records) / base_s, base_cpu);
  std::printf("%-44s %12.2f %14.0f %10.2f\n", "mxgate-control store (parse, index, rcpts)", store_s,
              static_cast<double>(done) / store_s, store_cpu);
  std::printf("\n%-12s %8s %10s %10s %10s %10s\n", "search by", "queries", "p50 ms", "p99 ms", "max ms", "rows p50");
  for (const Q& q : qs) {
    std::vector<double> ms, rows;
    for (const std::string& v : *q.values) {
      mx::control::LogQuery lq;
      lq.*(q.field) = v;
      lq.limit = 100;
      const auto t = Clock::now();
      const auto r = (*store)->search_log(lq);
      ms.push_back(seconds_since(t) * 1000);
      rows.push_back(static_cast<double>(r.size()));
    }
    std::printf("%-12s %8zu %10.3f %10.3f %10.3f %10.0f\n", q.name, ms.size(), percentile(ms, 0.5),
                percentile(ms, 0.99), percentile(ms, 1.0), percentile(rows, 0.5));
  }

  // Retention: half the tenants keep records 1 day, a week later; control's purge removes them in
  // steps of 20,000 records looked at (mxgate-control's kLogPurgeStep). Baseline: deleting the
  // same share of rows from the one-column table in one statement.
  {
    sqlite3_open(base_db.c_str(), &b);
    t0 = Clock::now();
    sqlite3_exec(b, "DELETE FROM l WHERE rowid % 2 = 0;", nullptr, nullptr, nullptr);
    const double del_base_s = seconds_since(t0);
    const auto del_base_n = static_cast<unsigned long long>(sqlite3_changes(b));
    sqlite3_close(b);
    mx::control::LogRetention keep;
    for (int t = 0; t < 100; t += 2) keep.tenant_days["tenant" + std::to_string(t)] = 1;
    const int64_t week_later = (1796256000LL + 8 * 86400) * 1000;  // records are of 2026-12-03
    mx::control::LogPurgeCursor cursor;
    uint64_t removed = 0, steps = 0;
    std::vector<double> step_ms;
    t0 = Clock::now();
    c0 = cpu_seconds();
    do {
      const auto ts = Clock::now();
      auto n = (*store)->purge_log(keep, week_later, 20000, cursor);
      if (!n) {
        std::fprintf(stderr, "bench_control_log: %s\n", n.error().message.c_str());
        return 1;
      }
      removed += *n;
      ++steps;
      step_ms.push_back(seconds_since(ts) * 1000);
      if (steps % 25 == 0) std::fprintf(stderr, "purge: %llu removed\n", static_cast<unsigned long long>(removed));
    } while (cursor.more);
    const double purge_s = seconds_since(t0), purge_cpu = cpu_seconds() - c0;
    std::printf("\n%-45s %8s %12s %10s\n", "retention purge", "seconds", "records/s", "CPU s");
    std::printf("%-45s %8.2f %12.0f %10s\n", "baseline: one DELETE of half the rows", del_base_s,
                static_cast<double>(del_base_n) / del_base_s, "-");
    std::printf("%-45s %8.2f %12.0f %10.2f\n", "mxgate-control purge (half the tenants)", purge_s,
                static_cast<double>(removed) / purge_s, purge_cpu);
    std::printf("purge: %llu of %llu records removed in %llu steps (ms a step: p50 %.0f, p99 %.0f, max %.0f); %llu left\n",
                static_cast<unsigned long long>(removed), static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(steps), percentile(step_ms, 0.5), percentile(step_ms, 0.99),
                percentile(step_ms, 1.0),
                static_cast<unsigned long long>((*store)->log_count()));
  }
  for (const char* s : {"", "-wal", "-shm"}) {
    ::unlink((db + s).c_str());
    ::unlink((base_db + s).c_str());
  }
  return 0;
}
