// scan/pipeline.cc — MessageScanner and decide_verdict (scan/pipeline.h).
//
// SECURITY: see the header; every copy is bounded before it grows.
// STANDARDS: RFC 5322 2.2 (header fields), RFC 2047.
#include "scan/pipeline.h"

#include <algorithm>
#include <array>

#include "common/ascii.h"
#include "scan/charset.h"
#include "scan/encoded_word.h"
#include "scan/magic.h"

namespace mx::scan {
namespace {

ByteSpan as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Flags that mean readers may disagree about a part: then every reading goes to AV too.
constexpr uint64_t kAmbiguous = kDupContentType | kDupEncoding | kDupBoundary | kBoundaryRfc2231 |
                                kBoundaryEncodedWord | kEmptyBoundary | kMissingBoundary |
                                kBoundaryPrefixMatch | kMultipleFilenames | kEncodedMultipart |
                                kInvalidBase64 | kBase64AfterPadding | kUnknownEncoding |
                                kMalformedHeader;

bool texty(TrueType t) { return t == TrueType::kText || t == TrueType::kHtml || t == TrueType::kEmpty; }

RuleCategory category_of(RuleKind k) {
  switch (k) {
    case RuleKind::kPhish: return RuleCategory::kPhish;
    case RuleKind::kBulk: return RuleCategory::kBulk;
    case RuleKind::kMalware: return RuleCategory::kMalware;
    case RuleKind::kSpam: break;
  }
  return RuleCategory::kSpam;
}

}  // namespace

Expected<std::unique_ptr<MessageScanner>> MessageScanner::create(const HsRules& rules,
                                                                 const HsScratch& scratch,
                                                                 const MimeLimits& limits) {
  auto m = RuleMatcher::create(rules, scratch);
  if (!m) return m.error();
  return std::unique_ptr<MessageScanner>(new MessageScanner(rules, std::move(*m), limits));
}

MessageScanner::MessageScanner(const HsRules& rules, RuleMatcher matcher, const MimeLimits& limits)
    : rules_(&rules), matcher_(std::move(matcher)), parser_(*this, limits),
      iconv_(std::make_unique<IconvCache>()) {
  wants_all_ = rules.wants_header("all");
  wants_tocc_ = rules.wants_header("tocc");
  wants_msgid_ = rules.wants_header("messageid");
  scratch_.resize(kMaxHeaderField * 4);
  all_.reserve(kMaxAllHeaderBytes);
  subject_.reserve(kMaxHeaderField * 4);
  for (const std::string& k : rules.header_keys()) {
    size_t c = k.find(':');
    if (c == std::string::npos) continue;
    std::string_view mod = std::string_view(k).substr(c + 1);
    auto& set = mod == "raw" ? want_raw_ : mod == "addr" ? want_addr_ : want_name_;
    if (mod == "raw" || mod == "addr" || mod == "name") set.insert(k.substr(0, c));
  }
}

MessageScanner::~MessageScanner() = default;

void MessageScanner::release_buffers() {
  // A scanner waits in a free list between messages: it keeps small buffers, not a big one's.
  for (std::string& c : copies_)
    if (c.capacity() > kMaxKeptCopyBytes) std::string().swap(c);
  if (raw_.capacity() > kMaxKeptCopyBytes) std::string().swap(raw_);
}

void MessageScanner::begin(const Envelope& env, bool in_place) {
  in_place_ = in_place;
  parser_.reset();
  out_.header.complete = out_.header.has_subject = false;  // until the parser reaches the body
  out_.header.message_id.clear();
  out_.header.subject.clear();
  out_.header.own.clear();
  matcher_.begin();
  out_.hits.clear();
  out_.av_objects.clear();
  out_.av_objects_truncated = false;
  out_.message_bytes = 0;
  raw_.clear();
  n_copies_ = 0;  // the strings stay allocated for the next messages
  copied_ = 0;
  reading_copy_.fill(kNone);
  open_part_ = UINT32_MAX;
  uu_copy_ = kNone;
  in_header_ = true;
  eoh_state_ = 0;
  matcher_.field(RuleTarget::kEnvelopeFrom, as_bytes(env.mail_from));
  for (size_t i = 0; i < env.rcpts.size() && i < kMaxEnvelopeRcpts; ++i)
    matcher_.field(RuleTarget::kRcpt, as_bytes(env.rcpts[i]));
  if (!env.client_ip.empty()) matcher_.field(RuleTarget::kClientIp, as_bytes(env.client_ip));
  if (!env.helo.empty()) matcher_.field(RuleTarget::kHelo, as_bytes(env.helo));
}

void MessageScanner::feed(ByteSpan chunk) {
  out_.message_bytes += chunk.size();
  if (in_place_) {
    // the caller's copy is the one AV reads
  } else if (raw_.size() + chunk.size() <= kMaxScanMessageBytes)
    raw_.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  else
    out_.av_objects_truncated = true;
  matcher_.full(chunk);
  if (in_header_) {
    // The header section ends at the first empty line (LF LF or LF CR LF).
    size_t i = 0;
    for (; i < chunk.size() && in_header_; ++i) {
      uint8_t c = chunk[i];
      if (eoh_state_ == 0) eoh_state_ = c == '\n' ? 1 : 0;
      else if (eoh_state_ == 1) eoh_state_ = c == '\n' ? 3 : c == '\r' ? 2 : 0;
      else if (eoh_state_ == 2) eoh_state_ = c == '\n' ? 3 : 0;
      if (eoh_state_ == 3) in_header_ = false;
    }
    if (!in_header_) matcher_.rawbody(chunk.subspan(i));
  } else {
    matcher_.rawbody(chunk);
  }
  parser_.feed(chunk);
}

void index_header(const PartInfo& part, HeaderIndex& hi) {
  hi.complete = (part.flags & (kTooManyHeaders | kMalformedHeader | kNoHeaderEnd)) == 0;
  hi.has_subject = false;
  hi.subject_value = 0;
  hi.message_id.clear();
  hi.subject.clear();
  hi.own.clear();
  constexpr std::string_view kOwn = "x-mxgate-";
  for (const HeaderField& f : part.headers) {
    if (f.name.size() >= kOwn.size() && iequals(f.name.substr(0, kOwn.size()), kOwn)) {
      hi.own.emplace_back(f.raw_begin, f.raw_end);
    } else if (!hi.has_subject && iequals(f.name, "subject")) {
      hi.has_subject = true;
      hi.subject_value = f.raw_begin + f.colon + 1;
      hi.subject.assign(trim(f.value.substr(0, kMaxIndexedValue)));
    } else if (hi.message_id.empty() && iequals(f.name, "message-id")) {
      hi.message_id.assign(trim(f.value.substr(0, kMaxIndexedValue)));
    }
  }
}

void MessageScanner::header_variant(std::string_view name, std::string_view suffix, std::string_view value) {
  std::array<char, kMaxRuleHeaderNameLength + 1 + kMaxHeaderModifierLength> key{};
  if (name.size() + suffix.size() > key.size()) return;
  std::copy(name.begin(), name.end(), key.begin());
  std::copy(suffix.begin(), suffix.end(), key.begin() + static_cast<ptrdiff_t>(name.size()));
  matcher_.header(std::string_view(key.data(), name.size() + suffix.size()), as_bytes(value));
}

void MessageScanner::headers(const PartInfo& part) {
  all_.clear();
  subject_.clear();
  bool have_subject = false;
  index_header(part, out_.header);
  for (const HeaderField& f : part.headers) {
    size_t len = 0;
    decode_encoded_words(f.value, iconv_.get(), scratch_.data(), scratch_.size(), len);
    std::string_view decoded(scratch_.data(), len);
    matcher_.header(f.name, as_bytes(decoded));
    if (iequals(f.name, "subject") && !have_subject) {
      subject_.assign(decoded);
      have_subject = true;
    }
    if (wants_all_ && all_.size() + f.name.size() + f.value.size() + 3 <= kMaxAllHeaderBytes) {
      all_.append(f.name);
      all_ += ": ";
      all_.append(f.value);
      all_ += '\n';
    }
    if (wants_tocc_ && (iequals(f.name, "to") || iequals(f.name, "cc")))
      matcher_.header("tocc", as_bytes(decoded));
    if (wants_msgid_ && (iequals(f.name, "message-id") || iequals(f.name, "resent-message-id") ||
                         iequals(f.name, "x-message-id")))
      matcher_.header("messageid", as_bytes(f.value));
    if (f.name.size() > kMaxRuleHeaderNameLength) continue;
    std::array<char, kMaxRuleHeaderNameLength + 8> low{};
    for (size_t i = 0; i < f.name.size(); ++i) {
      char c = f.name[i];
      low[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    std::string_view lname(low.data(), f.name.size());
    if (want_raw_.contains(lname)) header_variant(lname, ":raw", f.value);
    const bool want_addr = want_addr_.contains(lname);
    const bool want_name = want_name_.contains(lname);
    if (!want_addr && !want_name) continue;
    // Each comma-separated mailbox: "Name <addr>" or a bare address (quoted commas aside).
    std::string_view v = decoded;
    size_t start = 0;
    bool quoted = false;
    for (size_t i = 0; i <= v.size(); ++i) {
      if (i < v.size() && v[i] == '"') quoted = !quoted;
      if (i < v.size() && (v[i] != ',' || quoted)) continue;
      std::string_view mbox = trim(v.substr(start, i - start));
      start = i + 1;
      if (mbox.empty()) continue;
      size_t lt = mbox.rfind('<'), gt = mbox.rfind('>');
      std::string_view addr = mbox, display;
      if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
        addr = mbox.substr(lt + 1, gt - lt - 1);
        display = trim(mbox.substr(0, lt));
        if (display.size() >= 2 && display.front() == '"' && display.back() == '"')
          display = display.substr(1, display.size() - 2);
      } else if (mbox.find('@') == std::string_view::npos) {
        addr = {};
      }
      if (want_addr && !addr.empty()) header_variant(lname, ":addr", trim(addr));
      if (want_name) header_variant(lname, ":name", display);
    }
  }
  if (wants_all_) matcher_.header("all", as_bytes(all_));
  // SpamAssassin's body text starts with the subject.
  matcher_.body(as_bytes(subject_));
  matcher_.body(as_bytes("\n"));
}

int32_t MessageScanner::new_copy() {
  if (n_copies_ >= kMaxAvObjects) {
    out_.av_objects_truncated = true;
    return kNoCopy;
  }
  if (n_copies_ == copies_.size()) copies_.emplace_back();
  copies_[n_copies_].clear();
  return static_cast<int32_t>(n_copies_++);
}

void MessageScanner::copy_for_av(int32_t copy, ByteSpan data) {
  if (copy < 0) return;
  if (copied_ + data.size() > kMaxAvCopyBytes) {
    out_.av_objects_truncated = true;
    return;
  }
  copied_ += data.size();
  copies_[static_cast<size_t>(copy)].append(reinterpret_cast<const char*>(data.data()), data.size());
}

void MessageScanner::on_part_begin(const PartInfo& part) {
  if (part.id == 0) headers(part);
  for (const FilenameCandidate& f : part.filename_candidates())
    matcher_.field(RuleTarget::kAttachmentName, as_bytes(f.name.view()));
}

void MessageScanner::on_part_data(const PartInfo& part, uint32_t reading, ByteSpan decoded) {
  if (part.kind != EntityKind::kLeaf && part.kind != EntityKind::kMessage) return;
  if (open_part_ != part.id) {
    open_part_ = part.id;
    reading_copy_.fill(kNone);
  }
  if (reading >= reading_copy_.size()) return;
  int32_t& slot = reading_copy_[reading];
  if (slot == kNone) {
    // A new reading: copy it for AV unless it is plain text of an unambiguous part (the
    // whole-message scan reads those bytes the same way), judged from its first bytes.
    const bool ambiguous = (part.flags & kAmbiguous) != 0 || part.n_readings > 1;
    const bool text_reading = reading < part.n_readings && part.readings[reading].text;
    if (!ambiguous && text_reading && texty(detect_true_type(decoded))) {
      slot = kNoCopy;
    } else {
      slot = new_copy();
    }
  }
  copy_for_av(slot, decoded);
}

void MessageScanner::on_part_text(const PartInfo&, uint32_t, std::string_view utf8) {
  matcher_.body(as_bytes(utf8));
}

void MessageScanner::on_url(const PartInfo&, uint32_t, std::string_view url, bool) {
  matcher_.field(RuleTarget::kUrl, as_bytes(url));
}

void MessageScanner::on_uu_data(const PartInfo& part, const UuBlock& block, ByteSpan decoded) {
  if (uu_copy_ == kNone || uu_part_ != part.id || uu_index_ != block.index) {
    uu_part_ = part.id;
    uu_index_ = block.index;
    uu_copy_ = new_copy();
  }
  copy_for_av(uu_copy_, decoded);
}

void MessageScanner::on_uu_end(const PartInfo&, const UuBlock& block) {
  matcher_.field(RuleTarget::kAttachmentName, as_bytes(block.name.view()));
  if (!texty(block.true_type)) {
    matcher_.field(RuleTarget::kAttachmentType, as_bytes(true_type_name(block.true_type)));
    matcher_.attachment_size(block.decoded_size);
  }
  uu_copy_ = kNone;
}

void MessageScanner::on_part_end(const PartInfo& part) {
  if (part.kind == EntityKind::kLeaf || part.kind == EntityKind::kMessage) {
    for (uint32_t r = 0; r < part.n_readings; ++r) {
      const Reading& rd = part.readings[r];
      if (texty(rd.true_type) && part.n_filenames == 0) continue;
      matcher_.field(RuleTarget::kAttachmentType, as_bytes(true_type_name(rd.true_type)));
      matcher_.attachment_size(rd.decoded_size);
    }
  }
  if (open_part_ == part.id) reading_copy_.fill(kNone);
  if (uu_part_ == part.id) uu_copy_ = kNone;
}

const ScanOutcome& MessageScanner::finish(ByteSpan whole) {
  parser_.finish();
  out_.mime = parser_.message();
  out_.match = matcher_.finish();
  const RuleSet& set = rules_->rules();
  for (uint32_t id : out_.match.hits) {
    const Rule& r = set.rules[id];
    if (r.score == 0 && r.kind == RuleKind::kSpam && r.name.starts_with("__")) continue;  // sub-rules
    out_.hits.push_back(RuleHit{r.name, r.score, category_of(r.kind)});
  }
  out_.av_objects.push_back(AvObject{in_place_ ? whole : as_bytes(raw_), 0, true});
  for (size_t i = 0; i < n_copies_; ++i)
    if (const std::string& c = copies_[i]; !c.empty()) out_.av_objects.push_back(AvObject{as_bytes(c), 0, false});
  return out_;
}

Verdict decide_verdict(const ScanOutcome& outcome, std::span<const AvResult> av, const Envelope& env,
                       const TenantPolicy& tenant, const UserPrefs& user) {
  ScanResults s;
  s.hits = outcome.hits;
  s.mime_flags = outcome.mime.flags;
  s.envelope_sender = env.mail_from;
  s.client_ip = env.client_ipv4;
  // The worst AV result: infected > error > encrypted > limit > clean.
  auto rank = [](AvVerdict v) {
    switch (v) {
      case AvVerdict::kInfected: return 4;
      case AvVerdict::kError: return 3;
      case AvVerdict::kEncrypted: return 2;
      case AvVerdict::kLimitExceeded: return 1;
      default: return 0;
    }
  };
  AvResult worst;
  worst.verdict = AvVerdict::kClean;
  if (av.size() != outcome.av_objects.size()) {
    worst.verdict = AvVerdict::kError;
    worst.name = "missing AV results";
  }
  for (const AvResult& r : av)
    if (rank(r.verdict) > rank(worst.verdict)) worst = r;
  // A failed Hyperscan call means rules did not see every byte: never "clean" — handled as a
  // scan error (policy rule 4: tempfail, the sender retries).
  if (outcome.match.scan_errors > 0 && rank(worst.verdict) < rank(AvVerdict::kError)) {
    worst.verdict = AvVerdict::kError;
    worst.name = "rule engine error (" + std::to_string(outcome.match.scan_errors) + " failed Hyperscan call(s))";
  }
  if (outcome.av_objects_truncated && rank(worst.verdict) < rank(AvVerdict::kLimitExceeded)) {
    worst.verdict = AvVerdict::kLimitExceeded;
    worst.name = "scan copy bound exceeded";
  }
  s.av = worst;
  return decide(tenant, user, s);
}

std::vector<AvResult> scan_av_objects(const AvEngine& engine, const ScanOutcome& outcome) {
  std::vector<AvResult> out;
  out.reserve(outcome.av_objects.size());
  for (const AvObject& o : outcome.av_objects) {
    out.push_back(engine.scan(o.data));
    if (out.back().verdict == AvVerdict::kInfected) {  // no need to scan the rest
      AvResult skipped;
      skipped.verdict = AvVerdict::kClean;
      out.resize(outcome.av_objects.size(), skipped);
      break;
    }
  }
  return out;
}

}  // namespace mx::scan
