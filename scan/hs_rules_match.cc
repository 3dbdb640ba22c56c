// scan/hs_rules_match.cc — RuleMatcher: one message's fields and body streams against a loaded
// HsRules (scan/hs_rules.h).
//
// SECURITY: message bytes are untrusted and only reach Hyperscan. No heap allocation after
// create(): streams are opened there and reset (hs_reset_stream) between messages; the hit
// list is reserved for every rule id. Scan errors are counted, never thrown.
// STANDARDS: none.
#include "scan/hs_rules.h"

#include <algorithm>
#include <array>

namespace mx::scan {

Expected<RuleMatcher> RuleMatcher::create(const HsRules& rules, const HsScratch& scratch) {
  RuleMatcher m(rules, scratch.get());
  const size_t n = rules.rules().rules.size();
  m.hit_.assign(n, 0);
  m.result_.hits.reserve(n);
  auto open = [&](RuleTarget t, HsStreamPtr& out) -> Expected<bool> {
    int32_t db = rules.target_db_[static_cast<size_t>(t)];
    if (db < 0) return true;
    hs_stream_t* s = nullptr;
    if (hs_open_stream(rules.dbs_[static_cast<size_t>(db)].db.get(), 0, &s) != HS_SUCCESS)
      return make_error("hs_open_stream failed");
    out.reset(s);
    return true;
  };
  if (auto r = open(RuleTarget::kBody, m.body_); !r) return r.error();
  if (auto r = open(RuleTarget::kRawBody, m.rawbody_); !r) return r.error();
  if (auto r = open(RuleTarget::kFull, m.full_); !r) return r.error();
  if ((m.body_ || m.rawbody_ || m.full_ || rules.database_count() > 0) && !m.scratch_)
    return make_error("rule matcher needs a scratch from these rules");
  return m;
}

int RuleMatcher::on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int,
                          void* ctx) {
  auto* self = static_cast<RuleMatcher*>(ctx);
  if (id < self->hit_.size()) self->hit_[id] = 1;
  return 0;
}

void RuleMatcher::begin() {
  std::fill(hit_.begin(), hit_.end(), uint8_t{0});
  result_.hits.clear();
  result_.score = 0;
  result_.action = RuleAction::kNone;
  result_.scan_errors = 0;
  for (HsStreamPtr* s : {&body_, &rawbody_, &full_})
    if (*s && hs_reset_stream(s->get(), 0, nullptr, nullptr, nullptr) != HS_SUCCESS)
      ++result_.scan_errors;
}

void RuleMatcher::block(int32_t db, ByteSpan value) {
  if (db < 0) return;
  if (value.size() > kMaxBlockScan) {  // Hyperscan takes an unsigned int length
    ++result_.scan_errors;
    return;
  }
  // An empty value may have no address; Hyperscan refuses a null pointer (HS_INVALID) even for
  // length 0, yet an empty value can match (e.g. /^$/).
  static const char kEmpty[1] = {0};
  hs_error_t rc = hs_scan(rules_->dbs_[static_cast<size_t>(db)].db.get(),
                          value.empty() ? kEmpty : reinterpret_cast<const char*>(value.data()),
                          static_cast<unsigned int>(value.size()), 0, scratch_, on_match, this);
  if (rc != HS_SUCCESS) ++result_.scan_errors;
}

void RuleMatcher::header(std::string_view name, ByteSpan value) {
  std::array<char, kMaxRuleHeaderNameLength + 1 + kMaxHeaderModifierLength> low{};
  if (name.size() > low.size()) return;  // no rule can name a longer field
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    low[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view key(low.data(), name.size());
  auto it = rules_->header_db_.find(key);
  if (it != rules_->header_db_.end()) block(static_cast<int32_t>(it->second), value);
  if (auto ex = rules_->header_exists_.find(key); ex != rules_->header_exists_.end())
    for (uint32_t id : ex->second) hit_[id] = 1;
}

void RuleMatcher::field(RuleTarget target, ByteSpan value) {
  if (rule_target_streamed(target)) return;  // body()/rawbody()
  block(rules_->target_db_[static_cast<size_t>(target)], value);
}

void RuleMatcher::attachment_size(uint64_t size) {
  const auto& rules = rules_->rules().rules;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (r.op != RuleOp::kNumeric) continue;
    bool hit = false;
    switch (r.cmp) {
      case RuleCmp::kGt: hit = size > r.number; break;
      case RuleCmp::kLt: hit = size < r.number; break;
      case RuleCmp::kGe: hit = size >= r.number; break;
      case RuleCmp::kLe: hit = size <= r.number; break;
      case RuleCmp::kEq: hit = size == r.number; break;
    }
    if (hit) hit_[i] = 1;
  }
}

void RuleMatcher::stream(HsStreamPtr& s, ByteSpan chunk) {
  if (!s || chunk.empty()) return;
  do {  // in pieces that fit Hyperscan's unsigned int length; results do not depend on splits
    ByteSpan piece = chunk.first(std::min<size_t>(chunk.size(), kMaxBlockScan));
    chunk = chunk.subspan(piece.size());
    if (hs_scan_stream(s.get(), reinterpret_cast<const char*>(piece.data()),
                       static_cast<unsigned int>(piece.size()), 0, scratch_, on_match,
                       this) != HS_SUCCESS)
      ++result_.scan_errors;
  } while (!chunk.empty());
}

// Integer meta semantics (scan/rules.h). Arithmetic saturates, so no input overflows.
int64_t RuleMatcher::eval(const Rule& r, uint32_t node) const {
  const MetaNode& n = r.meta[node];
  constexpr int64_t kLim = int64_t{1} << 40;  // every value stays within +-2^40
  auto sat = [](int64_t v) -> int64_t { return v > kLim ? kLim : (v < -kLim ? -kLim : v); };
  switch (n.kind) {
    case MetaNode::Kind::kRule: return hit_[n.rule] != 0 ? 1 : 0;
    case MetaNode::Kind::kConst: return n.value;
    case MetaNode::Kind::kNot: return eval(r, n.lhs) == 0 ? 1 : 0;
    case MetaNode::Kind::kAnd: return (eval(r, n.lhs) != 0 && eval(r, n.rhs) != 0) ? 1 : 0;
    case MetaNode::Kind::kOr: return (eval(r, n.lhs) != 0 || eval(r, n.rhs) != 0) ? 1 : 0;
    default: break;
  }
  const int64_t a = eval(r, n.lhs), b = eval(r, n.rhs);
  switch (n.kind) {
    case MetaNode::Kind::kAdd: return sat(a + b);
    case MetaNode::Kind::kSub: return sat(a - b);
    case MetaNode::Kind::kMul: {
      int64_t m = 0;
      if (__builtin_mul_overflow(a, b, &m)) return (a < 0) != (b < 0) ? -kLim : kLim;
      return sat(m);
    }
    case MetaNode::Kind::kGt: return a > b;
    case MetaNode::Kind::kLt: return a < b;
    case MetaNode::Kind::kGe: return a >= b;
    case MetaNode::Kind::kLe: return a <= b;
    case MetaNode::Kind::kEq: return a == b;
    case MetaNode::Kind::kNe: return a != b;
    default: return 0;
  }
}

const RuleMatch& RuleMatcher::finish() {
  // End of the body streams: matches anchored at the end ($) are reported here.
  for (HsStreamPtr* s : {&body_, &rawbody_, &full_})
    if (*s && hs_reset_stream(s->get(), 0, scratch_, on_match, this) != HS_SUCCESS)
      ++result_.scan_errors;
  const RuleSet& set = rules_->rules();
  for (uint32_t id : rules_->negated_) hit_[id] = hit_[id] ? 0 : 1;
  for (uint32_t id : set.meta_order) {
    const Rule& r = set.rules[id];
    hit_[id] = eval(r, r.meta_root) != 0 ? 1 : 0;
  }
  for (uint32_t i = 0; i < hit_.size(); ++i) {
    if (!hit_[i]) continue;
    const Rule& r = set.rules[i];
    result_.hits.push_back(i);
    result_.score += r.score;
    result_.action = std::max(result_.action, r.action);
  }
  return result_;
}

std::vector<std::string_view> RuleMatcher::hit_names() const {
  std::vector<std::string_view> out;
  for (uint32_t id : result_.hits) out.push_back(rules_->rules().rules[id].name);
  return out;
}

}  // namespace mx::scan
