// nod's Prometheus export: the CPU counter counts only builds whose Nix reported CPU time; the
// pipeline's counters come from one table.
#include "daemon/metrics.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "support/test-support.hh"

using namespace nixmon::nod;

namespace {

BuildRow build(std::string machine, std::optional<int64_t> user, std::optional<int64_t> system) {
  BuildRow b;
  b.span = {1, 0, 1000, 1000, Outcome::success};
  b.name = "x";
  b.machine = std::move(machine);
  b.cpu_user_us = user;
  b.cpu_system_us = system;
  return b;
}

}  // namespace

TEST(BuildMetrics, CpuSecondsOnlyFromBuildsThatReportedThem) {
  BuildMetrics m;
  m.observe(build("local", std::nullopt, std::nullopt));
  // Upstream Nix reports no CPU time: no series at all rather than a 0 that means "unknown".
  EXPECT_EQ(m.render().find("nod_build_cpu_seconds_total"), std::string::npos);
  m.observe(build("local", 1500000, 250000));
  m.observe(build("local", 500000, std::nullopt));
  m.observe(build("ssh-ng://builder", 2000000, 1000000));
  std::string text = m.render();
  EXPECT_NE(text.find("# HELP nod_build_cpu_seconds_total "), std::string::npos) << text;
  EXPECT_NE(text.find("Counts only builds whose Nix reported CPU time (Determinate Nix)"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE nod_build_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("nod_build_cpu_seconds_total{machine=\"local\",mode=\"user\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("nod_build_cpu_seconds_total{machine=\"local\",mode=\"system\"} 0.25\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("nod_build_cpu_seconds_total{machine=\"ssh-ng://builder\",mode=\"user\"} 2\n"),
      std::string::npos);
}

TEST(BuildMetrics, CpuMachinesAreBounded) {
  BuildMetrics m(nullptr, 2);
  for (int i = 0; i < 5; ++i) m.observe(build("ssh://b" + std::to_string(i), 1000000, 0));
  std::string text = m.render();
  EXPECT_NE(text.find("nod_build_cpu_seconds_total{machine=\"other\",mode=\"user\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("ssh://b4"), std::string::npos);
}

// Every scalar counter of the pipeline reaches Prometheus with its own value (security events
// such as writers_rejected used to be in `nod status` only), and every series name is distinct.
TEST(PipelineCounters, EveryCounterOfTheTableIsExportedWithItsValue) {
  Counters c;
  std::set<std::string_view> names;
  uint64_t v = 1;
  for (const CounterInfo& info : counter_table()) {
    (c.*info.member).store(v++);
    EXPECT_TRUE(names.insert(info.metric).second) << info.metric;
    EXPECT_TRUE(info.metric.starts_with("nod_")) << info.metric;
    EXPECT_EQ(info.gauge, !info.metric.ends_with("_total")) << info.metric;
  }
  c.by_action[static_cast<size_t>(Action::msg)] = 7;
  std::string text = BuildMetrics(&c).render();
  v = 1;
  for (const CounterInfo& info : counter_table()) {
    std::string line = fmt::format("\n{} {}\n", info.metric, v++);
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
    EXPECT_NE(
        text.find(fmt::format("# TYPE {} {}\n", info.metric, info.gauge ? "gauge" : "counter")),
        std::string::npos)
        << info.metric;
  }
  EXPECT_NE(text.find("nod_records_by_action_total{action=\"msg\"} 7\n"), std::string::npos);
}

TEST(BuildMetrics, LiveStateIsAddedAtEachRender) {
  BuildMetrics m;
  double depth = 3;
  m.set_live([&depth](nixmon::MetricSet& out) { out.gauge("nod_queue_depth", "d", depth); });
  EXPECT_NE(m.render().find("nod_queue_depth 3\n"), std::string::npos);
  depth = 5;
  EXPECT_NE(m.render().find("nod_queue_depth 5\n"), std::string::npos);
}

// docs/nod-protocol.md's counter reference is the table's (NIXMON_ACCEPT=1 regenerates it).
TEST(PipelineCounters, ReferenceInTheDocsIsFresh) {
  nixmon::test::expect_golden_section("docs/nod-protocol.md", "counters",
                                      counter_reference_markdown());
}

// A kind's series come from its entry in the table of kinds: a git fetch is counted by kind and
// outcome, with its duration, and adds no bytes (it has none).
TEST(BuildMetrics, GitFetchIsCountedUnderItsKind) {
  BuildMetrics m;
  m.observe(GitFetchRow{{1, 0, 2500, 2500, Outcome::unknown}, "https://x/r.git"});
  std::string text = m.render();
  EXPECT_NE(text.find("nod_activities_total{kind=\"git-fetch\",outcome=\"unknown\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("nod_activity_duration_seconds_bucket{kind=\"git-fetch\",le=\"5\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("nod_transferred_bytes_total"), std::string::npos) << text;
}
