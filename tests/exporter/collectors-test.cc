// Each collector on each fake root, compared as whole text against a golden file
// (NIXMON_ACCEPT=1 rewrites them). The roots are copied so that link mtimes can be pinned.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/error.hh"
#include "exporter/collector.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

constexpr long fixture_mtime = 1700000000;  // 2023-11-14T22:13:20Z
constexpr long clock_now = 1700086400;      // one day later

struct FakeHost {
  test::TempDir tmp;
  fs::path root;
  explicit FakeHost(std::string_view fixture) : root(tmp.path() / "root") {
    test::copy_tree(test::fixture_root(fixture), root);
    for (auto& e : fs::recursive_directory_iterator(root)) {
      // Links date generations, files like systemd's timer stamps date events: pin both.
      if (e.is_symlink() || e.is_regular_file()) test::set_link_mtime(e.path(), fixture_mtime);
    }
  }
  CollectorContext context() const {
    return {HostRoot(root), std::make_shared<ManualClock>(clock_now * 1000)};
  }
};

const CollectorEntry& entry(std::string_view name) {
  for (const auto& e : collector_table()) {
    if (e.name == name) return e;
  }
  throw std::logic_error("no collector " + std::string(name));
}

// Runs one collector; a failure is rendered as a comment so the golden file records it too.
std::string run(std::string_view collector, const FakeHost& host) {
  auto c = make_with_defaults(entry(collector), host.context());
  MetricSet m;
  try {
    c->collect(m);
  } catch (const Error& e) {
    std::string msg = e.what();
    auto pos = msg.find(host.root.string());
    if (pos != std::string::npos) msg.replace(pos, host.root.string().size(), "<root>");
    return "# collector failed: " + msg + "\n";
  }
  return render(m);
}

// statvfs figures of the test machine's disk change from run to run.
std::string without_filesystem_bytes(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("nixos_boot_filesystem_", 0) == 0)
      line = line.substr(0, line.find(' ')) + " <bytes>";
    out += line + "\n";
  }
  return out;
}

class CollectorGolden : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

}  // namespace

TEST_P(CollectorGolden, MatchesGolden) {
  auto [collector, fixture] = GetParam();
  FakeHost host(fixture);
  std::string text = without_filesystem_bytes(run(collector, host));
  test::expect_golden(fmt::format("tests/exporter/golden/{}-{}.prom", collector, fixture), text);
}

INSTANTIATE_TEST_SUITE_P(
    AllRoots, CollectorGolden,
    ::testing::Combine(::testing::Values("generation", "system", "reboot", "boot", "upgrade"),
                       ::testing::Values("nixos-basic", "nixos-awkward", "non-nixos")),
    [](const auto& info) {
      std::string n = std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(GenerationCollector, AgeFollowsTheCurrentGenerationsLink) {
  FakeHost host("nixos-basic");
  test::set_link_mtime(host.root / "nix/var/nix/profiles/system-3-link", clock_now - 3600);
  std::string text = run("generation", host);
  EXPECT_NE(text.find("nixos_generation_age_seconds 3600\n"), std::string::npos) << text;
}

TEST(RebootCollector, SameSystemNeedsNoReboot) {
  FakeHost host("nixos-basic");
  fs::remove(host.root / "run/booted-system");
  fs::create_symlink(fs::read_symlink(host.root / "run/current-system"),
                     host.root / "run/booted-system");
  std::string text = run("reboot", host);
  EXPECT_EQ(text.find("} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("nixos_reboot_required{reason=\"kernel\"} 0"), std::string::npos) << text;
}

// nixpkgs #53982: the menu still lists a generation whose kernel (GRUB reading the store) or
// whose system (systemd-boot: the ESP keeps a copy of the kernel, but init= names the store) was
// garbage-collected.
TEST(BootCollector, CountsEntriesWhoseFilesAreGone) {
  FakeHost host("nixos-basic");
  std::string before = run("boot", host);
  EXPECT_NE(before.find("nixos_boot_entries_unbootable{loader=\"systemd-boot\"} 0\n"),
            std::string::npos)
      << before;
  for (auto& e : fs::directory_iterator(host.root / "boot/EFI/nixos")) {
    if (e.path().filename().string().find("-linux-6.6.30-bzImage.efi") != std::string::npos)
      fs::remove(e.path());
  }
  // generation 2's system, its closure collected
  auto system2 = fs::read_symlink(host.root / "nix/var/nix/profiles/system-2-link").filename();
  ASSERT_TRUE(fs::remove(host.root / "nix/store" / system2 / "init"));
  std::string text = run("boot", host);
  EXPECT_NE(
      text.find("nixos_boot_entries_missing_files{loader=\"systemd-boot\",kind=\"kernel\"} 2\n"),
      std::string::npos)
      << text;  // generations 1 and 2 share the 6.6.30 kernel
  EXPECT_NE(
      text.find("nixos_boot_entries_missing_files{loader=\"systemd-boot\",kind=\"init\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("nixos_boot_entries_unbootable{loader=\"systemd-boot\"} 2\n"),
            std::string::npos)
      << text;
}

TEST(SystemCollector, NixpkgsAgeFromTheVersionDateAndLixFromTheSystemPath) {
  FakeHost host("nixos-awkward");
  // generation 1 runs Lix and NixOS 23.11.20240101.ddddddd
  fs::remove(host.root / "run/current-system");
  fs::create_symlink(fs::read_symlink(host.root / "nix/var/nix/profiles/system-1-link"),
                     host.root / "run/current-system");
  auto noon = std::chrono::sys_days(std::chrono::year(2024) / 1 / 31) + std::chrono::hours(12);
  CollectorContext ctx{HostRoot(host.root), std::make_shared<ManualClock>(unix_ms(noon))};
  MetricSet m;
  make_with_defaults(entry("system"), ctx)->collect(m);
  std::string text = render(m);
  EXPECT_NE(text.find("nixos_nixpkgs_age_seconds 2635200\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nixos_nix_info{implementation=\"lix\",version=\"2.93.0\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(SystemCollector, NoDateStampNoAge) {
  FakeHost host("nixos-awkward");  // its running system has no sw/bin/nix either
  auto system = fs::read_symlink(host.root / "run/current-system").filename();
  {
    std::ofstream f(host.root / "nix/store" / system / "nixos-version");
    f << "25.11pre-git";
  }
  std::string text = run("system", host);
  EXPECT_NE(text.find("nixos_version=\"25.11pre-git\""), std::string::npos) << text;
  EXPECT_EQ(text.find("nixos_nixpkgs_age_seconds"), std::string::npos) << text;
  EXPECT_EQ(text.find("nixos_nix_info"), std::string::npos) << text;
}
