// ipc/node_stats.cc — the stats frame's text: writing, checking and merging (ipc/node_stats.h).
#include "ipc/node_stats.h"

#include <map>
#include <unordered_set>

namespace mx::ipc {
namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};
constexpr std::string_view kTypeLine = "# TYPE ";

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool metric_name_char(char c) noexcept { return is_alpha(c) || is_digit(c) || c == '_' || c == ':'; }
bool label_name_char(char c) noexcept { return is_alpha(c) || is_digit(c) || c == '_'; }

bool valid_metric_name(std::string_view n) noexcept {
  if (n.empty() || is_digit(n[0])) return false;
  for (char c : n)
    if (!metric_name_char(c)) return false;
  return true;
}

// -?D[.D][(e|E)[+|-]D], NaN, +Inf, -Inf: what the exposition format's parsers all read alike.
bool valid_value(std::string_view v) noexcept {
  if (v == "NaN" || v == "+Inf" || v == "-Inf") return true;
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < v.size() && is_digit(v[i])) ++i;
    return i > from;
  };
  if (i < v.size() && v[i] == '-') ++i;
  if (!digits()) return false;
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == v.size();
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((b & 0xe0) == 0xc0) n = 1, cp = b & 0x1fu, min = 0x80;
    else if ((b & 0xf0) == 0xe0) n = 2, cp = b & 0x0fu, min = 0x800;
    else if ((b & 0xf8) == 0xf0) n = 3, cp = b & 0x07u, min = 0x10000;
    else return false;
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

using TypeMap = std::map<std::string_view, MetricType, std::less<>>;

// Whether family `name` of type `t` could produce a sample name another family in `m` produces
// (the same name is the caller's business): a histogram h against h_bucket/h_sum/h_count, and
// the other way round.
bool clashes(const TypeMap& m, std::string_view name, MetricType t) {
  for (std::string_view s : kHistogramSuffixes) {
    if (t == MetricType::kHistogram && m.count(std::string(name) + std::string(s))) return true;
    if (name.size() > s.size() && name.ends_with(s)) {
      auto it = m.find(name.substr(0, name.size() - s.size()));
      if (it != m.end() && it->second == MetricType::kHistogram) return true;
    }
  }
  return false;
}

// Whether sample `name` belongs to family `f`; for a histogram's _bucket, sets `bucket`.
bool belongs(const StatsFamily& f, std::string_view name, bool& bucket) {
  bucket = false;
  if (f.type != MetricType::kHistogram) return name == f.name;
  if (!name.starts_with(f.name)) return false;
  const std::string_view rest = name.substr(f.name.size());
  bucket = rest == kHistogramSuffixes[0];
  return bucket || rest == kHistogramSuffixes[1] || rest == kHistogramSuffixes[2];
}

Error at(size_t line, std::string_view why) { return Error{"line " + std::to_string(line) + ": " + std::string(why)}; }

// The labels of a sample, from just after '{'; `i` ends just after the '}'. Empty on success,
// else why not.
std::string parse_labels(std::string_view line, size_t& i, bool& has_le) {
  std::string_view names[kMaxStatsLabels];
  size_t count = 0;
  has_le = false;
  while (true) {
    const size_t from = i;
    if (i >= line.size() || !(is_alpha(line[i]) || line[i] == '_')) return "a label name is expected";
    while (i < line.size() && label_name_char(line[i])) ++i;
    const std::string_view name = line.substr(from, i - from);
    if (name.starts_with("__")) return "label names starting with __ are reserved";
    if (name == kStatsNodeLabel) return "the node label is control's to add";
    if (count == kMaxStatsLabels) return "more than " + std::to_string(kMaxStatsLabels) + " labels";
    for (size_t k = 0; k < count; ++k)
      if (names[k] == name) return "label " + std::string(name) + " twice";
    names[count++] = name;
    has_le = has_le || name == "le";
    if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return "=\" is expected after a label name";
    i += 2;
    const size_t value_from = i;
    while (true) {
      if (i >= line.size()) return "a label value is not closed";
      const char c = line[i];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) return "a control character in a label value";
      if (c == '\\') {
        if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n'))
          return "a label value escape other than \\\\, \\\" or \\n";
        ++i;
      }
      ++i;
    }
    if (!valid_utf8(line.substr(value_from, i - value_from))) return "a label value that is not UTF-8";
    ++i;  // the closing quote
    if (i < line.size() && line[i] == '}') {
      ++i;
      return {};
    }
    if (i >= line.size() || line[i] != ',') return "',' or '}' is expected after a label value";
    ++i;
  }
}

}  // namespace

std::string_view metric_type_name(MetricType t) noexcept {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
}

void StatsWriter::family(std::string_view name, MetricType t) {
  out_ += kTypeLine;
  out_ += name;
  out_ += ' ';
  out_ += metric_type_name(t);
  out_ += '\n';
}

void StatsWriter::sample(std::string_view name, std::initializer_list<StatsLabel> labels, uint64_t value) {
  out_ += name;
  if (labels.size()) {
    char sep = '{';
    for (const StatsLabel& l : labels) {
      out_ += sep;
      sep = ',';
      out_ += l.name;
      out_ += "=\"";
      append_label_value(out_, l.value);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

Expected<std::vector<StatsFamily>> parse_node_stats(std::string_view text) {
  if (text.size() > kMaxStatsBytes)
    return Error{"stats text of " + std::to_string(text.size()) + " bytes exceeds " + std::to_string(kMaxStatsBytes)};
  std::vector<StatsFamily> fams;
  TypeMap declared;
  std::unordered_set<std::string_view> series;  // name and labels as written
  size_t pos = 0, n = 0;
  while (pos < text.size()) {
    ++n;
    const size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return at(n, "not ended by a line feed");
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() > kMaxStatsLineBytes) return at(n, "longer than " + std::to_string(kMaxStatsLineBytes) + " bytes");
    if (line.starts_with('#')) {
      if (!line.starts_with(kTypeLine)) return at(n, "a comment other than # TYPE");
      line.remove_prefix(kTypeLine.size());
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos) return at(n, "# TYPE without a type");
      const std::string_view name = line.substr(0, sp), type = line.substr(sp + 1);
      if (!valid_metric_name(name)) return at(n, "not a metric name");
      if (!name.starts_with(kStatsFamilyPrefix)) return at(n, "a family name must start with mxgate_");
      for (std::string_view r : kStatsReservedPrefixes)
        if (name.starts_with(r)) return at(n, "family " + std::string(name) + ": " + std::string(r) + " is control's");
      MetricType t;
      if (type == "counter") t = MetricType::kCounter;
      else if (type == "gauge") t = MetricType::kGauge;
      else if (type == "histogram") t = MetricType::kHistogram;
      else return at(n, "family " + std::string(name) + ": the type must be counter, gauge or histogram");
      if (declared.count(name)) return at(n, "family " + std::string(name) + " declared twice");
      if (clashes(declared, name, t)) return at(n, "family " + std::string(name) + " clashes with a histogram's samples");
      declared.emplace(name, t);
      fams.push_back(StatsFamily{name, t, {}});
      continue;
    }
    if (fams.empty()) return at(n, "a sample before any # TYPE line");
    StatsFamily& f = fams.back();
    size_t i = 0;
    while (i < line.size() && metric_name_char(line[i])) ++i;
    const std::string_view name = line.substr(0, i);
    if (!valid_metric_name(name)) return at(n, "a sample line must start with a metric name");
    bool bucket = false;
    if (!belongs(f, name, bucket))
      return at(n, "sample " + std::string(name) + " is not of family " + std::string(f.name) + " (declared above it)");
    std::string_view labels;
    bool has_le = false;
    if (i < line.size() && line[i] == '{') {
      const size_t from = ++i;
      const std::string why = parse_labels(line, i, has_le);
      if (!why.empty()) return at(n, why);
      labels = line.substr(from, i - 1 - from);
    }
    if (bucket && !has_le) return at(n, "a histogram bucket without an le label");
    if (i >= line.size() || line[i] != ' ') return at(n, "one blank, then the value, is expected after the series");
    const std::string_view value = line.substr(i + 1);
    if (!valid_value(value)) return at(n, "the value is not a number");
    if (!series.insert(line.substr(0, i)).second) return at(n, "series given twice");
    f.samples.push_back(StatsSample{name, labels, value});
  }
  return fams;
}

size_t merge_node_stats(std::string& out, const std::vector<NodeStatsText>& nodes) {
  struct Part {
    size_t node;
    const StatsFamily* family;
  };
  std::vector<std::vector<StatsFamily>> parsed(nodes.size());
  TypeMap types;
  std::map<std::string_view, std::vector<Part>> parts;  // by family name: the output's order
  size_t left_out = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto p = parse_node_stats(nodes[i].text);
    if (!p) {
      ++left_out;
      continue;
    }
    parsed[i] = std::move(*p);
    for (const StatsFamily& f : parsed[i]) {
      auto it = types.find(f.name);
      if (it == types.end() ? clashes(types, f.name, f.type) : it->second != f.type) {
        ++left_out;
        continue;
      }
      types.emplace(f.name, f.type);
      parts[f.name].push_back(Part{i, &f});
    }
  }
  std::string node;
  for (const auto& [name, list] : parts) {
    out += kTypeLine;
    out += name;
    out += ' ';
    out += metric_type_name(types.find(name)->second);
    out += '\n';
    for (const Part& p : list) {
      node.clear();
      append_label_value(node, nodes[p.node].node);
      for (const StatsSample& s : p.family->samples) {
        out += s.name;
        out += '{';
        out += kStatsNodeLabel;
        out += "=\"";
        out += node;
        out += '"';
        if (!s.labels.empty()) {
          out += ',';
          out += s.labels;
        }
        out += "} ";
        out += s.value;
        out += '\n';
      }
    }
  }
  return left_out;
}

}  // namespace mx::ipc
