// bench/scan_corpus.cc — bench_scan: the scan pipeline over a directory tree of messages (the
// SpamAssassin public corpus fetched by scripts/fetch-corpus), per core.
//
//   bench_scan --mode MODE [--dir DIR] [--messages N] [--interleave] [--repeat R] [--cpu C] [--max-seconds S]
//              [--sa-dirs D1:D2] [--rules-blob FILE] [--av-db DIR]
//   MODE:
//     summary  parse every message once with the MIME parser and print the structure counts
//              (parts by kind, flags, URLs, uu blocks, bounds hit), checking that every bound the
//              parser enforces is reported by its flag (exit 1 otherwise) — the corpus test.
//     mime     MIME parsing and decoding alone (a sink that touches every decoded byte).
//     decode   the decoders alone on 64 MiB of random bytes encoded as base64 (76-column CRLF
//              lines, as MIME writes them) and as quoted-printable: input GB per CPU-second of
//              the scalar and AVX2 base64 decoders and of the QP decoder (no corpus needed).
//     rules    MIME plus the SpamAssassin rules (Debian's by default) compiled to Hyperscan,
//              through MessageScanner (no AV).
//     full     MessageScanner plus libclamav on every AV object (the engine loaded from --av-db,
//              by default a database of EICAR signatures written with sigtool) plus policy.
// The first N messages in path order, or with --interleave by file name then path (the corpus's
// groups alternate: spam and ham mixed; bench/peers/run.sh --interleave picks the same files).
// Messages are read into memory first (each file's leading mbox "From " line dropped); then the pass over them is timed with the thread's
// CPU clock (CLOCK_THREAD_CPUTIME_ID) and the wall clock, --repeat times over the set, bounded by
// --max-seconds. Prints one JSON line: mode, messages, bytes, cpu_s, wall_s, msgs_per_cpu_s,
// mb_per_cpu_s, and the mode's counts (spam/malware verdicts, rule hits).
// Rules: --rules-blob FILE is loaded if it exists, else the rules are compiled from --sa-dirs
// (default /usr/share/spamassassin:/etc/spamassassin) and written there (compiling takes ~20 s).
// --rules-text FILE compiles a rule-language text instead (e.g. a subset, to see what costs).
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "scan/av_engine.h"
#include "scan/base64.h"
#include "scan/qp.h"
#include "scan/mime_parser.h"
#include "scan/pipeline.h"
#include "scan/sa_cf.h"

namespace {

namespace fs = std::filesystem;
using namespace mx::scan;

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mx::ByteSpan bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Counts structure and touches every decoded byte (so decoding cannot be skipped).
struct CountingSink : MimeSink {
  uint64_t parts = 0, leaves = 0, multiparts = 0, messages = 0, max_depth = 0, decoded = 0, text = 0;
  uint64_t urls = 0, uu = 0, filenames = 0, checksum = 0;
  uint64_t seen_parts_this_msg = 0, seen_urls_this_msg = 0, seen_depth_this_msg = 0;
  std::map<std::string, uint64_t> true_types;
  void on_part_begin(const PartInfo& p) override {
    ++parts;
    ++seen_parts_this_msg;
    seen_depth_this_msg = std::max<uint64_t>(seen_depth_this_msg, p.depth);
    max_depth = std::max<uint64_t>(max_depth, p.depth);
    if (p.kind == EntityKind::kLeaf) ++leaves;
    else if (p.kind == EntityKind::kMultipart) ++multiparts;
    else ++messages;
    filenames += p.n_filenames;
  }
  void on_part_data(const PartInfo&, uint32_t, mx::ByteSpan d) override {
    decoded += d.size();
    for (uint8_t b : d) checksum += b;
  }
  void on_part_text(const PartInfo&, uint32_t, std::string_view t) override { text += t.size(); }
  void on_url(const PartInfo&, uint32_t, std::string_view, bool) override {
    ++urls;
    ++seen_urls_this_msg;
  }
  void on_uu_end(const PartInfo&, const UuBlock&) override { ++uu; }
  void on_part_end(const PartInfo& p) override {
    if (p.kind == EntityKind::kLeaf)
      for (uint32_t r = 0; r < p.n_readings; ++r) ++true_types[std::string(true_type_name(p.readings[r].true_type))];
  }
};

struct Args {
  std::string mode = "mime", dir = "var/corpus/sa", sa_dirs = "/usr/share/spamassassin:/etc/spamassassin";
  std::string rules_blob, av_db, rules_text;
  size_t messages = 0;
  bool interleave = false;
  int repeat = 1, cpu = -1;
  double max_seconds = 120;
};

int usage() {
  std::fprintf(stderr,
               "usage: bench_scan --mode summary|mime|decode|rules|full [--dir DIR] [--messages N] [--interleave] [--repeat R]\n"
               "                  [--cpu C] [--max-seconds S] [--sa-dirs D1:D2] [--rules-blob FILE] [--rules-text FILE] [--av-db DIR]\n");
  return 2;
}

std::vector<std::string> load_messages(const Args& a) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(a.dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".eml") paths.push_back(it->path());
  if (a.interleave) {  // by file name, then path: the corpus's groups alternate (as bench/peers)
    std::sort(paths.begin(), paths.end(), [](const fs::path& x, const fs::path& y) {
      const std::string fx = x.filename().string(), fy = y.filename().string();
      return fx != fy ? fx < fy : x.string() < y.string();
    });
  } else {
    std::sort(paths.begin(), paths.end());
  }
  if (a.messages && paths.size() > a.messages) paths.resize(a.messages);
  std::vector<std::string> out;
  out.reserve(paths.size());
  for (const auto& p : paths) {
    out.push_back(read_file(p));
    // The corpus files are mbox entries: their first line ("From sender date") is the mbox
    // separator, not part of the message as SMTP delivers it.
    std::string& m = out.back();
    if (m.starts_with("From ")) m.erase(0, std::min(m.size(), m.find('\n') + 1));
  }
  return out;
}

mx::Expected<HsRules> load_rules(const Args& a) {
  if (!a.rules_text.empty()) return HsRules::compile(read_file(a.rules_text));
  if (!a.rules_blob.empty() && fs::exists(a.rules_blob)) {
    std::string blob = read_file(a.rules_blob);
    return HsRules::deserialize(bytes(blob));
  }
  std::vector<std::string> dirs;
  std::stringstream ss(a.sa_dirs);
  for (std::string d; std::getline(ss, d, ':');) dirs.push_back(d);
  auto files = read_sa_dirs(dirs);
  if (!files) return files.error();
  auto c = compile_sa_cf(*files);
  if (!c) return c.error();
  std::fprintf(stderr, "# compiled %zu SpamAssassin rules (%zu unsupported)\n", c->translation.rules_translated,
               c->translation.unsupported.size());
  if (!a.rules_blob.empty()) {
    auto blob = c->rules.serialize();
    if (blob) {
      std::ofstream out(a.rules_blob, std::ios::binary);
      out << *blob;
    }
  }
  return std::move(c->rules);
}

// Writes an EICAR database with sigtool into a fresh directory (as the tests do).
std::string make_av_db() {
  char tmpl[] = "/tmp/mx-bench-av-XXXXXX";
  if (!mkdtemp(tmpl)) return "";
  std::string dir = tmpl;
  const std::string eicar = std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  { std::ofstream(dir + "/eicar.com", std::ios::binary) << eicar; }
  std::string cmd = "cd " + dir + " && sigtool --md5 eicar.com | sed 's/:eicar.com$/:Mx.Bench.Eicar/' > test.hdb && rm eicar.com";
  if (std::system(cmd.c_str()) != 0) return "";
  std::string hex;
  for (unsigned char c : std::string("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  { std::ofstream(dir + "/test.ndb") << "Mx.Bench.Eicar.Body:0:*:" << hex << "\n"; }
  return dir;
}

int decode_bench(const Args& a) {
  constexpr size_t kRaw = 48u << 20;  // 64 MiB of base64
  std::string raw(kRaw, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (char& c : raw) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  static constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  b64.reserve(kRaw / 3 * 4 + kRaw / 57 * 2 + 8);
  for (size_t i = 0; i + 3 <= raw.size(); i += 3) {
    uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8) | uint8_t(raw[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) b64 += kAlpha[(v >> sh) & 63];
    if ((i / 3 + 1) % 19 == 0) b64 += "\r\n";
  }
  // Quoted-printable of mostly-text bytes (letters with some '=XX' escapes), 76-column lines.
  std::string qp;
  qp.reserve(kRaw + kRaw / 8);
  size_t col = 0;
  for (size_t i = 0; i < kRaw; ++i) {
    uint8_t c = static_cast<uint8_t>(raw[i]);
    std::string piece = (c % 16 == 0) ? std::string("=3D") : std::string(1, static_cast<char>('a' + c % 26));
    if (col + piece.size() > 75) {
      qp += "=\r\n";
      col = 0;
    }
    qp += piece;
    col += piece.size();
  }
  std::vector<uint8_t> out(Base64Decoder::max_output(b64.size()) + QpDecoder::max_output(qp.size()));
  auto run = [&](const char* name, auto&& fn, const std::string& in) {
    double best = 0;
    size_t produced = 0;
    for (int r = 0; r < std::max(3, a.repeat); ++r) {
      const double c0 = thread_cpu();
      produced = fn();
      const double cpu = thread_cpu() - c0;
      best = std::max(best, static_cast<double>(in.size()) / cpu / 1e9);
    }
    std::printf("{\"mode\":\"decode\",\"decoder\":\"%s\",\"input_bytes\":%zu,\"output_bytes\":%zu,"
                "\"gb_per_cpu_s\":%.3f}\n", name, in.size(), produced, best);
  };
  for (Base64Impl impl : {Base64Impl::kScalar, Base64Impl::kAvx2}) {
    if (impl == Base64Impl::kAvx2 && !base64_avx2_available()) continue;
    run(impl == Base64Impl::kScalar ? "base64-scalar" : "base64-avx2", [&] {
      Base64Decoder d(impl);
      size_t n = d.decode(bytes(b64), out.data());
      n += d.finish(out.data() + n);
      if (n != kRaw || std::memcmp(out.data(), raw.data(), kRaw) != 0) {
        std::fprintf(stderr, "bench_scan: base64 decode mismatch\n");
        std::exit(1);
      }
      return n;
    }, b64);
  }
  run("quoted-printable", [&] {
    QpDecoder d;
    d.reset();
    size_t n = d.decode(bytes(qp), out.data());
    return n + d.finish(out.data() + n);
  }, qp);
  return 0;
}

int summary(const Args& a, const std::vector<std::string>& msgs) {
  CountingSink sink;
  MimeParser parser(sink);
  std::array<uint64_t, kMimeFlagCount> flag_counts{};
  uint64_t unreported = 0, bytes_total = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    sink.seen_parts_this_msg = sink.seen_urls_this_msg = sink.seen_depth_this_msg = 0;
    parser.reset();
    parser.feed(bytes(msgs[i]));
    parser.finish();
    bytes_total += msgs[i].size();
    const MessageInfo& m = parser.message();
    for (size_t b = 0; b < kMimeFlagCount; ++b)
      if (m.flags & (1ull << b)) ++flag_counts[b];
    // Every bound the parser enforces must show as its flag when reached.
    bool bad = false;
    if (sink.seen_parts_this_msg >= kMaxParts && !(m.flags & kPartLimit)) bad = true;
    if (sink.seen_depth_this_msg >= kMaxDepth && !(m.flags & kDepthLimit)) bad = true;
    if (sink.seen_urls_this_msg >= kMaxUrls && !(m.flags & kUrlLimit)) bad = true;
    if (m.decoded_size >= kMaxDecodedMessage && !(m.flags & kDecodedLimit)) bad = true;
    if (m.parts != sink.seen_parts_this_msg) bad = true;
    if (bad) {
      ++unreported;
      std::fprintf(stderr, "unreported bound or count mismatch in message %zu\n", i);
    }
  }
  (void)a;
  std::printf("{\"mode\":\"summary\",\"messages\":%zu,\"bytes\":%llu,\"parts\":%llu,\"leaves\":%llu,"
              "\"multiparts\":%llu,\"attached_messages\":%llu,\"max_depth\":%llu,\"decoded_bytes\":%llu,"
              "\"text_bytes\":%llu,\"urls\":%llu,\"uu_blocks\":%llu,\"filenames\":%llu,\"unreported_bounds\":%llu,"
              "\"flags\":{",
              msgs.size(), (unsigned long long)bytes_total, (unsigned long long)sink.parts,
              (unsigned long long)sink.leaves, (unsigned long long)sink.multiparts,
              (unsigned long long)sink.messages, (unsigned long long)sink.max_depth,
              (unsigned long long)sink.decoded, (unsigned long long)sink.text, (unsigned long long)sink.urls,
              (unsigned long long)sink.uu, (unsigned long long)sink.filenames, (unsigned long long)unreported);
  bool first = true;
  for (size_t b = 0; b < kMimeFlagCount; ++b) {
    if (!flag_counts[b]) continue;
    std::printf("%s\"%.*s\":%llu", first ? "" : ",", static_cast<int>(mime_flag_name(b).size()),
                mime_flag_name(b).data(), (unsigned long long)flag_counts[b]);
    first = false;
  }
  std::printf("},\"true_types\":{");
  first = true;
  for (const auto& [t, n] : sink.true_types) {
    std::printf("%s\"%s\":%llu", first ? "" : ",", t.c_str(), (unsigned long long)n);
    first = false;
  }
  std::printf("}}\n");
  return unreported == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--interleave") {
      a.interleave = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (k == "--mode") a.mode = v;
    else if (k == "--dir") a.dir = v;
    else if (k == "--messages") a.messages = std::stoul(v);
    else if (k == "--repeat") a.repeat = std::max(1, std::stoi(v));
    else if (k == "--cpu") a.cpu = std::stoi(v);
    else if (k == "--max-seconds") a.max_seconds = std::stod(v);
    else if (k == "--sa-dirs") a.sa_dirs = v;
    else if (k == "--rules-blob") a.rules_blob = v;
    else if (k == "--av-db") a.av_db = v;
    else if (k == "--rules-text") a.rules_text = v;
    else return usage();
  }
  if (a.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a.cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) std::fprintf(stderr, "# could not pin to cpu %d\n", a.cpu);
  }
  if (a.mode == "decode") return decode_bench(a);
  std::vector<std::string> msgs = load_messages(a);
  if (msgs.empty()) {
    std::fprintf(stderr, "bench_scan: no .eml files under %s (run scripts/fetch-corpus)\n", a.dir.c_str());
    return 1;
  }
  if (a.mode == "summary") return summary(a, msgs);

  std::unique_ptr<HsRules> rules;
  std::unique_ptr<HsScratch> scratch;
  std::unique_ptr<MessageScanner> scanner;
  std::unique_ptr<AvEngine> engine;
  std::string av_dir;
  if (a.mode == "rules" || a.mode == "full") {
    auto r = load_rules(a);
    if (!r) {
      std::fprintf(stderr, "bench_scan: rules: %s\n", r.error().message.c_str());
      return 1;
    }
    rules = std::make_unique<HsRules>(std::move(*r));
    auto s = rules->make_scratch();
    if (!s) return 1;
    scratch = std::make_unique<HsScratch>(std::move(*s));
    auto sc = MessageScanner::create(*rules, *scratch);
    if (!sc) return 1;
    scanner = std::move(*sc);
  } else if (a.mode != "mime") {
    return usage();
  }
  if (a.mode == "full") {
    av_dir = a.av_db.empty() ? make_av_db() : a.av_db;
    auto e = AvEngine::load(AvConfig{av_dir, AvLimits{}});
    if (!e) {
      std::fprintf(stderr, "bench_scan: AV: %s\n", e.error().message.c_str());
      return 1;
    }
    engine = std::move(*e);
  }

  CountingSink sink;
  MimeParser parser(sink);
  uint64_t n = 0, total_bytes = 0, spam = 0, malware = 0, hits = 0, av_objects = 0;
  std::map<std::string, uint64_t> classes;
  const double c0 = thread_cpu(), w0 = wall();
  for (int rep = 0; rep < a.repeat; ++rep) {
    for (const std::string& m : msgs) {
      if (wall() - w0 > a.max_seconds) break;
      if (a.mode == "mime") {
        parser.reset();
        parser.feed(bytes(m));
        parser.finish();
      } else {
        Envelope env;
        scanner->begin(env);
        scanner->feed(bytes(m));
        const ScanOutcome& o = scanner->finish();
        hits += o.hits.size();
        std::vector<AvResult> av;
        if (engine) {
          av = scan_av_objects(*engine, o);
          av_objects += av.size();
        } else {
          av.assign(o.av_objects.size(), AvResult{AvVerdict::kClean, "", 0});
        }
        Verdict v = decide_verdict(o, av, env, TenantPolicy{}, UserPrefs{});
        ++classes[std::string(verdict_class_name(v.cls))];
        spam += v.cls == VerdictClass::kSpam;
        malware += v.cls == VerdictClass::kMalware;
      }
      ++n;
      total_bytes += m.size();
    }
  }
  const double cpu = thread_cpu() - c0, wl = wall() - w0;
  std::printf("{\"mode\":\"%s\",\"messages\":%llu,\"bytes\":%llu,\"cpu_s\":%.3f,\"wall_s\":%.3f,"
              "\"msgs_per_cpu_s\":%.1f,\"mb_per_cpu_s\":%.2f,\"gb_per_cpu_s\":%.3f,\"rule_hits\":%llu,"
              "\"av_objects\":%llu,\"spam\":%llu,\"malware\":%llu,\"decoded_bytes\":%llu,\"classes\":{",
              a.mode.c_str(), (unsigned long long)n, (unsigned long long)total_bytes, cpu, wl,
              static_cast<double>(n) / cpu, static_cast<double>(total_bytes) / cpu / 1e6,
              static_cast<double>(total_bytes) / cpu / 1e9, (unsigned long long)hits,
              (unsigned long long)av_objects, (unsigned long long)spam, (unsigned long long)malware,
              (unsigned long long)sink.decoded);
  bool first = true;
  for (const auto& [c, k] : classes) {
    std::printf("%s\"%s\":%llu", first ? "" : ",", c.c_str(), (unsigned long long)k);
    first = false;
  }
  std::printf("}}\n");
  if (a.av_db.empty() && !av_dir.empty()) fs::remove_all(av_dir);
  return 0;
}
