// `nixmon hosts` from query answers: unknown stays unknown, hosts meet across jobs, the worst
// come first, and the three outputs.
#include <gtest/gtest.h>

#include <map>

#include "nixmon/host-output.hh"
#include "nixmon/host-state.hh"
#include "nixmon/text-table.hh"

using namespace nixmon::cli;

namespace {

Sample s(std::string name, Labels l, std::optional<double> v) {
  l["__name__"] = std::move(name);
  return {std::move(l), v};
}

// A fleet of three: web1 healthy, db1 with a reboot pending and a critical alert, and old1 that
// is down (its exporter's series are gone, only `up` 0 is left).
std::vector<std::vector<Sample>> fleet() {
  std::vector<Sample> raw = {
      s("up", {{"job", "nixos"}, {"host", "web1"}, {"instance", "10.0.0.1:9971"}}, 1),
      s("up", {{"job", "nod"}, {"host", "web1"}, {"instance", "10.0.0.1:9184"}}, 1),
      s("nixos_system_info", {{"host", "web1"}, {"nixos_version", "24.05.20240301.ccccccc"}}, 1),
      s("nixos_current_generation", {{"host", "web1"}}, 42),
      s("nixos_generation_age_seconds", {{"host", "web1"}}, 3 * 86400 + 5),
      s("nixos_flake_revision_behind", {{"host", "web1"}}, 0),
      s("nixos_reboot_required", {{"host", "web1"}, {"reason", "kernel"}}, 0),
      s("nixos_boot_pending", {{"host", "web1"}}, 0),
      s("nixos_boot_filesystem_avail_bytes", {{"host", "web1"}}, 400),
      s("nixos_boot_filesystem_size_bytes", {{"host", "web1"}}, 1000),
      s("nixos_store_nar_bytes", {{"host", "web1"}}, 12.5 * 1024 * 1024 * 1024),
      s("nixos_gc_reclaimable_nar_bytes", {{"host", "web1"}}, 0),
      s("nod_build_info", {{"host", "web1"}, {"version", "0.1.0"}}, 1),
      s("up", {{"job", "nixos"}, {"host", "db1"}}, 1),
      s("nixos_current_generation", {{"host", "db1"}}, 7),
      s("nixos_reboot_required", {{"host", "db1"}, {"reason", "kernel"}}, 1),
      s("nixos_reboot_required", {{"host", "db1"}, {"reason", "initrd"}}, 1),
      s("nixos_reboot_required", {{"host", "db1"}, {"reason", "systemd"}}, 0),
      s("nixos_channel_behind", {{"host", "db1"}, {"name", "nixos"}}, 1),
      s("ALERTS",
        {{"host", "db1"},
         {"alertname", "DiskFull"},
         {"alertstate", "firing"},
         {"severity", "critical"}},
        1),
      s("ALERTS",
        {{"host", "db1"},
         {"alertname", "Later"},
         {"alertstate", "pending"},
         {"severity", "critical"}},
        1),
      s("up", {{"job", "nixos"}, {"instance", "old1:9971"}}, 0),
      s("ALERTS", {{"alertname", "FleetDrift"}, {"alertstate", "firing"}}, 1),
  };
  std::vector<Sample> failures = {
      s("", {{"host", "db1"}, {"instance", "10.0.0.2:9184"}}, 2.9),
  };
  return {raw, failures};
}

}  // namespace

TEST(Hosts, HostOfPrefersTheHostLabelElseInstanceWithoutPort) {
  EXPECT_EQ(host_of({{"host", "web1"}, {"instance", "10.0.0.1:9971"}}), "web1");
  EXPECT_EQ(host_of({{"instance", "10.0.0.1:9971"}}), "10.0.0.1");
  EXPECT_EQ(host_of({{"instance", "[::1]:9971"}}), "[::1]");
  EXPECT_EQ(host_of({{"instance", "web1"}}), "web1");
  EXPECT_EQ(host_of({}), "");
}

TEST(Hosts, QueriesAreFewAndNameTheExportersSeries) {
  auto q = host_queries();
  EXPECT_LE(q.size(), 3u);
  for (auto name : {"nixos_system_info", "nixos_gc_reclaimable_nar_bytes", "nixos_boot_pending",
                    "nixos_flake_revision_behind", "nixos_channel_behind"})
    EXPECT_NE(q[0].find(name), std::string::npos) << name;
  EXPECT_NE(q[1].find("nod_builds_total{outcome=\"failed\"}[24h]"), std::string::npos);
}

// The reboot reasons that are 0 (nearly all of them, five per host) are not asked for: only
// those that are 1, and per exporter whether the state is known at all.
TEST(Hosts, RebootReasonsThatAreZeroAreNotAsked) {
  auto q = host_queries();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].find("nixos_reboot_required"), std::string::npos) << q[0];
  EXPECT_NE(q[0].find("alertstate!=\"pending\""), std::string::npos) << q[0];
  EXPECT_EQ(q[2],
            "nixos_reboot_required == 1 or max by (__name__, host, instance) "
            "(nixos_reboot_required)");
}

TEST(Hosts, RebootStateFromItsOwnQuery) {
  std::vector<Sample> raw = {
      s("up", {{"job", "nixos"}, {"host", "a"}}, 1),
      s("up", {{"job", "nixos"}, {"host", "b"}}, 1),
      s("up", {{"job", "nixos"}, {"host", "c"}}, 1),
  };
  std::vector<Sample> reboot = {
      // What `x == 1 or max by (__name__, host, instance) (x)` answers: a's reasons are all 0,
      // b needs a reboot for its kernel, c has no reboot collector.
      s("nixos_reboot_required", {{"host", "a"}}, 0),
      s("nixos_reboot_required", {{"host", "b"}, {"job", "nixos"}, {"reason", "kernel"}}, 1),
      s("nixos_reboot_required", {{"host", "b"}}, 1),
  };
  auto hosts = assemble_hosts({raw, {}, reboot});
  ASSERT_EQ(hosts.size(), 3u);
  std::map<std::string, HostState> by;
  for (const auto& h : hosts) by[h.host] = h;
  EXPECT_EQ(by["a"].reboot_required, false);
  EXPECT_TRUE(by["a"].reboot_reasons.empty());
  EXPECT_EQ(by["b"].reboot_required, true);
  EXPECT_EQ(by["b"].reboot_reasons, std::vector<std::string>{"kernel"});
  EXPECT_FALSE(by["c"].reboot_required);  // unknown, not "no"
}

TEST(Hosts, AssembleRankAndUnknowns) {
  auto hosts = assemble_hosts(fleet());
  ASSERT_EQ(hosts.size(), 3u);  // the fleet-wide alert makes no host
  EXPECT_EQ(hosts[0].host, "old1");
  EXPECT_EQ(hosts[1].host, "db1");
  EXPECT_EQ(hosts[2].host, "web1");

  const auto& old1 = hosts[0];
  EXPECT_EQ(old1.up, false);
  EXPECT_EQ(old1.down_jobs, std::vector<std::string>{"nixos"});
  EXPECT_FALSE(old1.generation);
  EXPECT_FALSE(old1.reboot_required);
  EXPECT_FALSE(old1.build_failures_24h);  // no nod scraped: unknown, not 0

  const auto& db1 = hosts[1];
  EXPECT_EQ(db1.reboot_required, true);
  EXPECT_EQ(db1.reboot_reasons, (std::vector<std::string>{"initrd", "kernel"}));
  EXPECT_EQ(db1.behind, true);
  EXPECT_EQ(db1.behind_what, std::vector<std::string>{"channel nixos"});
  ASSERT_EQ(db1.firing.size(), 1u);  // the pending one is not firing
  EXPECT_EQ(db1.firing[0].name, "DiskFull");
  EXPECT_EQ(db1.build_failures_24h, 3.0);
  EXPECT_FALSE(db1.boot_pending);
  EXPECT_FALSE(db1.nixos_version);

  const auto& web1 = hosts[2];
  EXPECT_EQ(web1.up, true);
  EXPECT_EQ(web1.reboot_required, false);
  EXPECT_EQ(web1.behind, false);
  EXPECT_EQ(web1.build_failures_24h, 0.0);  // nod is there and saw no failure
  ASSERT_TRUE(web1.boot_used_ratio);
  EXPECT_DOUBLE_EQ(*web1.boot_used_ratio, 0.6);
}

TEST(Hosts, RankingPutsUnknownBetweenTroubleAndHealth) {
  HostState healthy, unknown, behind;
  healthy.host = "a";
  healthy.up = true;
  healthy.nixos_version = "24.05";
  healthy.reboot_required = false;
  unknown.host = "b";
  unknown.up = true;
  behind.host = "c";
  behind.up = true;
  behind.nixos_version = "24.05";
  behind.behind = true;
  std::vector<HostState> v = {healthy, unknown, behind};
  rank_hosts(v);
  EXPECT_EQ(v[0].host, "c");
  EXPECT_EQ(v[1].host, "b");
  EXPECT_EQ(v[2].host, "a");
}

TEST(HostsOutput, TableShowsUnknownAsDash) {
  auto hosts = assemble_hosts(fleet());
  EXPECT_EQ(hosts_table(hosts, false),
            "HOST  UP            NIXOS                   GEN  AGE  UPDATE                  REBOOT  "
            "                /BOOT  STORE   RECLAIMABLE  FAILED 24H  FIRING\n"
            "old1  down (nixos)  -                       -    -    -                       -       "
            "                -      -       -            -           none\n"
            "db1   up            -                       7    -    behind (channel nixos)  needed "
            "(initrd,kernel)  -      -       -            3           DiskFull\n"
            "web1  up            24.05.20240301.ccccccc  42   3d   current                 no      "
            "                60%    12 GiB  0 B          0           none\n");
}

TEST(HostsOutput, ColourOnlyWhenAsked) {
  auto hosts = assemble_hosts(fleet());
  auto coloured = hosts_table(hosts, true);
  EXPECT_NE(coloured.find("\033[31mdown (nixos)\033[0m"), std::string::npos);
  EXPECT_NE(coloured.find("\033[31mDiskFull\033[0m"), std::string::npos);
  EXPECT_EQ(hosts_table(hosts, false).find('\033'), std::string::npos);
}

TEST(HostsOutput, JsonNullForUnknownAndCsvEmpty) {
  auto hosts = assemble_hosts(fleet());
  auto json = hosts_json(hosts);
  EXPECT_NE(json.find(R"({"host":"old1","up":false,"down_jobs":["nixos"],"nixos_version":null,)"
                      R"("generation":null,)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("build_failures_24h":0,)"), std::string::npos);
  EXPECT_NE(json.find(R"("firing":[{"alertname":"DiskFull","severity":"critical"}])"),
            std::string::npos);
  EXPECT_EQ(hosts_json({}), "[]\n");
  // A boot that is not pending is no answer to "reboot needed?": only the reboot collector's is.
  HostState no_reboot_collector;
  no_reboot_collector.host = "x";
  no_reboot_collector.boot_pending = false;
  EXPECT_NE(hosts_table({no_reboot_collector}, false)
                .find("x     -   -      -    -    -       -       -      -"),
            std::string::npos)
      << hosts_table({no_reboot_collector}, false);
  auto csv = hosts_csv(hosts);
  EXPECT_NE(csv.find("old1,false,,,,,,,,,,,,\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("db1,true,,7,,true,true,initrd kernel,,,,,3,DiskFull\r\n"), std::string::npos)
      << csv;
}

TEST(TextFigures, AgesBytesPercent) {
  EXPECT_EQ(format_age(59), "59s");
  EXPECT_EQ(format_age(3 * 3600 + 1), "3h");
  EXPECT_EQ(format_age(86400 * 12), "12d");
  EXPECT_EQ(format_bytes(17), "17 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(300.0 * 1024 * 1024), "300 MiB");
  EXPECT_EQ(format_percent(0.123), "12%");
  EXPECT_EQ(csv_record({"a,b", "c\"d", "e"}), "\"a,b\",\"c\"\"d\",e\r\n");
}
