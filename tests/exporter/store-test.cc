// The store and gc collectors and what they stand on: GC roots found as Nix finds them, the store
// database opened and checked, reachability, and the two collectors on the nixos-basic root with a
// store database as real Nix creates it (tests/fixtures/store-db/nix-2.8-empty, made by real Nix;
// rows from tests/fixtures/store-db/nixos-basic.sql), compared as whole text against golden files
// (NIXMON_ACCEPT=1 rewrites them). No test here runs Nix: tests/e2e/test_store.py compares with
// real Nix.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/error.hh"
#include "common/sqlite.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/store/gc-analysis.hh"
#include "exporter/store/gc-roots.hh"
#include "exporter/store/store-db.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
using namespace std::string_literals;
namespace fs = std::filesystem;
using nixmon::test::write_text;

namespace {

constexpr long clock_now = 1700086400;  // the clock the fixture's registration times assume

// The fixture database's rows (make-store-db.py): the 14 store paths of the root's three
// generations, glibc, hello and its .drv, the three systems' .drvs, then nix.package's two paths
// (the wrapper every system-path's bin/nix links and the CLI it links) and generation 3's gaming
// specialisation with its .drv.
constexpr unsigned fixture_valid_paths = 14 + 3 + 3 + 2 + 2;
// Their NAR bytes: 1000 + 100 i for the 14 (23100), glibc 50000, hello 7000, its .drv 900, the
// three .drvs 600 each (82800 so far); the nix wrapper 400, the CLI 20000, the specialisation 800
// and its .drv 600.
constexpr unsigned fixture_nar_bytes = 82800 + 400 + 20000 + 800 + 600;

void link(const fs::path& at, const std::string& target) {
  fs::create_directories(at.parent_path());
  fs::create_symlink(target, at);
}

// An empty store database under `root` as real Nix creates it (its schema, its journal mode).
void nix_init_store(const fs::path& root) {
  test::make_empty_nix_store(root);
  ASSERT_TRUE(fs::exists(root / "nix/var/nix/db/db.sqlite"));
}

void run_sql(const fs::path& root, const std::string& sql) {
  sqlite::Database db((root / "nix/var/nix/db/db.sqlite").string(),
                      sqlite::Database::Mode::read_write);
  db.busy_timeout(5000);
  db.exec(sql);
}

// nixos-basic with a real Nix store database holding the fixture's rows, and the GC roots a NixOS
// host has besides its profile: current-system and booted-system links, and a `result` link
// registered in gcroots/auto by its physical path (as a chroot store writes it).
struct StoreHost {
  test::TempDir tmp;
  fs::path root;
  // Pins "now" for the churn windows and the analyses' ages and durations; tests move it.
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(clock_now * 1000);
  explicit StoreHost(bool with_db = true) : root(tmp.path() / "root") {
    test::copy_tree(test::fixture_root("nixos-basic"), root);
    if (!with_db) return;
    nix_init_store(root);
    run_sql(root, test::read_text(test::source_dir() / "tests/fixtures/store-db/nixos-basic.sql"));
    link(root / "nix/var/nix/gcroots/current-system", "/run/current-system");
    link(root / "nix/var/nix/gcroots/booted-system", "/run/booted-system");
    std::string systemd = "/nix/store/n6y1rl97ag4c9lzd80kd0v6cfdi02nvj-systemd-256.1";
    link(root / "home/alice/result", systemd);
    link(root / "nix/var/nix/gcroots/auto/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         (root / "home/alice/result").string());
    link(root / "nix/var/nix/gcroots/auto/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "/home/bob/gone");
    link(root / "nix/var/nix/gcroots/not-valid",
         "/nix/store/00000000000000000000000000000000-not-valid");
  }
  // The store or gc collector, checking for changes every `interval`.
  std::unique_ptr<Collector> make(
      std::string_view name, std::chrono::milliseconds interval = std::chrono::seconds(30)) const {
    CollectorContext ctx;
    ctx.root = HostRoot(root);
    ctx.clock = clock;
    if (name == "store") {
      StoreConfig config;
      config.check_interval = interval;
      return make_store_collector(ctx, config);
    }
    if (name != "gc") throw std::logic_error("no store collector " + std::string(name));
    GcConfig config;
    config.check_interval = interval;
    return make_gc_collector(ctx, config);
  }
};

std::string collect_text(Collector& c) {
  MetricSet m;
  c.collect(m);
  return render(m);
}

// Collects until the background computation has answered (or failed). A generous deadline, not a
// timing assertion: the first answer normally takes milliseconds.
std::string collect_ready(Collector& c, std::string_view ready_metric) {
  std::string want = std::string(ready_metric) + " 1\n";
  for (int i = 0; i < 3000; ++i) {
    std::string text = collect_text(c);
    if (text.find(want) != std::string::npos) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("the background computation never answered");
}

// Values that change from run to run: the test machine's disk (ages and durations come from the
// host's ManualClock).
std::string mask_volatile(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    bool volatile_series = line.rfind("nixos_store_filesystem_", 0) == 0;
    if (volatile_series && line[0] != '#') line = line.substr(0, line.rfind(' ')) + " <volatile>";
    out += line + "\n";
  }
  return out;
}

double value_of(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) throw std::runtime_error("no series " + series + " in:\n" + text);
  return std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

TEST(StorePaths, FoundInTextAsNixsRuntimeScanFindsThem) {
  auto found = store_paths_in(
      "7f00-7f01 r-xp /nix/store/abc123-glibc-2.39/lib/libc.so.6\0"
      "PATH=/nix/store/xyz-coreutils-9.4/bin:/usr/bin\0/nix/store/ /nix/store/-bad"s);
  EXPECT_EQ(found, (std::vector<std::string>{"/nix/store/abc123-glibc-2.39",
                                             "/nix/store/xyz-coreutils-9.4"}));
}

TEST(GcRoots, FoundAsNixFindsThem) {
  test::TempDir tmp;
  fs::path r = tmp.path();
  std::string a = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a";
  std::string b = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b";
  std::string c = "/nix/store/cccccccccccccccccccccccccccccccc-c";
  std::string d = "/nix/store/dddddddddddddddddddddddddddddddd-d";
  std::string e = "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e";
  link(r / "nix/var/nix/profiles/system-1-link", a);
  link(r / "nix/var/nix/profiles/system", "system-1-link");  // relative, to a link: same root
  link(r / "nix/var/nix/gcroots/profiles", (r / "nix/var/nix/profiles").string());  // a dir: skip
  link(r / "nix/var/nix/gcroots/per-user/alice/tool", b + "/bin/tool");             // sub-path of b
  link(r / "home/alice/result", c);
  link(r / "nix/var/nix/gcroots/auto/1", "/home/alice/result");  // host path
  link(r / "home/bob/result", d);
  link(r / "nix/var/nix/gcroots/auto/2", (r / "home/bob/result").string());  // physical
  link(r / "nix/var/nix/gcroots/auto/3", "/home/carol/gone");                // gone
  link(r / "home/dave/link-to-link", "/home/alice/result");
  link(r / "nix/var/nix/gcroots/auto/4", "/home/dave/link-to-link");  // two levels: Nix stops
  write_text(r / "nix/var/nix/gcroots/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e",
             "");  // a file names a root

  auto roots = find_gc_roots(HostRoot(r));
  std::set<std::tuple<std::string, std::string, std::string>> got;
  for (auto& x : roots) got.emplace(x.link, x.store_path, std::string(to_string(x.source)));
  std::set<std::tuple<std::string, std::string, std::string>> want{
      {"/nix/var/nix/profiles/system-1-link", a, "profiles"},
      {"/nix/var/nix/gcroots/per-user/alice/tool", b, "gcroots"},
      {"/home/alice/result", c, "gcroots_auto"},
      {"/home/bob/result", d, "gcroots_auto"},
      {"/nix/var/nix/gcroots/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e", e, "gcroots"},
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(roots.size(), want.size()) << "each link once";
}

TEST(GcRoots, RuntimeRootsFromAFakeProc) {
  test::TempDir tmp;
  fs::path r = tmp.path();
  link(r / "proc/42/exe", "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bash-5.2/bin/bash");
  link(r / "proc/42/cwd", "/home/alice");
  link(r / "proc/42/fd/3", "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-data.txt");
  write_text(r / "proc/42/maps",
             "7f00-7f01 r-xp 0 08:01 1 "
             "/nix/store/cccccccccccccccccccccccccccccccc-glibc-2.39/lib/libc.so.6\n");
  write_text(r / "proc/42/environ",
             "A=1\0PATH=/nix/store/dddddddddddddddddddddddddddddddd-c/bin\0"s);
  write_text(r / "proc/self-not-a-pid/maps", "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x\n");
  write_text(r / "proc/sys/kernel/modprobe",
             "/nix/store/ffffffffffffffffffffffffffffffff-kmod/bin/modprobe\n");
  std::set<std::string> got;
  for (auto& x : find_runtime_roots(HostRoot(r))) got.insert(x.link + " " + x.store_path);
  EXPECT_EQ(got, (std::set<std::string>{
                     "/proc/42/exe /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bash-5.2",
                     "/proc/42/fd/3 /nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-data.txt",
                     "/proc/42/maps /nix/store/cccccccccccccccccccccccccccccccc-glibc-2.39",
                     "/proc/42/environ /nix/store/dddddddddddddddddddddddddddddddd-c",
                     "/proc/sys/kernel/modprobe /nix/store/ffffffffffffffffffffffffffffffff-kmod",
                 }));
}

// Another user's process hides its /proc entries (EACCES): skipped, as before. A system error
// (EMFILE, EIO) was skipped too, silently undercounting the roots; it now fails the computation,
// so the gc collector reports failure instead of a reclaimable figure that is too large.
TEST(GcRoots, RuntimeRootsSkipPrivateProcessesButReportSystemErrors) {
  test::TempDir tmp;
  fs::path r = tmp.path();
  link(r / "proc/42/exe", "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bash-5.2/bin/bash");
  link(r / "proc/42/fd/3", "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-data.txt");
  link(r / "proc/43/exe", "/nix/store/cccccccccccccccccccccccccccccccc-sshd/bin/sshd");
  write_text(r / "proc/43/maps",
             "/nix/store/dddddddddddddddddddddddddddddddd-glibc/lib/libc.so.6\n");
  auto private43 = std::make_shared<test::ScriptedFs>();
  private43->fail("proc/43/exe", EACCES);
  private43->fail("proc/43/maps", EACCES);
  std::set<std::string> got;
  for (auto& x : find_runtime_roots(HostRoot(r, private43))) got.insert(x.link);
  EXPECT_EQ(got, (std::set<std::string>{"/proc/42/exe", "/proc/42/fd/3"}));

  for (auto [where, err] :
       {std::pair{"proc/42/fd", EMFILE}, {"proc/43/maps", EIO}, {"proc/42/exe", EIO}}) {
    auto broken = std::make_shared<test::ScriptedFs>();
    broken->fail(where, err);
    try {
      find_runtime_roots(HostRoot(r, broken));
      ADD_FAILURE() << where << ": the error was swallowed";
    } catch (const SysError& e) {
      EXPECT_EQ(e.error_number(), err) << where;
    }
  }
}

TEST(StoreDb, MissingDatabaseIsAnErrorNamingThePath) {
  StoreHost host(/*with_db=*/false);
  try {
    open_store_db(HostRoot(host.root), std::chrono::milliseconds(100));
    FAIL() << "opened a database that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nix/var/nix/db/schema"), std::string::npos) << e.what();
  }
}

TEST(StoreDb, UnknownSchemaVersionIsRefused) {
  StoreHost host;
  write_text(host.root / "nix/var/nix/db/schema", "11");
  try {
    open_store_db(HostRoot(host.root), std::chrono::milliseconds(100));
    FAIL() << "accepted schema 11";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'11'"), std::string::npos) << e.what();
  }
}

TEST(StoreDb, MissingColumnIsRefusedExtraColumnsAndTablesAreNot) {
  StoreHost host;
  // A future Nix adding a column and a table: still fine.
  run_sql(host.root, "ALTER TABLE ValidPaths ADD COLUMN future TEXT; CREATE TABLE Future (x);");
  auto db = open_store_db(HostRoot(host.root), std::chrono::milliseconds(100));
  EXPECT_EQ(read_store_stats(db).valid_paths, fixture_valid_paths);

  // A database whose ValidPaths lacks narSize is not one we know.
  test::TempDir tmp;
  fs::path r = tmp.path();
  write_text(r / "nix/var/nix/db/schema", "10");
  {
    sqlite::Database d((r / "nix/var/nix/db/db.sqlite").string(), sqlite::Database::Mode::create);
    d.exec(
        "CREATE TABLE ValidPaths (id integer primary key, path text, registrationTime integer, "
        "deriver text, ultimate integer); CREATE TABLE Refs (referrer, reference); "
        "CREATE TABLE DerivationOutputs (drv, id, path);");
  }
  try {
    open_store_db(HostRoot(r), std::chrono::milliseconds(100));
    FAIL() << "accepted a ValidPaths without narSize";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ValidPaths.narSize"), std::string::npos) << e.what();
  }
}

TEST(StoreDb, StatsAndGraphOfTheFixture) {
  StoreHost host;
  auto db = open_store_db(HostRoot(host.root), std::chrono::milliseconds(100));
  auto s = read_store_stats(db);
  EXPECT_EQ(s.valid_paths, fixture_valid_paths);
  EXPECT_EQ(s.nar_bytes, fixture_nar_bytes);
  EXPECT_EQ(s.derivations, 5u);  // hello.drv, three system .drvs, the specialisation's .drv
  // A third of 14, hello, its drv; nix.package came with generation 2's system-path (3 days ago),
  // the specialisation with generation 3's system (30 days ago).
  EXPECT_EQ(s.registered_since(clock_now - 24 * 3600), 5u + 2u);
  auto g = StoreGraph::read(db, true);
  EXPECT_EQ(g.size(), fixture_valid_paths);
  EXPECT_EQ(g.total_nar_bytes(), s.nar_bytes);
  auto sys = g.find(
      "/nix/store/lfd46qckgzdys2pdlyvbz6kiikxfcsm0-nixos-system-host-24.05.20240301.ccccccc/"
      "kernel");
  ASSERT_TRUE(sys);
  // kernel, initrd, kernel-modules, sw, systemd and specialisation/gaming
  EXPECT_EQ(g.references(*sys).size(), 6u);
  EXPECT_TRUE(g.deriver(*sys));
  EXPECT_FALSE(g.find("/nix/store/lfd46qckgzdys2pdlyvbz6kiikxfcsm0-other-name"))
      << "the hash alone does not make it the same path";
}

TEST(StoreDb, KeepDerivationsAndKeepOutputsDecideWhatLives) {
  StoreHost host;
  auto db = open_store_db(HostRoot(host.root), std::chrono::milliseconds(100));
  auto g = StoreGraph::read(db, true);
  StoreGraph::Index hello_out = 0, hello_drv = 0;
  for (StoreGraph::Index i = 0; i < g.size(); ++i) {
    if (g.path(i).ends_with("-hello-2.12")) hello_out = i;
    if (g.path(i).ends_with("-hello-2.12.drv")) hello_drv = i;
  }
  std::vector<StoreGraph::Index> out_root{hello_out}, drv_root{hello_drv};
  // Default (keep-derivations): an output keeps its .drv alive; a .drv does not keep its output.
  EXPECT_TRUE(mark_live(g, out_root, {true, false})[hello_drv]);
  EXPECT_FALSE(mark_live(g, drv_root, {true, false})[hello_out]);
  EXPECT_FALSE(mark_live(g, out_root, {false, false})[hello_drv]);
  // keep-outputs: a live .drv keeps its outputs.
  EXPECT_TRUE(mark_live(g, drv_root, {true, true})[hello_out]);
}

TEST(StoreCollectors, NixConfSettingsAreRead) {
  test::TempDir tmp;
  write_text(
      tmp.path() / "etc/nix/nix.conf",
      "# comment\nkeep-outputs = true # direnv\ngc-keep-derivations=false\nkeep-derivations = "
      "maybe\n");
  auto s = read_gc_settings(HostRoot(tmp.path()));
  EXPECT_TRUE(s.keep_outputs);
  EXPECT_FALSE(s.keep_derivations);
  auto d = read_gc_settings(HostRoot(tmp.path() / "nowhere"));
  EXPECT_TRUE(d.keep_derivations);
  EXPECT_FALSE(d.keep_outputs);
}

class StoreCollectorGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(StoreCollectorGolden, MatchesGolden) {
  StoreHost host;
  auto c = host.make(GetParam());
  std::string text = collect_ready(*c, fmt::format("nixos_{}_analysis_ready", GetParam()));
  test::expect_golden(fmt::format("tests/exporter/golden/{}-nixos-basic.prom", GetParam()),
                      mask_volatile(text));
}

INSTANTIATE_TEST_SUITE_P(NixosBasic, StoreCollectorGolden, ::testing::Values("store", "gc"));

TEST(StoreCollectors, WithoutADatabaseTheyFailAtOnce) {
  StoreHost host(/*with_db=*/false);
  for (const char* name : {"store", "gc"}) {
    auto c = host.make(name);
    // Even the first scrape, before the worker's first attempt ends, fails rather than saying
    // "not ready": there is no schema file, so there is no store to wait for.
    for (int i = 0; i < 3; ++i) {
      MetricSet m;
      try {
        c->collect(m);
        FAIL() << name << " reported without a store database:\n" << render(m);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("nix/var/nix/db/schema"), std::string::npos)
            << e.what();
      }
    }
  }
}

TEST(StoreCollectors, NeverReportFiguresBeforeTheFirstAnswer) {
  StoreHost host;
  // Whatever the worker's progress, a scrape shows either ready 0 without figures, or figures.
  for (const char* name : {"store", "gc"}) {
    auto c = host.make(name);
    std::string text = collect_text(*c);
    bool ready = text.find(fmt::format("\nnixos_{}_analysis_ready 1\n", name)) != std::string::npos;
    bool figures = text.find("\nnixos_store_valid_paths ") != std::string::npos ||
                   text.find("\nnixos_gc_reclaimable_paths ") != std::string::npos;
    EXPECT_EQ(ready, figures) << text;
  }
}

TEST(StoreCollectors, RecomputeWhenTheDatabaseOrTheRootsChange) {
  StoreHost host;
  auto store = host.make("store", std::chrono::milliseconds(20));
  auto gc = host.make("gc", std::chrono::milliseconds(20));
  std::string s = collect_ready(*store, "nixos_store_analysis_ready");
  std::string g = collect_ready(*gc, "nixos_gc_analysis_ready");
  EXPECT_EQ(value_of(s, "nixos_store_valid_paths"), fixture_valid_paths);
  EXPECT_EQ(value_of(g, "nixos_gc_reclaimable_paths"), 2);  // hello and its .drv

  // nix-daemon registers a path (another connection commits): data_version moves.
  run_sql(host.root,
          "INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES "
          "('/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-new', 'sha256:0', 1700086000, 123);");
  auto wait_for = [](Collector& c, const std::string& series, double want) {
    for (int i = 0; i < 3000; ++i) {
      std::string text = collect_text(c);
      if (text.find("\n" + series + " ") != std::string::npos && value_of(text, series) == want)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(*store, "nixos_store_valid_paths", fixture_valid_paths + 1));
  EXPECT_TRUE(wait_for(*store, "nixos_store_nar_bytes", fixture_nar_bytes + 123));
  EXPECT_TRUE(wait_for(*gc, "nixos_gc_reclaimable_paths", 3));

  // Deleting generation 1 changes the roots but not the database: its system becomes garbage
  // (nix.package stays alive through the other generations' system-paths).
  fs::remove(host.root / "nix/var/nix/profiles/system-1-link");
  EXPECT_TRUE(wait_for(*gc, "nixos_gc_reclaimable_paths", 3 + 3));  // system, its sw, its .drv
}

TEST(StoreCollectors, AReplacedDatabaseFileIsReopened) {
  StoreHost host;
  auto store = host.make("store", std::chrono::milliseconds(20));
  std::string s = collect_ready(*store, "nixos_store_analysis_ready");
  EXPECT_EQ(value_of(s, "nixos_store_valid_paths"), fixture_valid_paths);
  // A new, empty store database in its place (e.g. restored from a backup).
  fs::remove_all(host.root / "nix/var/nix/db");
  nix_init_store(host.root);
  bool seen = false;
  for (int i = 0; i < 3000 && !seen; ++i) {
    try {
      std::string text = collect_text(*store);
      seen = text.find("\nnixos_store_valid_paths 0\n") != std::string::npos;
    } catch (const Error&) {
      // A scrape between the removal and the new file fails: unknown, not 0.
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(seen);
}

// The analyses' ages and durations are measured on the injected clock's monotonic side: a
// ManualClock that stands still gives duration 0 and age 0, and moving it ages the answer by
// exactly as much while the database and the roots stay unchanged (no new computation).
TEST(StoreCollectors, AnalysisAgesFollowTheInjectedClock) {
  StoreHost host;
  for (const char* name : {"store", "gc"}) {
    SCOPED_TRACE(name);
    auto c = host.make(name, std::chrono::milliseconds(20));
    std::string ready = fmt::format("nixos_{}_analysis_ready", name);
    std::string age = fmt::format("nixos_{}_analysis_age_seconds", name);
    std::string text = collect_ready(*c, ready);
    EXPECT_EQ(value_of(text, age), 0) << text;
    EXPECT_EQ(value_of(text, fmt::format("nixos_{}_analysis_duration_seconds", name)), 0) << text;
    host.clock->advance(std::chrono::seconds(90));
    EXPECT_EQ(value_of(collect_text(*c), age), 90);
    // Steps run meanwhile (every 20 ms, real time) confirm the answer without recomputing it.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    host.clock->advance(std::chrono::milliseconds(2500));
    EXPECT_EQ(value_of(collect_text(*c), age), 92.5);
  }
}
