// scan/av_engine.cc — libclamav engine: load, limits, scan from memory, verdict classes.
#include "scan/av_engine.h"

#include <clamav.h>

#include <filesystem>
#include <mutex>
#include <system_error>

namespace mx::scan {
namespace {

// Heuristic name families (libclamav 1.4: libclamav/scanners.c, others.c). Prefix match, so
// every container type (Zip, RAR, 7Zip, PDF, Doc) and every bound (MaxFileSize, MaxScanSize,
// MaxRecursion, MaxFiles, MaxScanTime, ...) is covered.
constexpr std::string_view kEncryptedPrefix = "Heuristics.Encrypted.";
constexpr std::string_view kLimitsPrefix = "Heuristics.Limits.Exceeded";

// Formats unpacked and heuristics reported. Not enabled: CL_SCAN_HEURISTIC_MACROS and
// CL_SCAN_HEURISTIC_BROKEN (policy decisions with false positives, not malware), the phishing
// heuristics (phishing is scan/'s rule layer), images.
constexpr uint32_t kParseOptions = CL_SCAN_PARSE_ARCHIVE | CL_SCAN_PARSE_ELF | CL_SCAN_PARSE_PDF |
                                   CL_SCAN_PARSE_XMLDOCS | CL_SCAN_PARSE_MAIL |
                                   CL_SCAN_PARSE_OLE2 | CL_SCAN_PARSE_HTML | CL_SCAN_PARSE_PE |
                                   CL_SCAN_PARSE_ONENOTE;
constexpr uint32_t kHeuristicOptions = CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
                                       CL_SCAN_HEURISTIC_ENCRYPTED_DOC |
                                       CL_SCAN_HEURISTIC_EXCEEDS_MAX;

cl_error_t init_once() {
  static std::once_flag once;
  static cl_error_t result = CL_SUCCESS;
  std::call_once(once, [] { result = cl_init(CL_INIT_DEFAULT); });
  return result;
}

std::string clamav_reason(cl_error_t rc) {
  const char* s = cl_strerror(rc);
  return s != nullptr ? std::string(s) : std::string("libclamav error ") + std::to_string(rc);
}

Error load_error(const std::string& dir, const std::string& why) {
  return make_error("av: signature database '" + dir + "': " + why);
}

// Sets the named bounds on a fresh engine; libclamav takes them as long long.
cl_error_t set_limits(cl_engine* engine, const AvLimits& l) {
  struct {
    cl_engine_field field;
    long long value;
  } const settings[] = {
      {CL_ENGINE_MAX_FILESIZE, static_cast<long long>(l.max_file_size)},
      {CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(l.max_scan_size)},
      {CL_ENGINE_MAX_RECURSION, static_cast<long long>(l.max_recursion)},
      {CL_ENGINE_MAX_FILES, static_cast<long long>(l.max_files)},
      {CL_ENGINE_MAX_SCANTIME, static_cast<long long>(l.max_scan_time_ms)},
  };
  for (const auto& s : settings) {
    if (cl_error_t rc = cl_engine_set_num(engine, s.field, s.value); rc != CL_SUCCESS) return rc;
  }
  return CL_SUCCESS;
}

std::string bounded_name(const char* name) {
  if (name == nullptr) return {};
  std::string_view v(name);
  return std::string(v.substr(0, kAvMaxSignatureName));
}

// Precedence among names reported for one object: a real signature over an encrypted
// container over an exceeded bound (a virus found next to a limit is still a virus).
int rank(AvVerdict v) {
  switch (v) {
    case AvVerdict::kInfected: return 3;
    case AvVerdict::kEncrypted: return 2;
    case AvVerdict::kLimitExceeded: return 1;
    default: return 0;
  }
}

// Per-scan context of the virus-found callback. libclamav 1.4 does not always fill *virname
// (a top-level Heuristics.Limits.Exceeded.MaxFileSize comes back as CL_VIRUS with a null name
// unless a callback is set), so every reported name is collected here and the highest-ranked
// one is the result.
struct ScanNames {
  std::string name;
  AvVerdict verdict = AvVerdict::kClean;
  uint64_t max_file_size = 0;

  void offer(const char* virname) {
    if (virname == nullptr || *virname == '\0') return;
    std::string n = bounded_name(virname);
    const AvVerdict v = classify_signature(n);
    if (rank(v) > rank(verdict)) {
      verdict = v;
      name = std::move(n);
    }
  }
};

void on_virus_found(int /*fd*/, const char* virname, void* context) {
  if (context != nullptr) static_cast<ScanNames*>(context)->offer(virname);
}

// libclamav 1.4 does not report an embedded file larger than CL_ENGINE_MAX_FILESIZE: cli_unzip
// (and other extractors) trim it to that size, scan the head and return CL_CLEAN, even with
// CL_SCAN_HEURISTIC_EXCEEDS_MAX. An extracted file of max_file_size bytes or more may have been
// trimmed, so it is reported as an exceeded bound (kEmbeddedTooLarge). Called for every file,
// the outer one included (recursion level 0), whose size libclamav checks itself.
constexpr const char* kEmbeddedTooLarge = "Heuristics.Limits.Exceeded.MaxFileSize.Embedded";

cl_error_t on_file_inspection(int /*fd*/, const char* /*type*/, const char** /*ancestors*/,
                              size_t /*parent_file_size*/, const char* /*file_name*/,
                              size_t file_size, const char* /*file_buffer*/,
                              uint32_t recursion_level, uint32_t /*layer_attributes*/,
                              void* context) {
  auto* names = static_cast<ScanNames*>(context);
  if (names != nullptr && recursion_level > 0 && names->max_file_size > 0 &&
      file_size >= names->max_file_size) {
    names->offer(kEmbeddedTooLarge);
  }
  return CL_CLEAN;
}

}  // namespace

const char* av_verdict_name(AvVerdict v) {
  switch (v) {
    case AvVerdict::kClean: return "clean";
    case AvVerdict::kInfected: return "infected";
    case AvVerdict::kEncrypted: return "encrypted";
    case AvVerdict::kLimitExceeded: return "limit-exceeded";
    case AvVerdict::kError: return "error";
  }
  return "error";
}

AvVerdict classify_signature(std::string_view name) {
  if (name.starts_with(kEncryptedPrefix)) return AvVerdict::kEncrypted;
  if (name.starts_with(kLimitsPrefix)) return AvVerdict::kLimitExceeded;
  return AvVerdict::kInfected;
}

Expected<std::unique_ptr<AvEngine>> AvEngine::load(const AvConfig& config) {
  const std::string& dir = config.database_dir;
  std::error_code ec;
  if (dir.empty()) return load_error(dir, "no directory configured");
  if (!std::filesystem::is_directory(dir, ec)) return load_error(dir, "not a directory");
  if (std::filesystem::is_empty(dir, ec) || ec) return load_error(dir, "empty directory");

  if (cl_error_t rc = init_once(); rc != CL_SUCCESS) {
    return load_error(dir, "cl_init: " + clamav_reason(rc));
  }
  cl_engine* engine = cl_engine_new();
  if (engine == nullptr) return load_error(dir, "cl_engine_new failed");
  std::unique_ptr<cl_engine, decltype(&cl_engine_free)> guard(engine, &cl_engine_free);

  if (cl_error_t rc = set_limits(engine, config.limits); rc != CL_SUCCESS) {
    return load_error(dir, "cl_engine_set_num: " + clamav_reason(rc));
  }
  cl_engine_set_clcb_virus_found(engine, &on_virus_found);
  cl_engine_set_clcb_file_inspection(engine, &on_file_inspection);
  unsigned signatures = 0;
  if (cl_error_t rc = cl_load(dir.c_str(), engine, &signatures, CL_DB_STDOPT); rc != CL_SUCCESS) {
    return load_error(dir, "cl_load: " + clamav_reason(rc));
  }
  if (signatures == 0) return load_error(dir, "no signatures loaded");
  if (cl_error_t rc = cl_engine_compile(engine); rc != CL_SUCCESS) {
    return load_error(dir, "cl_engine_compile: " + clamav_reason(rc));
  }
  return std::unique_ptr<AvEngine>(new AvEngine(guard.release(), signatures, config.limits));
}

AvEngine::~AvEngine() { cl_engine_free(engine_); }

AvResult AvEngine::scan(ByteSpan data) const {
  AvResult r;
  // libclamav refuses an empty map; an empty object has nothing to match.
  if (data.empty()) {
    r.verdict = AvVerdict::kClean;
    return r;
  }
  cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
  if (map == nullptr) {
    r.name = "cl_fmap_open_memory failed";
    return r;
  }
  cl_scan_options options{};
  options.general = CL_SCAN_GENERAL_HEURISTICS;
  options.parse = kParseOptions;
  options.heuristic = kHeuristicOptions;
  const char* virname = nullptr;
  unsigned long scanned = 0;  // NOLINT(google-runtime-int): libclamav's type
  ScanNames names;
  names.max_file_size = limits_.max_file_size;
  cl_error_t rc = cl_scanmap_callback(map, nullptr, &virname, &scanned, engine_, &options, &names);
  cl_fmap_close(map);
  r.scanned_bytes = scanned;
  switch (rc) {
    case CL_CLEAN:  // clean unless the inspection callback saw a trimmed embedded file
      r.verdict = names.verdict;
      r.name = std::move(names.name);
      break;
    case CL_VIRUS:
      names.offer(virname);
      if (names.verdict == AvVerdict::kClean) {  // a detection without any name: never clean
        r.verdict = AvVerdict::kInfected;
        r.name = "(unnamed detection)";
      } else {
        r.verdict = names.verdict;
        r.name = std::move(names.name);
      }
      break;
    case CL_ETIMEOUT:
    case CL_EMAXREC:
    case CL_EMAXSIZE:
    case CL_EMAXFILES:
      r.verdict = AvVerdict::kLimitExceeded;
      r.name = clamav_reason(rc);
      break;
    default:
      r.verdict = AvVerdict::kError;
      r.name = clamav_reason(rc);
      break;
  }
  return r;
}

}  // namespace mx::scan
