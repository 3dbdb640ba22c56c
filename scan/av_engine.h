// scan/av_engine.h — one libclamav engine, loaded from a signature database directory, that
// scans whole objects (attachments, archives, documents, executables) from memory.
//
// SECURITY: every scanned object is attacker-controlled and libclamav unpacks it (archives,
// OLE2, PDF, PE/ELF, HTML, mail). Each dimension it can grow in has a named bound below (size,
// bytes scanned, recursion, files per container, time), set on the engine with
// cl_engine_set_num. The verdict is never kClean unless libclamav returned CL_CLEAN with no
// heuristic: an exceeded bound is kLimitExceeded (heuristic Heuristics.Limits.Exceeded.* or a
// CL_EMAX*/CL_ETIMEOUT return), an encrypted archive or document is kEncrypted
// (Heuristics.Encrypted.*), any other failure is kError. A real signature match has precedence
// over those heuristics (CL_SCAN_GENERAL_HEURISTIC_PRECEDENCE is off, so libclamav keeps
// scanning after a heuristic and reports it only if no signature matched).
// libclamav 1.4 trims an embedded file larger than max_file_size (cli_unzip) and returns
// CL_CLEAN without a heuristic; a file inspection callback therefore reports any extracted
// file of max_file_size bytes or more as kLimitExceeded, named
// "Heuristics.Limits.Exceeded.MaxFileSize.Embedded".
// Runs on the AV pool threads (scan/av_pool.h), never on a pinned lcore: a scan allocates,
// may write temporary files (libclamav's tmpdir) and takes up to max_scan_time_ms.
// Thread safety: load() is slow-path and single-threaded; scan() is const and may be called
// from many threads at once on one engine (libclamav's compiled engine is read-only).
// STANDARDS: none (libclamav 1.4 API, /usr/include/clamav.h; signature formats in ClamAV's
// "Creating signatures" manual: .hdb, .ndb).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/expected.h"

struct cl_engine;

namespace mx::scan {

// Largest object scanned, and largest file extracted from a container. Matches the MIME
// parser's decoded-part bound (scan/mime_limits.h kMaxDecodedPart): a part the parser delivers
// whole can be scanned whole. Larger: kLimitExceeded (Heuristics.Limits.Exceeded.MaxFileSize).
constexpr uint64_t kAvMaxFileSize = 64ull << 20;
// Total bytes libclamav scans for one object, extracted content included (zip bombs).
constexpr uint64_t kAvMaxScanSize = 256ull << 20;
// Nesting of containers (zip in zip in mail ...).
constexpr uint32_t kAvMaxRecursion = 16;
// Files extracted from one object, all levels together.
constexpr uint32_t kAvMaxFiles = 10000;
// Wall time of one scan, in milliseconds (libclamav checks it between steps).
constexpr uint32_t kAvMaxScanTimeMs = 60000;
// Bytes of a signature name kept in a result (ClamAV names are short; this bounds a hostile db).
constexpr size_t kAvMaxSignatureName = 255;

struct AvLimits {
  uint64_t max_file_size = kAvMaxFileSize;
  uint64_t max_scan_size = kAvMaxScanSize;
  uint32_t max_recursion = kAvMaxRecursion;
  uint32_t max_files = kAvMaxFiles;
  uint32_t max_scan_time_ms = kAvMaxScanTimeMs;
};

struct AvConfig {
  // Directory of signature databases (.cvd/.cld/.hdb/.ndb/...): freshclam's directory in
  // production (e.g. /var/lib/clamav), a directory written by sigtool in tests.
  std::string database_dir;
  AvLimits limits;
};

enum class AvVerdict : uint8_t {
  kClean,          // CL_CLEAN: no signature, no heuristic, every bound respected
  kInfected,       // CL_VIRUS with a signature name (other than the two heuristic families below)
  kEncrypted,      // Heuristics.Encrypted.* — content could not be scanned
  kLimitExceeded,  // Heuristics.Limits.Exceeded.*, CL_EMAXSIZE/EMAXREC/EMAXFILES, CL_ETIMEOUT
  kError,          // any other libclamav error (format, memory, I/O) or no engine
};
const char* av_verdict_name(AvVerdict v);

struct AvResult {
  AvVerdict verdict = AvVerdict::kError;
  // kInfected/kEncrypted/kLimitExceeded: libclamav's signature name (e.g. "Eicar-Test.UNOFFICIAL",
  // "Heuristics.Encrypted.Zip"); kLimitExceeded from a return code and kError: cl_strerror().
  std::string name;
  uint64_t scanned_bytes = 0;  // as libclamav counts them (cl_scanmap_callback's *scanned)
};

// The class of a name libclamav reported with CL_VIRUS.
AvVerdict classify_signature(std::string_view name);

class AvEngine {
 public:
  // cl_init (once per process), cl_engine_new, the limits, cl_load(database_dir, CL_DB_STDOPT),
  // cl_engine_compile. A missing directory, a directory without signatures or a database that
  // does not load is an Error naming the directory and libclamav's reason.
  static Expected<std::unique_ptr<AvEngine>> load(const AvConfig& config);

  ~AvEngine();
  AvEngine(const AvEngine&) = delete;
  AvEngine& operator=(const AvEngine&) = delete;

  // Scans `data` as one whole object (cl_fmap_open_memory + cl_scanmap_callback). Thread-safe.
  AvResult scan(ByteSpan data) const;

  unsigned signature_count() const { return signatures_; }
  const AvLimits& limits() const { return limits_; }

 private:
  AvEngine(cl_engine* engine, unsigned signatures, const AvLimits& limits)
      : engine_(engine), signatures_(signatures), limits_(limits) {}

  cl_engine* engine_;
  unsigned signatures_;
  AvLimits limits_;
};

}  // namespace mx::scan
