// bench/bench_smtp.cc — the SMTP server engine per core, against baselines over the same bytes
// in the same run:
//   BM_Baseline_Memcpy     copying the DATA bytes (the goal: the scanner at >= half this speed)
//   BM_Baseline_Memchr     finding every LF in them (the minimum any line-aware parser does)
//   BM_DataScanner         end-of-data search, dot-unstuffing, bare CR/LF/NUL and line checks
//   BM_Transaction         a whole in-memory session: EHLO, MAIL, RCPT, 4 KB DATA, QUIT
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>

#include "smtp/data_scanner.h"
#include "smtp/server.h"

namespace {

// A realistic body: 76-character text lines (base64-like), some starting with a dot, CRLF.
std::string make_body(size_t bytes) {
  std::mt19937 rng(42);
  const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  while (s.size() < bytes) {
    std::string line;
    if (rng() % 50 == 0) line += "..";  // stuffed leading dot
    while (line.size() < 76) line += b64[rng() % 64];
    s += line + "\r\n";
  }
  return s;
}

const std::string& body() {
  static const std::string b = make_body(1 << 20) + ".\r\n";
  return b;
}

void BM_Baseline_Memcpy(benchmark::State& st) {
  const std::string& b = body();
  std::string dst(b.size(), 0);
  for (auto _ : st) {
    std::memcpy(dst.data(), b.data(), b.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * b.size()));
}
BENCHMARK(BM_Baseline_Memcpy);

void BM_Baseline_Memchr(benchmark::State& st) {
  const std::string& b = body();
  for (auto _ : st) {
    size_t lines = 0;
    const char* p = b.data();
    const char* end = p + b.size();
    while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)))) != nullptr) {
      ++lines;
      ++p;
    }
    benchmark::DoNotOptimize(lines);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * b.size()));
}
BENCHMARK(BM_Baseline_Memchr);

void BM_DataScanner(benchmark::State& st) {
  const std::string& b = body();
  mx::smtp::DataScanner s(1ull << 30, mx::smtp::BareNewlines::kReject);
  uint64_t out = 0;
  for (auto _ : st) {
    s.begin(true);
    s.scan(mx::ByteSpan(reinterpret_cast<const uint8_t*>(b.data()), b.size()),
           [&](mx::ByteSpan x) { out += x.size(); });
    if (!s.done() || s.flags().any()) st.SkipWithError("scanner did not end cleanly");
  }
  benchmark::DoNotOptimize(out);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * b.size()));
}
BENCHMARK(BM_DataScanner);

class CountingHandler final : public mx::smtp::ServerHandler {
 public:
  void on_data(mx::ByteSpan b) override { bytes += b.size(); }
  uint64_t bytes = 0;
};

void BM_Transaction(benchmark::State& st) {
  const std::string msg = "Subject: bench\r\n\r\n" + make_body(4096) + ".\r\n";
  mx::smtp::ServerConfig cfg{"mx.bench"};
  CountingHandler h;
  uint64_t ok = 0;
  auto feed = [](mx::smtp::ServerSession& s, const std::string& x) {
    s.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(x.data()), x.size()), mx::Tick{2});
    s.consume_output(s.output().size());
  };
  for (auto _ : st) {
    mx::smtp::ServerSession s(cfg, h);
    s.start(mx::Tick{1});
    s.consume_output(s.output().size());
    // One command per feed, as a non-pipelining client sends them.
    feed(s, "EHLO client.example.net\r\n");
    feed(s, "MAIL FROM:<a@example.net>\r\n");
    feed(s, "RCPT TO:<b@example.test>\r\n");
    feed(s, "DATA\r\n");
    s.feed(mx::ByteSpan(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()), mx::Tick{3});
    ok += s.output().find("250 2.0.0") != std::string_view::npos;
    s.consume_output(s.output().size());
    feed(s, "QUIT\r\n");
  }
  if (ok != static_cast<uint64_t>(st.iterations())) st.SkipWithError("a transaction was not accepted");
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Transaction);

}  // namespace

BENCHMARK_MAIN();
