// scan/hs_rules.cc — compile, serialise, load and match rule sets with Hyperscan
// (scan/hs_rules.h).
//
// SECURITY: see the header. The blob reader checks every length against the remaining bytes
// before reading; the rule text inside is parsed again with all bounds of scan/rules.h.
// STANDARDS: none.
#include "scan/hs_rules.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace mx::scan {
namespace {

constexpr char kBlobMagic[8] = {'M', 'X', 'R', 'U', 'L', 'E', 'S', '\0'};

std::string class_key(const Rule& r) {
  if (!r.header.empty()) return "h:" + r.header;
  return "t:" + std::string(rule_target_name(r.target));
}

// Regex and literal rules grouped by class key, in key order (deterministic: the compiler and
// the loader agree on the list of databases).
std::map<std::string, std::vector<uint32_t>> group_rules(const RuleSet& set) {
  std::map<std::string, std::vector<uint32_t>> out;
  for (uint32_t i = 0; i < set.rules.size(); ++i) {
    const Rule& r = set.rules[i];
    if (r.op == RuleOp::kRegex || r.op == RuleOp::kContains) out[class_key(r)].push_back(i);
  }
  return out;
}

std::string escape_literal(std::string_view lit) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(lit.size() * 4);
  for (char c : lit) {
    auto b = static_cast<uint8_t>(c);
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Error rule_error(const Rule& r, std::string_view msg) {
  return make_error("line " + std::to_string(r.line) + ": rule '" + r.name + "': " +
                    std::string(msg));
}

unsigned int rule_flags(const Rule& r) {
  unsigned int f = HS_FLAG_SINGLEMATCH;
  if (r.caseless) f |= HS_FLAG_CASELESS;
  if (r.dotall) f |= HS_FLAG_DOTALL;
  if (r.multiline) f |= HS_FLAG_MULTILINE;
  return f;
}

Expected<HsDbPtr> compile_class(const RuleSet& set, const std::vector<uint32_t>& ids, bool stream) {
  std::vector<std::string> patterns;
  std::vector<const char*> exprs;
  std::vector<unsigned int> flags;
  patterns.reserve(ids.size());
  for (uint32_t id : ids) {
    const Rule& r = set.rules[id];
    patterns.push_back(r.op == RuleOp::kContains ? escape_literal(r.pattern) : r.pattern);
    flags.push_back(rule_flags(r));
  }
  for (const std::string& p : patterns) exprs.push_back(p.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                   static_cast<unsigned int>(ids.size()),
                                   stream ? HS_MODE_STREAM : HS_MODE_BLOCK, nullptr, &db, &err);
  if (rc == HS_SUCCESS) return HsDbPtr(db);
  std::string msg = err && err->message ? err->message : "compile failed";
  int expr = err ? err->expression : -1;
  hs_free_compile_error(err);
  if (expr >= 0 && static_cast<size_t>(expr) < ids.size())
    return rule_error(set.rules[ids[static_cast<size_t>(expr)]], "hyperscan: " + msg);
  return make_error("hyperscan: " + msg);
}

void put_be32(std::string& out, uint32_t v) {
  uint8_t b[4];
  store_be32(b, v);
  out.append(reinterpret_cast<const char*>(b), 4);
}

// Bounds-checked reader over the blob.
struct Reader {
  ByteSpan b;
  size_t pos = 0;
  bool take(size_t n, ByteSpan& out) {
    if (n > b.size() - pos) return false;
    out = b.subspan(pos, n);
    pos += n;
    return true;
  }
  bool be32(uint32_t& v) {
    ByteSpan s;
    if (!take(4, s)) return false;
    v = load_be32(s.data());
    return true;
  }
};

std::string_view as_text(ByteSpan s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace

Expected<bool> check_rule_expression(const Rule& r) {
  if (r.op != RuleOp::kRegex && r.op != RuleOp::kContains) return true;
  std::string pat = r.op == RuleOp::kContains ? escape_literal(r.pattern) : r.pattern;
  hs_compile_error_t* err = nullptr;
  auto refused = [&]() -> Error {
    std::string msg = err && err->message ? err->message : "expression refused";
    hs_free_compile_error(err);
    return rule_error(r, "hyperscan: " + msg);
  };
  // The parser's verdict (cheap): unsupported constructs, empty matches.
  hs_expr_info_t* info = nullptr;
  if (hs_expression_info(pat.c_str(), rule_flags(r), &info, &err) != HS_SUCCESS) return refused();
  std::free(info);
  // Only the compiler finds a pattern too large; compiling each alone costs ~10 ms, so only
  // the long ones and those with bounded repeats are compiled here (a miss is still caught by
  // the whole compile, just later).
  const bool risky = pat.size() > 512 || pat.find('{') != std::string::npos;
  if (!risky) return true;
  hs_database_t* db = nullptr;
  const unsigned int mode = rule_target_streamed(r.target) ? HS_MODE_STREAM : HS_MODE_BLOCK;
  if (hs_compile(pat.c_str(), rule_flags(r), mode, nullptr, &db, &err) != HS_SUCCESS) return refused();
  hs_free_database(db);
  return true;
}

bool HsRules::wants_header(std::string_view key) const {
  return header_db_.find(key) != header_db_.end() || header_exists_.find(key) != header_exists_.end();
}

std::vector<std::string> HsRules::header_keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : header_db_) out.push_back(k);
  for (const auto& [k, v] : header_exists_) out.push_back(k);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Expected<bool> HsRules::index() {
  target_db_.fill(-1);
  header_exists_.clear();
  negated_.clear();
  for (uint32_t i = 0; i < set_.rules.size(); ++i) {
    const Rule& r = set_.rules[i];
    if (r.op == RuleOp::kExists) header_exists_[r.header].push_back(i);
    if (r.negate) negated_.push_back(i);
  }
  for (uint32_t i = 0; i < dbs_.size(); ++i) {
    const std::string& k = dbs_[i].key;
    if (k.starts_with("h:")) {
      header_db_.emplace(k.substr(2), i);
      continue;
    }
    for (size_t t = 0; t < kRuleTargetCount; ++t)
      if (k.substr(2) == rule_target_name(static_cast<RuleTarget>(t)))
        target_db_[t] = static_cast<int32_t>(i);
  }
  return true;
}

Expected<HsRules> HsRules::compile(std::string_view text) {
  auto set = parse_rules(text);
  if (!set) return set.error();
  HsRules out;
  out.source_.assign(text);
  out.set_ = std::move(*set);
  for (const auto& [key, ids] : group_rules(out.set_)) {
    bool stream = rule_target_streamed(out.set_.rules[ids[0]].target);
    auto db = compile_class(out.set_, ids, stream);
    if (!db) return db.error();
    out.dbs_.push_back(Db{key, stream, std::move(*db)});
  }
  if (out.dbs_.size() > kMaxRuleDatabases)
    return make_error("more than " + std::to_string(kMaxRuleDatabases) + " rule databases");
  if (auto r = out.index(); !r) return r.error();
  return out;
}

// Blob: magic[8] | be32 version | be32 text length | text | be32 db count |
//       per db: be32 key length | key | be32 stream (0/1) | be32 size | hs_serialize_database bytes
Expected<std::string> HsRules::serialize() const {
  std::string out(kBlobMagic, sizeof kBlobMagic);
  put_be32(out, kRulesBlobVersion);
  put_be32(out, static_cast<uint32_t>(source_.size()));
  out += source_;
  put_be32(out, static_cast<uint32_t>(dbs_.size()));
  for (const Db& d : dbs_) {
    char* bytes = nullptr;
    size_t len = 0;
    if (hs_serialize_database(d.db.get(), &bytes, &len) != HS_SUCCESS)
      return make_error("hs_serialize_database failed for " + d.key);
    put_be32(out, static_cast<uint32_t>(d.key.size()));
    out += d.key;
    put_be32(out, d.stream ? 1 : 0);
    put_be32(out, static_cast<uint32_t>(len));
    out.append(bytes, len);
    free(bytes);  // NOLINT: allocated by Hyperscan's default allocator (malloc)
  }
  return out;
}

Expected<HsRules> HsRules::deserialize(ByteSpan blob) {
  Reader rd{blob};
  ByteSpan magic, text;
  uint32_t version = 0, text_len = 0, count = 0;
  if (!rd.take(sizeof kBlobMagic, magic) || std::memcmp(magic.data(), kBlobMagic, 8) != 0)
    return make_error("rules blob: bad magic");
  if (!rd.be32(version) || version != kRulesBlobVersion)
    return make_error("rules blob: unsupported version " + std::to_string(version));
  if (!rd.be32(text_len) || !rd.take(text_len, text)) return make_error("rules blob: truncated text");
  auto set = parse_rules(as_text(text));
  if (!set) return make_error("rules blob: " + set.error().message);
  auto groups = group_rules(*set);
  if (!rd.be32(count) || count != groups.size())
    return make_error("rules blob: database count does not match the rules");
  HsRules out;
  out.source_.assign(as_text(text));
  out.set_ = std::move(*set);
  auto g = groups.begin();
  for (uint32_t i = 0; i < count; ++i, ++g) {
    uint32_t key_len = 0, stream = 0, size = 0;
    ByteSpan key, bytes;
    if (!rd.be32(key_len) || !rd.take(key_len, key) || !rd.be32(stream) || stream > 1 ||
        !rd.be32(size) || !rd.take(size, bytes))
      return make_error("rules blob: truncated database " + std::to_string(i));
    if (as_text(key) != g->first || (stream == 1) != rule_target_streamed(out.set_.rules[g->second[0]].target))
      return make_error("rules blob: database " + std::to_string(i) + " does not match the rules");
    hs_database_t* db = nullptr;
    if (hs_deserialize_database(reinterpret_cast<const char*>(bytes.data()), bytes.size(), &db) !=
        HS_SUCCESS)
      return make_error("rules blob: hs_deserialize_database failed for " + g->first +
                        " (corrupt, or built for another platform/version)");
    out.dbs_.push_back(Db{g->first, stream == 1, HsDbPtr(db)});
  }
  if (rd.pos != blob.size()) return make_error("rules blob: trailing bytes");
  if (auto r = out.index(); !r) return r.error();
  return out;
}

Expected<HsScratch> HsRules::make_scratch() const {
  HsScratch s;
  hs_scratch_t* raw = nullptr;
  for (const Db& d : dbs_)
    if (hs_alloc_scratch(d.db.get(), &raw) != HS_SUCCESS) {
      hs_free_scratch(raw);
      return make_error("hs_alloc_scratch failed for " + d.key);
    }
  s.p_.reset(raw);
  return s;
}

Expected<HsScratch> HsScratch::clone() const {
  HsScratch s;
  if (!p_) return s;
  hs_scratch_t* raw = nullptr;
  if (hs_clone_scratch(p_.get(), &raw) != HS_SUCCESS) return make_error("hs_clone_scratch failed");
  s.p_.reset(raw);
  return s;
}

}  // namespace mx::scan
