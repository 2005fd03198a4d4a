#include "common/exposition.hh"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nixmon;

TEST(Exposition, FormatsValuesLocaleIndependently) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(270553174016.0), "270553174016");
}

TEST(Exposition, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
}

TEST(Exposition, RendersFamiliesInOrderAndMergesByName) {
  MetricSet m;
  m.gauge("b_metric", "B help", 1, {{"x", "1"}});
  m.counter("a_total", "A help", 5);
  m.gauge("b_metric", "B help", 2, {{"x", "2"}});
  EXPECT_EQ(render(m),
            "# HELP b_metric B help\n# TYPE b_metric gauge\n"
            "b_metric{x=\"1\"} 1\nb_metric{x=\"2\"} 2\n"
            "# HELP a_total A help\n# TYPE a_total counter\na_total 5\n");
}

TEST(Exposition, RendersHistogramCumulatively) {
  MetricSet m;
  m.histogram("d_seconds", "D", {{"kind", "build"}}, {0.5, 1}, {1, 3}, 2.25, 4);
  EXPECT_EQ(render(m),
            "# HELP d_seconds D\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{kind=\"build\",le=\"0.5\"} 1\n"
            "d_seconds_bucket{kind=\"build\",le=\"1\"} 3\n"
            "d_seconds_bucket{kind=\"build\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{kind=\"build\"} 2.25\n"
            "d_seconds_count{kind=\"build\"} 4\n");
}

TEST(Exposition, AppendKeepsOneFamilyPerName) {
  MetricSet a, b;
  a.gauge("x", "X", 1, {{"c", "a"}});
  b.gauge("x", "X", 2, {{"c", "b"}});
  b.gauge("y", "Y", 3);
  a.append(std::move(b));
  ASSERT_EQ(a.families().size(), 2u);
  EXPECT_EQ(a.families()[0].samples.size(), 2u);
}
