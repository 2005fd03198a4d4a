#include "exporter/options.hh"

#include <gtest/gtest.h>

#include "common/error.hh"

using namespace nixmon::exporter;

namespace {
ExporterOptions parse(std::vector<std::string> args) {
  CLI::App app;
  ExporterOptions o;
  add_exporter_flags(app, o);
  parse_exporter_args(app, std::move(args));
  return o;
}
}  // namespace

TEST(Options, GoExporterDefaults) {
  auto o = parse({});
  EXPECT_EQ(o.listen, ":9971");
  EXPECT_EQ(o.root, "/");
  EXPECT_TRUE(o.collectors.at("generation"));
}

TEST(Options, ListenAliasAndGoStyleSingleDash) {
  EXPECT_EQ(parse({"--web.listen-address=127.0.0.1:1"}).listen, "127.0.0.1:1");
  EXPECT_EQ(parse({"-listen=:9100"}).listen, ":9100");
  EXPECT_EQ(parse({"-listen", ":9101"}).listen, ":9101");
}

TEST(Options, CollectorSwitches) {
  auto o = parse({"--no-collector.boot", "--collector.reboot"});
  EXPECT_FALSE(o.collectors.at("boot"));
  EXPECT_TRUE(o.collectors.at("reboot"));
}

TEST(Options, UnknownFlagIsAnError) {
  EXPECT_THROW(parse({"--collector.nonesuch"}), CLI::ParseError);
}

// node_exporter.go (v1.12): --web.telemetry-path, --web.disable-exporter-metrics,
// --web.max-requests (default 40), --collector.disable-defaults.
TEST(Options, NodeExporterWebFlags) {
  auto o = parse({});
  EXPECT_EQ(o.telemetry_path, "/metrics");
  EXPECT_FALSE(o.disable_exporter_metrics);
  EXPECT_EQ(o.max_requests, 40);
  o = parse({"--web.telemetry-path=/m", "--web.disable-exporter-metrics", "--web.max-requests=0"});
  EXPECT_EQ(o.telemetry_path, "/m");
  EXPECT_TRUE(o.disable_exporter_metrics);
  EXPECT_EQ(o.max_requests, 0);
  EXPECT_THROW(parse({"--web.telemetry-path=m"}), CLI::ParseError);
}

TEST(Options, DisableDefaultsKeepsOnlyTheNamedCollectors) {
  auto o = parse({"--collector.disable-defaults", "--collector.system", "--no-collector.boot"});
  for (const auto& [name, on] : o.collectors) EXPECT_EQ(on, name == "system") << name;
  // Without it, the defaults stand.
  o = parse({"--collector.system"});
  EXPECT_TRUE(o.collectors.at("generation"));
}

namespace {
CollectorSetup& setup_of(ExporterOptions& o, std::string_view name) {
  auto table = collector_table();
  for (std::size_t i = 0; i < table.size(); ++i)
    if (table[i].name == name) return *o.setups.at(i);
  throw std::logic_error("no collector " + std::string(name));
}

std::string usage_error(CollectorSetup& setup, bool enabled) {
  try {
    setup.configure(enabled);
  } catch (const nixmon::UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

// Each collector declares and checks its own flags: the exporter only hands them the parse.
TEST(Options, EachCollectorChecksItsOwnFlags) {
  CLI::App app;
  ExporterOptions o;
  add_exporter_flags(app, o);
  ASSERT_EQ(o.setups.size(), collector_table().size());
  parse_exporter_args(app, {"--collector.gc.check-interval=0s", "--collector.gc.roots.top=-1",
                            "--channel.check-interval=1 hour"});
  // The store's and gc's flags are checked whether the collector runs or not.
  EXPECT_EQ(usage_error(setup_of(o, "store"), false), "");
  EXPECT_NE(usage_error(setup_of(o, "gc"), false).find("--collector.gc.check-interval"),
            std::string::npos);
  // The flake and channel collectors' only once they run (the URL is required then).
  EXPECT_EQ(usage_error(setup_of(o, "flake"), false), "");
  EXPECT_NE(usage_error(setup_of(o, "flake"), true).find("--flake.url"), std::string::npos);
  EXPECT_EQ(usage_error(setup_of(o, "channel"), false), "");
  EXPECT_NE(usage_error(setup_of(o, "channel"), true).find("--channel.check-interval"),
            std::string::npos);
  // A collector without flags of its own is made from the context alone.
  EXPECT_EQ(usage_error(setup_of(o, "boot"), true), "");
}
