// What each GC root alone keeps, brought up to date by GcTracker from the new roots and paths
// down (extend_root_ownership), beside analyse_root_ownership over the whole graph read afresh:
// every step must give the same answer (counts, shared figures, order, sources, generations),
// and the ownership's kind/reason says the incremental way was taken where it should be, so a
// tracker that always recomputed in full would fail here.
//
// Paths are registered the way Nix registers them (NixOS/nix 2.28.0 src/libstore/local-store.cc:
// RegisterValidPath line 314 inserts without an id, AddReference line 318 `insert or replace
// into Refs`), on an empty database as real Nix creates it (tests/fixtures/store-db/nix-2.8-empty).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/sqlite.hh"
#include "exporter/store/gc-tracker.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::milliseconds busy{5000};

// "/nix/store/<32 base-32 characters>-p<n>", distinct for every n.
std::string store_path(int n) {
  static constexpr std::string_view digits = "0123456789abcdfghijklmnpqrsvwxyz";
  std::string hash(32, '0');
  for (int i = 31, v = n; i >= 0 && v > 0; --i, v /= 32) hash[i] = digits[v % 32];
  return fmt::format("/nix/store/{}-p{}", hash, n);
}

int path_number(const std::string& p) {
  return std::stoi(p.substr(p.rfind("-p") + 2));
}

std::string id_of(const std::string& p) {
  return "(SELECT id FROM ValidPaths WHERE path = '" + p + "')";
}

std::string describe(const RootOwnership& o) {
  std::string out = fmt::format("shared {} {}\n", o.shared_paths, o.shared_nar_bytes);
  for (const auto& r : o.roots) {
    out +=
        fmt::format("root {} source {} generation {} exclusive {} {}\n", r.link,
                    static_cast<int>(r.source), r.generation ? std::to_string(*r.generation) : "-",
                    r.exclusive_paths, r.exclusive_nar_bytes);
  }
  return out;
}

// A store, the roots as GcInputs, the tracker under test, and the full answer beside it.
class Beside {
 public:
  Beside() : root_(tmp_.path() / "root"), watch_(HostRoot(root_), busy) {
    nixmon::test::make_empty_nix_store(root_);
    db_ = std::make_unique<sqlite::Database>((root_ / "nix/var/nix/db/db.sqlite").string(),
                                             sqlite::Database::Mode::read_write);
    db_->busy_timeout(5000);
    db_->exec("PRAGMA foreign_keys = 1");
  }

  // Registers path `n` (NAR size n + 1), referring to `refs` (themselves valid), with an optional
  // deriver `drv` (which need not be valid).
  void add(int n, std::vector<int> refs = {}, std::optional<int> drv = std::nullopt) {
    auto p = store_path(n);
    std::string sql = fmt::format(
        "BEGIN; INSERT INTO ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate) "
        "VALUES ('{}', 'sha256:00', 1700090000, {}, {}, NULL);",
        p, drv ? "'" + store_path(*drv) + "'" : std::string("NULL"), n + 1);
    for (int r : refs) {
      sql += "INSERT OR REPLACE INTO Refs (referrer, reference) VALUES (" + id_of(p) + ", " +
             id_of(store_path(r)) + ");";
    }
    db_->exec(sql + "COMMIT;");
    valid_.insert(n);
  }
  // Records valid path `out` as output "out" of derivation `drv` (registerDrvOutput's row).
  void output(int drv, int out) {
    db_->exec("INSERT INTO DerivationOutputs (drv, id, path) VALUES (" + id_of(store_path(drv)) +
              ", 'out', '" + store_path(out) + "');");
  }
  void remove(int n) {
    db_->exec("DELETE FROM ValidPaths WHERE path = '" + store_path(n) + "';");
    valid_.erase(n);
  }
  bool valid(int n) const { return valid_.count(n) != 0; }

  void root(const std::string& name, int n, RootSource source = RootSource::gcroots) {
    inputs.roots.push_back({name, store_path(n), source});
  }
  void temp_root(int n) {
    inputs.temp_roots.paths.push_back(store_path(n));
    std::sort(inputs.temp_roots.paths.begin(), inputs.temp_roots.paths.end());
  }

  // The ownership's "kind/reason" this step; the answers are compared.
  std::string step() {
    bool changed = watch_.changed();
    auto before = tracker_.ownership_runs();
    auto a = tracker_.update(watch_.db(), changed, inputs);
    watch_.seen(tracker_.data_version());
    std::string run = "none";
    for (const auto& [key, n] : tracker_.ownership_runs().counts) {
      auto it = before.counts.find(key);
      if (it == before.counts.end() || it->second != n) run = key.first + "/" + key.second;
    }
    EXPECT_EQ(a.ownership_runs.counts, tracker_.ownership_runs().counts);

    auto db = open_store_db(HostRoot(root_), busy);
    auto graph = StoreGraph::read(db, inputs.settings.keep_outputs);
    auto full = analyse_root_ownership(graph, ownership_roots(inputs), inputs.settings);
    EXPECT_TRUE(a.ownership.has_value());
    if (a.ownership) {
      EXPECT_EQ(describe(*a.ownership), describe(full)) << "after " << run;
    }
    last_full = describe(full);
    return run;
  }

  GcInputs inputs;
  std::string last_full;

 private:
  nixmon::test::TempDir tmp_;
  fs::path root_;
  std::unique_ptr<sqlite::Database> db_;
  StoreDbWatch watch_;
  GcTracker tracker_;
  std::set<int> valid_;
};

const std::string gcroots = "/nix/var/nix/gcroots/";

TEST(IncrementalOwnership, ANewRootOnAChainSharesWhatItReaches) {
  Beside b;
  b.add(1);
  b.add(2, {1});
  b.add(3, {2});
  b.root(gcroots + "a", 3);
  EXPECT_EQ(b.step(), "full/first");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/a source 1 generation - exclusive 3 9\n"),
            std::string::npos)
      << b.last_full;
  b.root(gcroots + "b", 2);  // an owned path: 2 and 1 become shared, a keeps 3
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  EXPECT_NE(b.last_full.find("shared 2 5\n"), std::string::npos) << b.last_full;
  b.root(gcroots + "c", 1);  // an already shared path: nothing moves, c owns nothing
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/c source 1 generation - exclusive 0 0\n"),
            std::string::npos)
      << b.last_full;
}

TEST(IncrementalOwnership, NewPathsUnderANewRootAndADiamond) {
  Beside b;
  b.add(1);
  b.add(2, {1});
  b.add(3, {1});
  b.add(4, {2, 3});  // a diamond below 4
  b.add(5);          // dead
  b.root(gcroots + "a", 4);
  EXPECT_EQ(b.step(), "full/first");
  b.add(6, {5, 3});  // new, refers to a dead path and into the diamond
  b.add(7, {6});
  b.root(gcroots + "n", 7);
  EXPECT_EQ(b.step(), "incremental/added");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/n source 1 generation - exclusive 3 21\n"),
            std::string::npos)
      << b.last_full;
  EXPECT_NE(b.last_full.find("shared 2 6\n"), std::string::npos) << b.last_full;
  // Two links naming one new path: neither owns it alone.
  b.add(8, {4});
  b.root(gcroots + "x", 8);
  b.root(gcroots + "y", 8);
  EXPECT_EQ(b.step(), "incremental/added");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/x source 1 generation - exclusive 0 0\n"),
            std::string::npos)
      << b.last_full;
  // A root on a dead path, a root on a path not valid yet (skipped), then the path registered.
  b.add(9);
  b.step();
  b.root(gcroots + "dead", 9);
  b.root(gcroots + "later", 10);
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  b.add(10, {9});
  EXPECT_EQ(b.step(), "incremental/added");
  EXPECT_NE(
      b.last_full.find("root /nix/var/nix/gcroots/later source 1 generation - exclusive 1 11\n"),
      std::string::npos)
      << b.last_full;
}

// The cases that decide the walk from the new roots, all in one update so that each must hold
// beside the others: new roots on different dead paths meeting below (shared by neither), a new
// root inside another new root's closure, a dead path whose deriver becomes valid reached by a
// new root (under keep-derivations the new edge is followed), and a /proc entry that already
// owned a path naming one owned by another root (shared) and a new one below its own.
TEST(IncrementalOwnership, NewRootsMeetingInOneUpdate) {
  Beside b;
  b.inputs.settings.keep_derivations = true;
  b.add(1);
  b.add(2, {1});
  b.add(3, {1});
  b.add(4, {}, 50);  // its deriver 50 is not valid yet
  b.add(10);
  b.add(12);
  b.root("/proc/7/maps", 10, RootSource::runtime);
  b.root(gcroots + "b", 12);
  EXPECT_EQ(b.step(), "full/first");
  b.add(50, {1});  // 4's deriver: 4 is dead, so the new edge is no reason for a full computation
  b.add(60, {2});
  b.add(13, {10});
  b.root(gcroots + "x", 2);
  b.root(gcroots + "y", 3);
  b.root(gcroots + "z", 4);
  b.root(gcroots + "v", 60);
  b.root("/proc/7/maps", 12, RootSource::runtime);
  b.root("/proc/7/maps", 13, RootSource::runtime);
  EXPECT_EQ(b.step(), "incremental/added");
  EXPECT_EQ(b.last_full,
            "shared 3 18\n"  // 1 (x, y, z), 2 (x, v), 12 (b, the /proc entry)
            "root /nix/var/nix/gcroots/v source 1 generation - exclusive 1 61\n"
            "root /nix/var/nix/gcroots/z source 1 generation - exclusive 2 56\n"  // 4, 50
            "root /proc/7/maps source 3 generation - exclusive 2 25\n"            // 10, 13
            "root /nix/var/nix/gcroots/y source 1 generation - exclusive 1 4\n"
            "root /nix/var/nix/gcroots/b source 1 generation - exclusive 0 0\n"
            "root /nix/var/nix/gcroots/x source 1 generation - exclusive 0 0\n");
}

TEST(IncrementalOwnership, TemporaryRootsAndLinksNamingSeveralPathsGrow) {
  Beside b;
  b.add(1);
  b.add(2, {1});
  b.add(3);
  b.root(gcroots + "a", 2);
  b.root("/proc/42/maps", 3, RootSource::runtime);
  EXPECT_EQ(b.step(), "full/first");
  b.temp_root(1);  // the temproots node appears: 1 becomes shared
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  b.temp_root(3);  // the node names one more path
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  b.root("/proc/42/maps", 2, RootSource::runtime);  // one more path of the same /proc entry
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  b.inputs.roots.pop_back();  // and gone again: a full computation
  EXPECT_EQ(b.step(), "full/roots_removed");
}

TEST(IncrementalOwnership, SystemGenerationsKeepTheirNumbers) {
  Beside b;
  b.add(1);
  b.add(2, {1});
  b.root("/nix/var/nix/profiles/system-1-link", 2, RootSource::profiles);
  b.step();
  b.add(3, {1});
  b.root("/nix/var/nix/profiles/system-2-link", 3, RootSource::profiles);
  EXPECT_EQ(b.step(), "incremental/added");
  EXPECT_NE(b.last_full.find("system-2-link source 0 generation 2 exclusive 1 4\n"),
            std::string::npos)
      << b.last_full;
}

TEST(IncrementalOwnership, ALinkRetargetedToAPathStillRootedIsAFullComputation) {
  Beside b;
  b.add(1);
  b.add(2);
  b.root(gcroots + "a", 1);
  b.root(gcroots + "b", 2);
  b.root(gcroots + "c", 2);
  b.step();
  b.inputs.roots[2].store_path = store_path(1);  // reachability keeps, ownership does not
  EXPECT_EQ(b.step(), "full/roots_removed");
}

// Nix skips a root whose path is not valid, so it kept nothing alive and its going takes nothing
// away: a builder's /proc entry naming the output it is building, a link left on a deleted path.
TEST(IncrementalOwnership, ARootOnAPathNotValidGoingIsNoRemoval) {
  Beside b;
  b.add(1);
  b.add(2, {1});
  b.root(gcroots + "a", 2);
  b.root("/proc/42/environ", 5, RootSource::runtime);  // not valid
  b.root("/proc/42/environ", 1, RootSource::runtime);
  b.root(gcroots + "stale", 6);  // not valid
  b.temp_root(7);                // not valid
  EXPECT_EQ(b.step(), "full/first");
  b.inputs.roots.erase(b.inputs.roots.begin() + 3);  // stale
  b.inputs.temp_roots.paths.clear();
  b.add(3, {1});
  b.root(gcroots + "c", 3);
  EXPECT_EQ(b.step(), "incremental/added");
  b.inputs.roots.erase(b.inputs.roots.begin() + 1);  // the /proc entry's path not valid
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  b.inputs.roots.erase(b.inputs.roots.begin() + 1);  // and the valid one: a removal
  EXPECT_EQ(b.step(), "full/roots_removed");
}

TEST(IncrementalOwnership, ADeriverValidAfterItsLiveOutputIsAFullComputation) {
  Beside b;
  b.add(1, {}, 2);  // substituted: its deriver 2 is not valid yet
  b.add(3, {}, 4);  // dead, deriver 4 not valid yet
  b.root(gcroots + "a", 1);
  b.step();
  b.add(2);
  EXPECT_EQ(b.step(), "full/deriver_added");
  b.add(4);  // the output is dead: followed when it becomes live
  EXPECT_EQ(b.step(), "incremental/added");
  b.root(gcroots + "b", 3);
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/b source 1 generation - exclusive 2 9\n"),
            std::string::npos)
      << b.last_full;
}

// Under keep-outputs a derivation's outputs become valid after it (old paths gain edges), but
// while no path is added the graph is the one the kept owners were computed on: new roots and
// temporary roots on it (a `nix build` of what is already built) need no full computation.
TEST(IncrementalOwnership, NewRootsUnderKeepOutputsWithoutNewPathsAreIncremental) {
  Beside b;
  b.inputs.settings.keep_outputs = true;
  b.add(1);
  b.add(2);
  b.output(2, 1);  // 2 is a derivation, 1 its output
  b.add(3, {2});
  b.root(gcroots + "a", 3);  // keeps 3, 2 and through keep-outputs 1
  EXPECT_EQ(b.step(), "full/first");
  EXPECT_NE(b.last_full.find("root /nix/var/nix/gcroots/a source 1 generation - exclusive 3 9\n"),
            std::string::npos)
      << b.last_full;
  b.root(gcroots + "b", 1);  // the output becomes shared
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  EXPECT_NE(b.last_full.find("shared 1 2\n"), std::string::npos) << b.last_full;
  b.temp_root(2);  // the derivation, and through it its output
  EXPECT_EQ(b.step(), "incremental/inputs_changed");
  EXPECT_NE(b.last_full.find("shared 2 5\n"), std::string::npos) << b.last_full;
  b.add(4);  // a path added: the whole graph is read again
  b.root(gcroots + "c", 4);
  EXPECT_EQ(b.step(), "full/keep_outputs");
}

// Random stores and random sequences of added paths (referring to old and new ones, some with a
// deriver registered later), added roots (on new, owned, shared and dead paths, on paths not valid
// yet, two links on one path, /proc entries and temporary roots) and now and then a removed root,
// with keep-derivations and keep-outputs (derivations registered after their outputs, as a
// substituted path's deriver is instantiated later) on and off.
TEST(IncrementalOwnership, AgreesWithTheFullComputationOnRandomSequences) {
  int incremental = 0, incremental_keep_outputs = 0, full_expected = 0;
  for (unsigned trial = 0; trial < 24; ++trial) {
    std::mt19937 rng(trial);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    Beside b;
    b.inputs.settings.keep_derivations = trial % 2 == 0;
    b.inputs.settings.keep_outputs = trial % 3 == 2;
    int next = 0;
    std::vector<int> pending_drvs;  // derivers named but not yet valid
    auto add_path = [&] {
      int n = next++;
      std::set<int> refs;
      int fan = n == 0 ? 0 : pick(4);
      for (int k = 0; k < fan; ++k) {
        // Mostly recent paths (chains), some old ones (diamonds, sharing).
        int r = pick(3) == 0 ? pick(n) : std::max(0, n - 1 - pick(5));
        if (b.valid(r)) refs.insert(r);
      }
      std::optional<int> drv;
      if (pick(4) == 0) {
        drv = 100000 + n;
        pending_drvs.push_back(*drv);
      }
      b.add(n, {refs.begin(), refs.end()}, drv);
    };
    auto any_path = [&] { return pick(next + 2); };  // now and then one not valid yet
    for (int i = 0; i < 30; ++i) add_path();
    for (int i = 0; i < 3; ++i) b.root(gcroots + fmt::format("r{}", i), any_path());
    EXPECT_EQ(b.step(), "full/first");
    int links = 3;
    for (int s = 0; s < 25; ++s) {
      std::set<std::pair<std::string, std::string>> counted;  // what the last step counted
      for (const auto& r : b.inputs.roots) {
        if (b.valid(path_number(r.store_path))) counted.insert({r.link, r.store_path});
      }
      int what = pick(10);
      bool removed = false;
      bool added = what < 3 || (what == 9 && !pending_drvs.empty());
      if (what < 3) {
        for (int k = pick(4) + 1; k > 0; --k) add_path();
      }
      if (what >= 2 && what < 8) {
        for (int k = pick(3) + 1; k > 0; --k) {
          int target =
              what == 7 && !b.inputs.roots.empty()
                  ? path_number(
                        b.inputs.roots[pick(static_cast<int>(b.inputs.roots.size()))].store_path)
                  : any_path();
          b.root(gcroots + fmt::format("r{}", links++), target);
        }
      }
      if (what == 8 || what == 0) {  // a link or the temproots naming one more path
        if (pick(2) == 0)
          b.temp_root(any_path());
        else
          b.root(fmt::format("/proc/{}/maps", pick(3)), any_path(), RootSource::runtime);
      }
      if (what == 9 && !pending_drvs.empty()) {
        b.add(pending_drvs.back());
        b.output(pending_drvs.back(), pending_drvs.back() - 100000);  // its output, valid before
        pending_drvs.pop_back();
      }
      if (s % 8 == 7 && b.inputs.roots.size() > 1) {
        auto it = b.inputs.roots.begin() + pick(static_cast<int>(b.inputs.roots.size()));
        GcRoot gone = *it;
        b.inputs.roots.erase(it);
        // A root added this step or on a path not valid at the last step was never counted, and
        // a link naming the same path twice (a /proc entry) still names it: only otherwise is
        // something taken away.
        removed = counted.count({gone.link, gone.store_path}) != 0 &&
                  std::none_of(b.inputs.roots.begin(), b.inputs.roots.end(), [&](const GcRoot& r) {
                    return r.link == gone.link && r.store_path == gone.store_path;
                  });
      }
      auto run = b.step();
      if (run.rfind("incremental/", 0) == 0) {
        ++incremental;
        if (b.inputs.settings.keep_outputs) ++incremental_keep_outputs;
      }
      if (removed) {
        EXPECT_TRUE(run.rfind("full/", 0) == 0) << run;
        ++full_expected;
      } else if (run == "full/keep_outputs") {
        EXPECT_TRUE(b.inputs.settings.keep_outputs && added);
      } else if (run.rfind("full/", 0) == 0) {
        EXPECT_EQ(run, "full/deriver_added");
        EXPECT_TRUE(b.inputs.settings.keep_derivations);
      }
    }
  }
  // Most steps only add: they must have gone the incremental way.
  EXPECT_GT(incremental, 400) << "full after removals: " << full_expected;
  // Under keep-outputs the steps that add no path (new roots alone).
  EXPECT_GT(incremental_keep_outputs, 80);
}

}  // namespace
