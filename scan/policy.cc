// scan/policy.cc — decide(): the rules documented in scan/policy.h, in the same order.
#include "scan/policy.h"

#include "common/ascii.h"
#include "scan/rules.h"

#include <algorithm>

namespace mx::scan {
namespace {

constexpr char kSanitizedByte = '_';
constexpr unsigned char kFirstPrintable = 0x20;
constexpr unsigned char kLastPrintable = 0x7e;

std::string_view strip_trailing_dot(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return d;
}

// Splits "local@domain" at its last '@' (a quoted local part may contain '@').
bool split_address(std::string_view addr, std::string_view& local, std::string_view& domain) {
  const size_t at = addr.rfind('@');
  if (at == std::string_view::npos) return false;
  local = addr.substr(0, at);
  domain = strip_trailing_dot(addr.substr(at + 1));
  return true;
}

int64_t clamp_score(int64_t s) {
  return std::clamp(s, -kMaxPolicyRuleScore, kMaxPolicyRuleScore);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
    if (out.size() > kMaxTagHeaderValue) break;  // sanitize_header_value cuts the rest
  }
  return out;
}

ListMatch match_lists(const TenantPolicy& tenant, const UserPrefs& user, const ScanResults& scan) {
  const std::string_view sender = scan.envelope_sender;
  if (sender_list_matches(user.block, sender, scan.client_ip)) return ListMatch::kUserBlock;
  if (sender_list_matches(tenant.block, sender, scan.client_ip)) return ListMatch::kTenantBlock;
  if (sender_list_matches(user.allow, sender, scan.client_ip)) return ListMatch::kUserAllow;
  if (sender_list_matches(tenant.allow, sender, scan.client_ip)) return ListMatch::kTenantAllow;
  return ListMatch::kNone;
}

}  // namespace

std::string_view verdict_class_name(VerdictClass c) {
  switch (c) {
    case VerdictClass::kClean: return "clean";
    case VerdictClass::kBulk: return "bulk";
    case VerdictClass::kSpam: return "spam";
    case VerdictClass::kPhish: return "phish";
    case VerdictClass::kUnscannable: return "unscannable";
    case VerdictClass::kMalware: return "malware";
  }
  return "?";
}

std::string_view policy_action_name(PolicyAction a) {
  switch (a) {
    case PolicyAction::kDeliver: return "deliver";
    case PolicyAction::kTag: return "tag";
    case PolicyAction::kQuarantine: return "quarantine";
    case PolicyAction::kTempfail: return "tempfail";
    case PolicyAction::kReject: return "reject";
  }
  return "?";
}

std::string_view list_match_name(ListMatch m) {
  switch (m) {
    case ListMatch::kNone: return "none";
    case ListMatch::kUserBlock: return "user block list";
    case ListMatch::kTenantBlock: return "tenant block list";
    case ListMatch::kUserAllow: return "user allow list";
    case ListMatch::kTenantAllow: return "tenant allow list";
  }
  return "?";
}

std::string sanitize_header_value(std::string_view s, size_t max_len) {
  std::string out;
  out.reserve(std::min(s.size(), max_len));
  for (const char c : s) {
    if (out.size() >= max_len) break;
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= kFirstPrintable && u <= kLastPrintable ? c : kSanitizedByte);
  }
  return out;
}

bool sender_address_matches(std::string_view entry, std::string_view sender) {
  std::string_view el, ed, sl, sd;
  if (!split_address(entry, el, ed) || !split_address(sender, sl, sd)) return false;
  if (el.empty() || ed.empty() || sd.empty()) return false;
  return el == sl && iequals(ed, sd);
}

bool sender_domain_matches(std::string_view entry, std::string_view sender) {
  std::string_view local, domain;
  if (!split_address(sender, local, domain)) return false;
  entry = strip_trailing_dot(entry);
  if (entry.empty() || domain.empty()) return false;
  if (domain.size() == entry.size()) return iequals(domain, entry);
  // Subdomain: "<labels>.<entry>", on a label boundary.
  if (domain.size() <= entry.size() + 1) return false;
  const size_t cut = domain.size() - entry.size();
  return domain[cut - 1] == '.' && iequals(domain.substr(cut), entry);
}

bool sender_list_matches(const SenderList& list, std::string_view sender,
                         std::optional<Ipv4Addr> client_ip) {
  if (!sender.empty()) {
    for (const auto& a : list.addresses) {
      if (sender_address_matches(a, sender)) return true;
    }
    for (const auto& d : list.domains) {
      if (sender_domain_matches(d, sender)) return true;
    }
  }
  if (client_ip) {
    for (const auto& p : list.networks) {
      if (p.contains(*client_ip)) return true;
    }
  }
  return false;
}

Verdict decide(const TenantPolicy& tenant, const UserPrefs& user, const ScanResults& scan) {
  Verdict v;

  // 1. Score and class.
  int64_t score = 0, bulk_score = 0;
  bool malware_rule = false, phish_rule = false;
  std::string first_malware_rule, first_phish_rule;
  v.rules.reserve(scan.hits.size());
  for (const auto& h : scan.hits) {
    const int64_t s = clamp_score(h.score);
    v.rules.push_back(h.name);
    if (h.category == RuleCategory::kBulk) {
      bulk_score += s;  // bulk rules feed the bulk score only
    } else {
      score += s;
    }
    if (h.category == RuleCategory::kPhish && !phish_rule) {
      first_phish_rule = h.name;
      phish_rule = true;
    }
    if (h.category == RuleCategory::kMalware && !malware_rule) {
      first_malware_rule = h.name;
      malware_rule = true;
    }
  }
  const bool mime_suspicious = (scan.mime_flags & tenant.mime_suspicious_flags) != 0;
  if (mime_suspicious) score += clamp_score(tenant.mime_suspicious_score);
  const bool mime_unscannable = (scan.mime_flags & tenant.mime_unscannable_flags) != 0;
  v.score = score;

  const AvVerdict av = scan.av.verdict;
  const int64_t spam_threshold = user.spam_threshold.value_or(tenant.spam_threshold);
  std::string reason;
  if (av == AvVerdict::kInfected || malware_rule) {
    v.cls = VerdictClass::kMalware;
    reason = av == AvVerdict::kInfected ? "virus " + scan.av.name
                                        : "malware rule " + first_malware_rule;
  } else if (av == AvVerdict::kEncrypted || av == AvVerdict::kLimitExceeded ||
             av == AvVerdict::kError || mime_unscannable) {
    v.cls = VerdictClass::kUnscannable;
    if (av == AvVerdict::kEncrypted) {
      reason = "encrypted content " + scan.av.name;
    } else if (av == AvVerdict::kLimitExceeded) {
      reason = "AV limit exceeded " + scan.av.name;
    } else if (av == AvVerdict::kError) {
      reason = "AV error " + scan.av.name;
    } else {
      reason = "MIME bound exceeded";
    }
  } else if (phish_rule) {
    v.cls = VerdictClass::kPhish;
    reason = "phish rule " + first_phish_rule;
  } else if (score >= spam_threshold) {
    v.cls = VerdictClass::kSpam;
    reason = "score " + format_score(score) + " >= " + format_score(spam_threshold);
  } else if (bulk_score >= tenant.bulk_threshold) {
    v.cls = VerdictClass::kBulk;
    reason = "bulk score " + format_score(bulk_score) + " >= " +
             format_score(tenant.bulk_threshold);
  } else {
    v.cls = VerdictClass::kClean;
    reason = "score " + format_score(score);
  }

  // 2. Malware always rejects.
  if (v.cls == VerdictClass::kMalware) {
    v.action = PolicyAction::kReject;
    v.reason = sanitize_header_value(reason, kMaxReasonLength);
    return v;
  }

  // 3. Lists: block beats allow; allow downgrades phish/spam/bulk only.
  v.list = match_lists(tenant, user, scan);
  if (v.list == ListMatch::kUserBlock || v.list == ListMatch::kTenantBlock) {
    v.action = PolicyAction::kReject;
    v.reason = sanitize_header_value(
        "sender on " + std::string(list_match_name(v.list)) + "; " + reason, kMaxReasonLength);
    return v;
  }
  if (v.list != ListMatch::kNone &&
      (v.cls == VerdictClass::kPhish || v.cls == VerdictClass::kSpam ||
       v.cls == VerdictClass::kBulk)) {
    reason = "sender on " + std::string(list_match_name(v.list)) + " (was " +
             std::string(verdict_class_name(v.cls)) + ": " + reason + ")";
    v.cls = VerdictClass::kClean;
  }

  // 4. AV error: try again later.
  if (av == AvVerdict::kError) {
    v.action = PolicyAction::kTempfail;
    v.reason = sanitize_header_value(reason, kMaxReasonLength);
    return v;
  }

  // 5. The class's action, user overrides for spam and bulk.
  PolicyAction action = tenant.actions[static_cast<size_t>(v.cls)];
  if (v.cls == VerdictClass::kSpam && user.spam_action) action = *user.spam_action;
  if (v.cls == VerdictClass::kBulk && user.bulk_action) action = *user.bulk_action;
  if (v.cls == VerdictClass::kUnscannable && action == PolicyAction::kDeliver) {
    action = PolicyAction::kTag;
  }
  v.action = action;
  v.reason = sanitize_header_value(reason, kMaxReasonLength);

  // 6. Tag: subject prefix and headers, sanitised.
  if (action == PolicyAction::kTag) {
    v.subject_prefix = sanitize_header_value(tenant.subject_tag);
    v.headers.emplace_back("X-Mxgate-Verdict",
                           sanitize_header_value(verdict_class_name(v.cls)));
    v.headers.emplace_back("X-Mxgate-Score", sanitize_header_value(format_score(v.score)));
    v.headers.emplace_back("X-Mxgate-Rules", sanitize_header_value(join_names(v.rules)));
  }
  return v;
}

}  // namespace mx::scan
