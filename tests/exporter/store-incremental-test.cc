// The incremental store and gc analyses (store-delta.hh, store-stats-tracker.hh, gc-tracker.hh)
// beside full ones, on the nixos-basic root with a store database as real Nix creates it
// (tests/fixtures/store-db/nix-2.8-empty; rows from tests/fixtures/store-db/nixos-basic.sql).
// The rows each test writes are the statements Nix itself runs (NixOS/nix 2.28.0
// src/libstore/local-store.cc: RegisterValidPath line 314 inserts without an id, AddReference line
// 318 `insert or replace into Refs`, UpdatePathInfo line 316, InvalidatePath line 326): every step
// must give the full answer, and the kind/reason says which way it was reached.
// tests/e2e/test_store_incremental.py does the same with real Nix.
#include <gtest/gtest.h>

#include <fstream>

#include "common/sqlite.hh"
#include "exporter/collector.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/store/store-config.hh"
#include "incremental-compare.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

constexpr const char* glibc = "/nix/store/kks1r8n1lrb2lq1qgss4h7qhhfrbg9f1-glibc-2.39";

struct Store {
  nixmon::test::TempDir tmp;
  fs::path root;
  Store() : root(tmp.path() / "root") {
    nixmon::test::copy_tree(nixmon::test::fixture_root("nixos-basic"), root);
    nixmon::test::make_empty_nix_store(root);
    sql(nixmon::test::read_text(nixmon::test::source_dir() /
                                "tests/fixtures/store-db/nixos-basic.sql"));
  }
  void sql(const std::string& text) const {
    sqlite::Database db((root / "nix/var/nix/db/db.sqlite").string(),
                        sqlite::Database::Mode::read_write);
    db.busy_timeout(5000);
    db.exec(text);
  }
  // A path as RegisterValidPath inserts it: no id (AUTOINCREMENT picks the next).
  void add(const std::string& path, long nar_size, const std::string& deriver = "",
           const std::string& references_sql = "") const {
    sql(fmt::format(
        "INSERT INTO ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate) "
        "VALUES ('{}', 'sha256:00', 1700090000, {}, {}, 1);{}",
        path, deriver.empty() ? "NULL" : "'" + deriver + "'", nar_size, references_sql));
  }
  void root_link(const std::string& name, const std::string& target) const {
    auto at = root / "nix/var/nix/gcroots" / name;
    fs::create_directories(at.parent_path());
    fs::remove(at);
    fs::create_symlink(target, at);
  }
};

std::string store_path(const std::string& hash_char, const std::string& name) {
  return "/nix/store/" + std::string(32, hash_char[0]) + "-" + name;
}

// "(SELECT id FROM ValidPaths WHERE path = 'p')"
std::string id_of(const std::string& p) {
  return "(SELECT id FROM ValidPaths WHERE path = '" + p + "')";
}

std::string refs(const std::string& from, std::initializer_list<std::string> to) {
  std::string out;
  for (const auto& t : to)
    out += "INSERT OR REPLACE INTO Refs (referrer, reference) VALUES (" + id_of(from) + ", " +
           id_of(t) + ");";
  return out;
}

#define EXPECT_SAME(s)                                \
  do {                                                \
    EXPECT_EQ((s).store_incremental, (s).store_full); \
    EXPECT_EQ((s).gc_incremental, (s).gc_full);       \
  } while (0)

TEST(IncrementalStore, NewPathsAreReadAloneAndGiveTheFullAnswer) {
  Store st;
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  auto s = beside.step();
  EXPECT_EQ(s.store_run, "full/first");
  EXPECT_EQ(s.gc_run, "full/first");
  EXPECT_SAME(s);

  auto app = store_path("a", "app-1.0");
  st.add(app, 4321, "", refs(app, {app, glibc}));
  st.add(store_path("b", "Upper.DRV"), 10);  // LIKE '%.drv' ignores case; so must we
  s = beside.step();
  EXPECT_EQ(s.store_run, "incremental/added");
  EXPECT_EQ(s.gc_run, "incremental/added");
  EXPECT_SAME(s);
  EXPECT_NE(s.store_full.find("valid_paths 26\n"), std::string::npos) << s.store_full;

  // A new root on the new path, and a new path referring to an old dead one: live grows.
  st.root_link("app", app);
  s = beside.step();
  EXPECT_EQ(s.gc_run, "incremental/inputs_changed");
  EXPECT_SAME(s);
  auto user = store_path("c", "user-1.0");
  st.add(user, 77, "",
         refs(user, {app, "/nix/store/dv2cr7s4inspfj33nkyxk0m3bz5jlsc3-linux-6.6.30"}));
  st.root_link("user", user);
  s = beside.step();
  EXPECT_EQ(s.gc_run, "incremental/added");
  EXPECT_SAME(s);
}

TEST(IncrementalStore, ADeletedPathMeansAFullRecompute) {
  Store st;
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  beside.step();
  auto a = store_path("a", "a-1"), b = store_path("b", "b-1");
  st.add(a, 1);
  st.add(b, 2);
  EXPECT_EQ(beside.step().store_run, "incremental/added");
  // One deleted and one added in the same interval: the count still gives it away.
  st.sql("DELETE FROM ValidPaths WHERE path = '" + a + "';");
  st.add(store_path("c", "c-1"), 3);
  auto s = beside.step();
  EXPECT_EQ(s.store_run, "full/deleted");
  EXPECT_EQ(s.gc_run, "full/deleted");
  EXPECT_SAME(s);
  st.sql("DELETE FROM ValidPaths WHERE path = '" + b + "';");
  s = beside.step();
  EXPECT_EQ(s.store_run, "full/deleted");
  EXPECT_SAME(s);
}

TEST(IncrementalStore, UpdatesInPlaceMeanAFullRecompute) {
  Store st;
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  beside.step();
  // Alone: data_version moved, nothing added or deleted.
  st.sql("UPDATE ValidPaths SET narSize = 99999, ultimate = 1 WHERE path = '" + std::string(glibc) +
         "';");
  auto s = beside.step();
  EXPECT_EQ(s.store_run, "full/changed_in_place");
  EXPECT_EQ(s.gc_run, "full/changed_in_place");
  EXPECT_SAME(s);
  // With new rows, as registerValidPaths re-registers a valid path beside new ones: the
  // re-written references of the old path give it away.
  auto sys = std::string(
      "/nix/store/0p005qki3pff6ikpvbfxjpi4l2vry26b-nixos-system-host-24.05.20240101.aaaaaaa");
  st.add(store_path("d", "new-1"), 5);
  st.sql("UPDATE ValidPaths SET narSize = 5 WHERE path = '" + sys + "';" +
         refs(sys, {"/nix/store/3nsxq4ni9g6c3pjn9qjnmvmf7yf725as-systemd-255.4"}));
  s = beside.step();
  EXPECT_EQ(s.store_run, "full/reregistered");
  EXPECT_EQ(s.gc_run, "full/reregistered");
  EXPECT_SAME(s);
}

TEST(IncrementalGc, ARemovedRootMarksEverythingAgain) {
  Store st;
  auto app = store_path("a", "app-1.0");
  st.add(app, 4321, "", refs(app, {glibc}));
  st.root_link("app", app);
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  beside.step();
  fs::remove(st.root / "nix/var/nix/gcroots/app");
  auto s = beside.step();
  EXPECT_EQ(s.gc_run, "full/roots_removed");
  EXPECT_SAME(s);
  // Retargeted: the old path is no longer a root either.
  st.root_link("app", glibc);
  s = beside.step();
  EXPECT_EQ(s.gc_run, "incremental/inputs_changed");
  EXPECT_SAME(s);
  st.root_link("app", app);
  s = beside.step();
  EXPECT_EQ(s.gc_run, "full/roots_removed");
  EXPECT_SAME(s);
}

TEST(IncrementalGc, ADeriverThatBecomesValidAfterItsOutputIsKeptAlive) {
  Store st;
  auto drv = store_path("e", "tool-1.0.drv");
  auto out = store_path("f", "tool-1.0");
  st.add(out, 100, drv);  // substituted: its deriver is not valid (yet)
  st.root_link("tool", out);
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  auto s = beside.step();
  auto dead_before = s.gc_full;
  st.add(drv, 7);  // instantiated later: keep-derivations keeps it, its output being live
  s = beside.step();
  EXPECT_EQ(s.gc_run, "incremental/added");
  EXPECT_SAME(s);
  EXPECT_NE(s.gc_full.find("reclaimable_paths "), std::string::npos);
  EXPECT_NE(s.gc_full, dead_before);
}

TEST(IncrementalGc, KeepOutputsReadsTheGraphAgain) {
  Store st;
  fs::create_directories(st.root / "etc/nix");
  std::ofstream(st.root / "etc/nix/nix.conf") << "keep-outputs = true\n";
  exporter::test::IncrementalBeside beside{HostRoot(st.root)};
  beside.step();
  st.add(store_path("a", "x-1"), 1);
  auto s = beside.step();
  EXPECT_EQ(s.store_run, "incremental/added");
  EXPECT_EQ(s.gc_run, "full/keep_outputs");
  EXPECT_SAME(s);
}

TEST(IncrementalStore, CollectorsCountWhichWayTheyRan) {
  Store st;
  CollectorContext ctx;
  ctx.root = HostRoot(st.root);
  StoreConfig store_config;
  store_config.check_interval = std::chrono::milliseconds(20);
  GcConfig gc_config;
  gc_config.check_interval = std::chrono::milliseconds(20);
  std::unique_ptr<Collector> store = make_store_collector(ctx, store_config);
  std::unique_ptr<Collector> gc = make_gc_collector(ctx, gc_config);
  auto wait_for = [](Collector& c, const std::string& line) {
    for (int i = 0; i < 3000; ++i) {
      MetricSet m;
      c.collect(m);
      if (render(m).find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(*store, "nixos_store_analysis_total{kind=\"full\",reason=\"first\"} 1\n"));
  EXPECT_TRUE(wait_for(*gc, "nixos_gc_analysis_total{kind=\"full\",reason=\"first\"} 1\n"));
  st.add(store_path("a", "x-1"), 1);
  EXPECT_TRUE(
      wait_for(*store, "nixos_store_analysis_total{kind=\"incremental\",reason=\"added\"} 1\n"));
  EXPECT_TRUE(wait_for(*gc, "nixos_gc_analysis_total{kind=\"incremental\",reason=\"added\"} 1\n"));
}

}  // namespace
