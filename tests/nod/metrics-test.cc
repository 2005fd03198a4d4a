// nod's Prometheus export: the CPU counter counts only builds whose Nix reported CPU time.
#include "nod/metrics.hh"

#include <gtest/gtest.h>

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
