// tests/unit/ipc/node_stats_test.cc — the stats frame's text (ipc/node_stats.h): what the writer
// produces is accepted and reproduced byte for byte; every kind of text outside the subset is
// refused with the line it failed on; merging adds node="NAME" (escaped) to each sample's labels
// under one # TYPE line per family, and leaves out a family whose type differs between nodes.
#include "ipc/node_stats.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::ipc {
namespace {

// The text a parse describes, written back: the subset is canonical, so this is the input.
std::string render(const std::vector<StatsFamily>& fams) {
  std::string o;
  for (const StatsFamily& f : fams) {
    o += "# TYPE " + std::string(f.name) + " " + std::string(metric_type_name(f.type)) + "\n";
    for (const StatsSample& s : f.samples) {
      o += s.name;
      if (!s.labels.empty()) o += "{" + std::string(s.labels) + "}";
      o += " " + std::string(s.value) + "\n";
    }
  }
  return o;
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

TEST(NodeStats, LabelValuesAreEscapedAsTheExpositionFormatSays) {
  std::string o;
  append_label_value(o, "a\"b\\c\nd");
  EXPECT_EQ(o, "a\\\"b\\\\c\\nd");
}

TEST(NodeStats, WhatTheWriterWritesParsesAndRoundTrips) {
  StatsWriter w;
  w.family("mxgate_messages_total", MetricType::kCounter);
  w.sample("mxgate_messages_total", {{"class", "spam"}, {"action", "quarantine"}}, 12);
  w.sample("mxgate_messages_total", {{"class", "odd \"one\"\\\n"}, {"action", "deliver"}}, 0);
  w.family("mxgate_spool_messages", MetricType::kGauge);
  w.sample("mxgate_spool_messages", 3);
  EXPECT_EQ(w.text(),
            "# TYPE mxgate_messages_total counter\n"
            "mxgate_messages_total{class=\"spam\",action=\"quarantine\"} 12\n"
            "mxgate_messages_total{class=\"odd \\\"one\\\"\\\\\\n\",action=\"deliver\"} 0\n"
            "# TYPE mxgate_spool_messages gauge\n"
            "mxgate_spool_messages 3\n");
  auto p = parse_node_stats(w.text());
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].name, "mxgate_messages_total");
  EXPECT_EQ((*p)[0].type, MetricType::kCounter);
  ASSERT_EQ((*p)[0].samples.size(), 2u);
  EXPECT_EQ((*p)[0].samples[0].labels, "class=\"spam\",action=\"quarantine\"");
  EXPECT_EQ((*p)[0].samples[0].value, "12");
  EXPECT_EQ((*p)[1].samples[0].labels, "");
  EXPECT_EQ(render(*p), w.text());
  EXPECT_TRUE(parse_node_stats(""));  // no counters at all
}

TEST(NodeStats, HistogramsValuesAndUtf8WithinTheSubset) {
  const std::string text =
      "# TYPE mxgate_scan_seconds histogram\n"
      "mxgate_scan_seconds_bucket{le=\"0.005\"} 1\n"
      "mxgate_scan_seconds_bucket{le=\"+Inf\"} 4\n"
      "mxgate_scan_seconds_sum 0.25\n"
      "mxgate_scan_seconds_count 4\n"
      "# TYPE mxgate_x gauge\n"
      "mxgate_x{v=\"caf\xc3\xa9 \xf0\x9f\x93\xa7\"} -1.5e-3\n"
      "mxgate_x{v=\"a\"} NaN\n"
      "mxgate_x{v=\"b\"} +Inf\n"
      "mxgate_x{v=\"c\"} -Inf\n"
      "mxgate_x{v=\"d\"} 1E+9\n";
  auto p = parse_node_stats(text);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ((*p)[0].type, MetricType::kHistogram);
  EXPECT_EQ((*p)[0].samples.size(), 4u);
  EXPECT_EQ(render(*p), text);
}

TEST(NodeStats, TextOutsideTheSubsetIsRefusedWithItsLine) {
  const std::string head = "# TYPE mxgate_a counter\n";
  struct Case {
    std::string text;
    std::string reason;
  } cases[] = {
      {head + "mxgate_a 1", "line 2: not ended by a line feed"},
      {"mxgate_a 1\n", "line 1: a sample before any # TYPE line"},
      {"# HELP mxgate_a x\n", "a comment other than # TYPE"},
      {"\n", "line 1: a sample before any # TYPE line"},
      {head + "\n", "line 2: a sample line must start with a metric name"},
      {"# TYPE mxgate_a\n", "# TYPE without a type"},
      {"# TYPE mxgate_a summary\n", "counter, gauge or histogram"},
      {"# TYPE mxgate_a untyped\n", "counter, gauge or histogram"},
      {"# TYPE 9mxgate counter\n", "not a metric name"},
      {"# TYPE mxgate-a counter\n", "not a metric name"},
      {"# TYPE other_a counter\n", "must start with mxgate_"},
      {"# TYPE mxgate_control_generation gauge\n", "mxgate_control_ is control's"},
      {"# TYPE mxgate_node_generation gauge\n", "mxgate_node_ is control's"},
      {head + head, "line 2: family mxgate_a declared twice"},
      {"# TYPE mxgate_h histogram\n# TYPE mxgate_h_count counter\n", "clashes with a histogram"},
      {"# TYPE mxgate_h_sum gauge\n# TYPE mxgate_h histogram\n", "clashes with a histogram"},
      {head + "mxgate_b 1\n", "sample mxgate_b is not of family mxgate_a"},
      {head + "# TYPE mxgate_b counter\nmxgate_a 1\n", "line 3: sample mxgate_a is not of family mxgate_b"},
      {"# TYPE mxgate_h histogram\nmxgate_h 1\n", "not of family"},
      {"# TYPE mxgate_h histogram\nmxgate_h_bucket 1\n", "a histogram bucket without an le label"},
      {head + "mxgate_a 1 1700000000000\n", "the value is not a number"},  // timestamps are not in the subset
      {head + "mxgate_a  1\n", "the value is not a number"},
      {head + "mxgate_a\t1\n", "one blank, then the value"},
      {head + "mxgate_a\n", "one blank, then the value"},
      {head + "mxgate_a 0x10\n", "the value is not a number"},
      {head + "mxgate_a 1.\n", "the value is not a number"},
      {head + "mxgate_a .5\n", "the value is not a number"},
      {head + "mxgate_a inf\n", "the value is not a number"},
      {head + "mxgate_a +1\n", "the value is not a number"},
      {head + "mxgate_a 1e\n", "the value is not a number"},
      {head + "mxgate_a {x=\"1\"} 1\n", "the value is not a number"},
      {head + "mxgate_a{} 1\n", "a label name is expected"},
      {head + "mxgate_a{x=\"1\",} 1\n", "a label name is expected"},
      {head + "mxgate_a{x = \"1\"} 1\n", "=\" is expected"},
      {head + "mxgate_a{x=1} 1\n", "=\" is expected"},
      {head + "mxgate_a{x=\"1\" } 1\n", "',' or '}' is expected"},
      {head + "mxgate_a{x=\"1\"\n", "',' or '}' is expected"},
      {head + "mxgate_a{x=\"1 1\n", "a label value is not closed"},
      {head + "mxgate_a{x=\"a\\tb\"} 1\n", "a label value escape other than"},
      {head + "mxgate_a{x=\"a\tb\"} 1\n", "a control character in a label value"},
      {head + "mxgate_a{x=\"\xc3\x28\"} 1\n", "not UTF-8"},
      {head + "mxgate_a{x=\"\xc0\xaf\"} 1\n", "not UTF-8"},          // overlong '/'
      {head + "mxgate_a{x=\"\xed\xa0\x80\"} 1\n", "not UTF-8"},      // a surrogate
      {head + "mxgate_a{x=\"\xf4\x90\x80\x80\"} 1\n", "not UTF-8"},  // past U+10FFFF
      {head + "mxgate_a{x=\"\xe2\x82\"} 1\n", "not UTF-8"},          // cut short
      {head + "mxgate_a{node=\"n\"} 1\n", "the node label is control's to add"},
      {head + "mxgate_a{__name__=\"n\"} 1\n", "reserved"},
      {head + "mxgate_a{9=\"n\"} 1\n", "a label name is expected"},
      {head + "mxgate_a{x=\"1\",x=\"2\"} 1\n", "label x twice"},
      {head + "mxgate_a{x=\"1\"} 1\nmxgate_a{x=\"1\"} 2\n", "line 3: series given twice"},
      {head + "mxgate_a 1\nmxgate_a 2\n", "series given twice"},
  };
  for (const Case& c : cases) {
    auto p = parse_node_stats(c.text);
    ASSERT_FALSE(p) << c.text;
    EXPECT_NE(p.error().message.find(c.reason), std::string::npos) << c.text << " -> " << p.error().message;
  }
}

TEST(NodeStats, BoundsAreEnforced) {
  const std::string head = "# TYPE mxgate_a counter\n";
  std::string labels;
  for (size_t i = 0; i < kMaxStatsLabels; ++i) labels += (i ? ",l" : "l") + std::to_string(i) + "=\"v\"";
  EXPECT_TRUE(parse_node_stats(head + "mxgate_a{" + labels + "} 1\n"));
  auto p = parse_node_stats(head + "mxgate_a{" + labels + ",l99=\"v\"} 1\n");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("more than 16 labels"), std::string::npos) << p.error().message;
  // A line at the bound, and one byte past it.
  const std::string prefix = "mxgate_a{x=\"", suffix = "\"} 1";
  const std::string fits = prefix + std::string(kMaxStatsLineBytes - prefix.size() - suffix.size(), 'v') + suffix;
  ASSERT_EQ(fits.size(), kMaxStatsLineBytes);
  EXPECT_TRUE(parse_node_stats(head + fits + "\n"));
  p = parse_node_stats(head + prefix + "v" + fits.substr(prefix.size()) + "\n");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("line 2: longer than 4096 bytes"), std::string::npos) << p.error().message;
  // The whole text: the frame's bound.
  std::string big = head;
  for (size_t i = 0; big.size() <= kMaxStatsBytes; ++i) big += "mxgate_a{i=\"" + std::to_string(i) + "\"} 1\n";
  p = parse_node_stats(big);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("exceeds 1048576"), std::string::npos) << p.error().message;
}

TEST(NodeStats, MergeAddsTheNodeLabelUnderOneTypeLinePerFamily) {
  const std::string a =
      "# TYPE mxgate_messages_total counter\n"
      "mxgate_messages_total{class=\"spam\",action=\"quarantine\"} 12\n"
      "# TYPE mxgate_spool_messages gauge\n"
      "mxgate_spool_messages 3\n";
  const std::string b =
      "# TYPE mxgate_spool_messages gauge\n"
      "mxgate_spool_messages 0\n"
      "# TYPE mxgate_messages_total counter\n"
      "mxgate_messages_total{class=\"clean\",action=\"deliver\"} 7\n";
  std::string out;
  EXPECT_EQ(merge_node_stats(out, {{"lab-1", a}, {"we\"ird\\", b}}), 0u);
  EXPECT_EQ(out,
            "# TYPE mxgate_messages_total counter\n"
            "mxgate_messages_total{node=\"lab-1\",class=\"spam\",action=\"quarantine\"} 12\n"
            "mxgate_messages_total{node=\"we\\\"ird\\\\\",class=\"clean\",action=\"deliver\"} 7\n"
            "# TYPE mxgate_spool_messages gauge\n"
            "mxgate_spool_messages{node=\"lab-1\"} 3\n"
            "mxgate_spool_messages{node=\"we\\\"ird\\\\\"} 0\n");
  // Merged output is itself exposition text: each family's samples follow its only TYPE line.
  EXPECT_EQ(count_of(out, "# TYPE mxgate_messages_total "), 1u);
}

TEST(NodeStats, MergeLeavesOutWhatDisagreesWithAnEarlierNode) {
  const std::string a = "# TYPE mxgate_a counter\nmxgate_a 1\n# TYPE mxgate_h histogram\nmxgate_h_count 1\n";
  const std::string b = "# TYPE mxgate_a gauge\nmxgate_a 2\n# TYPE mxgate_h_count counter\nmxgate_h_count 5\n"
                        "# TYPE mxgate_b gauge\nmxgate_b 3\n";
  const std::string bad = "# TYPE mxgate_c counter\nmxgate_c x\n";
  std::string out;
  EXPECT_EQ(merge_node_stats(out, {{"n1", a}, {"n2", b}, {"n3", bad}}), 3u);
  EXPECT_EQ(out,
            "# TYPE mxgate_a counter\nmxgate_a{node=\"n1\"} 1\n"
            "# TYPE mxgate_b gauge\nmxgate_b{node=\"n2\"} 3\n"
            "# TYPE mxgate_h histogram\nmxgate_h_count{node=\"n1\"} 1\n");
  out.clear();
  EXPECT_EQ(merge_node_stats(out, {}), 0u);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace mx::ipc
