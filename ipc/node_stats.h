// ipc/node_stats.h — the payload of the stats frame (ipc/frame.h FrameType::kStats): a node's
// counters as Prometheus text, in the strict subset defined here. The data plane writes it
// (StatsWriter); control checks each frame when it arrives (parse_node_stats) and serves every
// connected node's counters in its own GET /metrics, each sample with node="NAME" added to its
// labels and one # TYPE line per family over all nodes (merge_node_stats).
//
// The subset, line by line, every line ended by LF (an empty text is valid: no counters):
//
//   # TYPE <family> counter|gauge|histogram
//   <name>[{<label>="<value>"[,<label>="<value>"]...}] <value>
//
// A family is declared once, before its samples, which follow it directly. A sample's name is its
// family's; for a histogram, the family's with _bucket (which carries an le label), _sum or
// _count. Nothing else: no HELP or other comment lines, no blank lines, no timestamps, no
// blanks other than the one before the value, no empty braces. Each series (name and labels as
// written) appears once.
//   names        [a-zA-Z_:][a-zA-Z0-9_:]*; a family starts with "mxgate_" and not with control's
//                own prefixes "mxgate_control_" or "mxgate_node_"; no two families whose sample
//                names could clash (a histogram h and a family h_count, ...)
//   label names  [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", not "node" (control adds it),
//                each at most once per sample
//   label values UTF-8 without control characters, with \\, \" and \n as the only escapes
//   values       -?D[.D][(e|E)[+|-]D] (D: digits), NaN, +Inf, -Inf
//
// Because the subset is canonical (one way to write a sample), control copies a sample's
// labels as written and inserts node="NAME" before them.
//
// SECURITY: the text comes from a node and is checked whole before control keeps it: at most
// kMaxStatsBytes (the frame's bound), kMaxStatsLineBytes per line and kMaxStatsLabels labels per
// sample; anything outside the subset refuses the whole text, so what control serves is always
// well-formed exposition text, whatever a node sends. Parsing keeps views into the text (no
// copy of it) and allocates per family and sample only.
// STANDARDS: Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats); RFC 3629 (UTF-8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "ipc/frame.h"

namespace mx::ipc {

constexpr size_t kMaxStatsLineBytes = 4096;  // one line, its LF excluded
constexpr size_t kMaxStatsLabels = 16;       // labels of one sample (node's own; control adds node)
constexpr std::string_view kStatsFamilyPrefix = "mxgate_";
constexpr std::string_view kStatsReservedPrefixes[] = {"mxgate_control_", "mxgate_node_"};
constexpr std::string_view kStatsNodeLabel = "node";

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };
std::string_view metric_type_name(MetricType t) noexcept;

// Appends v as an exposition label value (without the quotes): backslash, double quote and line
// feed escaped.
void append_label_value(std::string& out, std::string_view v);

struct StatsLabel {
  std::string_view name;
  std::string_view value;  // raw: escaped when written
};

// Builds a stats text. The caller keeps to the subset's names (checked by the tests, which parse
// what the data plane writes); label values are escaped here.
class StatsWriter {
 public:
  void family(std::string_view name, MetricType t);
  void sample(std::string_view name, std::initializer_list<StatsLabel> labels, uint64_t value);
  void sample(std::string_view name, uint64_t value) { sample(name, {}, value); }
  const std::string& text() const noexcept { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Views into the text that was parsed.
struct StatsSample {
  std::string_view name;
  std::string_view labels;  // what stood between the braces, as written (escaped); empty: none
  std::string_view value;
};
struct StatsFamily {
  std::string_view name;
  MetricType type = MetricType::kGauge;
  std::vector<StatsSample> samples;
};

// The families of a stats text, in order, or why the text is refused ("line N: ...").
Expected<std::vector<StatsFamily>> parse_node_stats(std::string_view text);

struct NodeStatsText {
  std::string_view node;  // the node's name (control checked it at hello)
  std::string_view text;  // accepted by parse_node_stats
};

// Appends every node's samples to `out` as exposition text: families in name order, each with
// one "# TYPE" line, then its samples node by node (in the order given), each with node="NAME"
// first in its labels. A node's family whose type differs from the one an earlier node declared,
// or whose sample names could clash with an earlier node's family (nodes of different versions),
// is left out; the return value counts those left out. A text that does not parse is skipped
// whole (and counted once).
size_t merge_node_stats(std::string& out, const std::vector<NodeStatsText>& nodes);

}  // namespace mx::ipc
