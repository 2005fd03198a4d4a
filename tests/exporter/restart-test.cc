// The restart collector and what it stands on: the unit of a process from its cgroup, the store
// paths in /proc/PID/maps, and the collector on the nixos-restart root (a fake /proc, written by
// tests/fixtures/make-roots.py) with a store database as real Nix 2.8 creates it
// (tests/fixtures/store-db/nix-2.8-empty) holding tests/fixtures/store-db/nixos-restart.sql,
// compared as whole text against a golden file (NIXMON_ACCEPT=1 rewrites it).
// tests/e2e/test_restart.py runs it on real processes and a store built by real Nix.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/error.hh"
#include "common/sqlite.hh"
#include "exporter/collector.hh"
#include "exporter/host/process-code.hh"
#include "exporter/store/store-db.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

struct RestartHost {
  test::TempDir tmp;
  fs::path root;
  explicit RestartHost(bool with_db = true) : root(tmp.path() / "root") {
    test::copy_tree(test::fixture_root("nixos-restart"), root);
    if (!with_db) return;
    test::make_empty_nix_store(root);
    sqlite::Database db((root / "nix/var/nix/db/db.sqlite").string(),
                        sqlite::Database::Mode::read_write);
    db.exec(test::read_text(test::source_dir() / "tests/fixtures/store-db/nixos-restart.sql"));
  }
  CollectorContext context() const {
    CollectorContext ctx;
    ctx.root = HostRoot(root);
    return ctx;
  }
  std::unique_ptr<Collector> make() const {
    for (const auto& e : collector_table()) {
      if (e.name == "restart") return make_with_defaults(e, context());
    }
    throw std::logic_error("no restart collector");
  }
};

std::string collect_text(Collector& c) {
  MetricSet m;
  c.collect(m);
  return render(m);
}

// Collects until the closure is read. A generous deadline, not a timing assertion.
std::string collect_ready(Collector& c) {
  for (int i = 0; i < 3000; ++i) {
    std::string text = collect_text(c);
    if (text.find("nixos_restart_closure_ready 1\n") != std::string::npos) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("the closure was never read");
}

}  // namespace

TEST(UnitOfCgroup, AsSystemdAttributesControlGroups) {
  EXPECT_EQ(unit_of_cgroup("0::/system.slice/nginx.service\n"), "nginx.service");
  EXPECT_EQ(unit_of_cgroup("0::/system.slice/system-getty.slice/getty@tty1.service\n"),
            "getty@tty1.service");
  EXPECT_EQ(unit_of_cgroup("0::/init.scope\n"), "init.scope");
  EXPECT_EQ(unit_of_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"), "session-2.scope");
  // A delegated subtree belongs to its unit as the system manager sees it.
  EXPECT_EQ(unit_of_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"),
            "user@1000.service");
  EXPECT_EQ(unit_of_cgroup("0::/system.slice/docker.service/payload\n"), "docker.service");
  EXPECT_EQ(unit_of_cgroup("0::/system.slice/data.mount\n"), "data.mount");
  // Legacy and hybrid hosts: systemd's own hierarchy.
  EXPECT_EQ(unit_of_cgroup("12:pids:/x\n1:name=systemd:/system.slice/cron.service\n0::/\n"),
            "cron.service");
  // No unit: the root cgroup, a slice alone, cgroups systemd does not manage, another namespace.
  EXPECT_EQ(unit_of_cgroup("0::/\n"), std::nullopt);
  EXPECT_EQ(unit_of_cgroup("0::/system.slice\n"), std::nullopt);
  EXPECT_EQ(unit_of_cgroup("0::/docker/0123abcd\n"), std::nullopt);
  EXPECT_EQ(unit_of_cgroup("0::/../../system.slice/nginx.service\n"), std::nullopt);
  EXPECT_EQ(unit_of_cgroup("9:name=systemd:/\n0::/\n"), std::nullopt);
  EXPECT_EQ(unit_of_cgroup(""), std::nullopt);
  EXPECT_EQ(unit_of_cgroup("0::/system.slice/not a unit.service\n"), std::nullopt);
}

TEST(StoreNamesInMaps, FileBackedStorePathsOnlyEachOnce) {
  std::string maps =
      "00400000-00452000 r-xp 00000000 08:02 173521      /nix/store/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nginx-1.24/bin/nginx\n"
      "00652000-00655000 rw-p 00052000 08:02 173521      /nix/store/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nginx-1.24/bin/nginx\n"
      "00e03000-00e24000 rw-p 00000000 00:00 0           [heap]\n"
      "7f4c2000-7f4c3000 rw-p 00000000 00:00 0 \n"
      "7f4c3000-7f4c4000 r-xp 00000000 08:02 1000        /nix/store/"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.39/lib/libc.so.6 (deleted)\n"
      "7f4c4000-7f4c5000 r--p 00000000 08:02 1001        /usr/lib/locale/C.utf8\n"
      "7f4c5000-7f4c6000 r--p 00000000 08:02 1002        /nix/store/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nginx-1.24/lib/x.so\n";
  auto names = store_names_in_maps(maps, [](std::string_view p) { return std::string(p); });
  EXPECT_EQ(names, (std::vector<std::string>{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nginx-1.24",
                                             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.39"}));
}

TEST(ProcHostPath, PhysicalPathsUnderTheRootAreHostPaths) {
  EXPECT_EQ(proc_host_path("/tmp/r", "/tmp/r/nix/store/a-x/bin/sh"), "/nix/store/a-x/bin/sh");
  EXPECT_EQ(proc_host_path("/tmp/r", "/tmp/r/nix/store/a-x/bin/sh (deleted)"),
            "/nix/store/a-x/bin/sh");
  EXPECT_EQ(proc_host_path("/tmp/r", "/tmp/rx/nix/store/a-x"), "/tmp/rx/nix/store/a-x");
  EXPECT_EQ(proc_host_path("/", "/nix/store/a-x/bin/sh"), "/nix/store/a-x/bin/sh");
}

TEST(RestartCollector, MatchesGolden) {
  RestartHost host;
  auto c = host.make();
  test::expect_golden("tests/exporter/golden/restart-nixos-restart.prom", collect_ready(*c));
}

TEST(RestartCollector, ASwitchIsNeverComparedWithTheOldClosure) {
  RestartHost host;
  auto c = host.make();
  collect_ready(*c);
  // Back to generation 1: until the worker has read its closure, nothing is compared.
  fs::remove(host.root / "run/current-system");
  fs::create_symlink(fs::read_symlink(host.root / "nix/var/nix/profiles/system-1-link"),
                     host.root / "run/current-system");
  std::string text = collect_text(*c);
  EXPECT_NE(text.find("nixos_restart_closure_ready 0\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("nixos_restart_processes"), std::string::npos) << text;
  text = collect_ready(*c);
  // Now the new nginx worker and sshd (the new locale archive) run code outside generation 1;
  // the old agetty is in it.
  EXPECT_NE(text.find("nixos_restart_pending_processes{unit=\"nginx.service\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("nixos_restart_pending_processes{unit=\"sshd.service\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("getty@tty1.service"), std::string::npos) << text;
}

TEST(RestartCollector, WithoutAStoreDatabaseItFails) {
  RestartHost host(/*with_db=*/false);
  auto c = host.make();
  for (int i = 0; i < 3000; ++i) {
    try {
      collect_text(*c);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no Nix store database"), std::string::npos) << e.what();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "the collector never failed";
}

TEST(RestartCollector, WithoutProcItFails) {
  RestartHost host;
  fs::remove_all(host.root / "proc");
  auto c = host.make();
  for (int i = 0; i < 3000; ++i) {
    try {
      if (collect_text(*c).find("nixos_restart_closure_ready 0\n") != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/proc' does not exist"), std::string::npos) << e.what();
      return;
    }
    FAIL() << "no failure without /proc";
  }
  FAIL() << "the closure was never read";
}

namespace {

std::set<std::string> sorted(std::vector<std::string> v) {
  return {v.begin(), v.end()};
}

// The closure as the garbage collector's graph walk gives it (references only).
std::set<std::string> graph_closure(sqlite::Database& db, const std::string& path) {
  auto graph = StoreGraph::read(db, /*with_outputs=*/false);
  auto start = graph.find(path);
  if (!start) throw std::logic_error("not valid: " + path);
  StoreGraph::Index roots[] = {*start};
  auto live = mark_live(graph, roots, GcSettings{false, false});
  std::set<std::string> out;
  for (StoreGraph::Index i = 0; i < graph.size(); ++i)
    if (live[i]) out.emplace(graph.path(i));
  return out;
}

}  // namespace

// The restart collector reads the closure of the current system with one recursive query instead
// of the whole graph: the same paths, references followed to any depth, dangling rows not.
TEST(ClosureQuery, SameAsTheGraphWalkForEveryPath) {
  RestartHost host;
  sqlite::Database db((host.root / "nix/var/nix/db/db.sqlite").string(),
                      sqlite::Database::Mode::read_write);
  // A reference to an id that is no valid path, and that id's own reference (nginx 1.26.1, not
  // otherwise in generation 1's closure): neither is followed.
  db.exec(
      "PRAGMA foreign_keys = OFF; INSERT INTO Refs (referrer, reference) VALUES (1, 999);"
      "INSERT INTO Refs (referrer, reference) VALUES (999, 3);");
  std::string gen1 = "/nix/store/6jh1391xq08k7csrbd0ab2ypgdvfabwa-nixos-system-host-24.05.1";
  auto closure = read_closure_paths(db, gen1);
  ASSERT_TRUE(closure);
  // glibc 2.40 only through systemd and openssh: two levels below the system.
  EXPECT_EQ(
      sorted(*closure),
      (std::set<std::string>{gen1, "/nix/store/fvdddk0xayh389n0gncmqka08q8d4rbj-util-linux-2.39",
                             "/nix/store/i6njvran43pgnbdzi56zzc1q709vg89p-glibc-2.39",
                             "/nix/store/n6h38g4ksi7j1n292hxjy1halsg4vwm2-nginx-1.24.0",
                             "/nix/store/n6y1rl97ag4c9lzd80kd0v6cfdi02nvj-systemd-256.1",
                             "/nix/store/yfqazh1rzvz7z44vvsrbi48dz99xwlx2-openssh-9.7p1",
                             "/nix/store/zsspri341rp38gdpfy5hapjqkmlwfmzm-glibc-2.40"}));
  EXPECT_EQ(closure->size(), sorted(*closure).size());  // each path once
  auto all = db.prepare("SELECT path FROM ValidPaths");
  while (all.step()) {
    std::string path = all.column_text(0);
    auto c = read_closure_paths(db, path);
    ASSERT_TRUE(c) << path;
    EXPECT_EQ(sorted(*c), graph_closure(db, path)) << path;
  }
  EXPECT_EQ(read_closure_paths(db, "/nix/store/00000000000000000000000000000000-not-valid"),
            std::nullopt);
}
