// Background work of the store and gc analyses after new paths land, incremental against full
// recompute, in the same run on the same database:
//
//   build/bench/store-incremental-bench ROOT [ROUNDS]
//
// ROOT is a store made by bench/make-store.py. For N = 1 and N = 100, each round registers N new
// paths the way Nix does (one transaction; ids from AUTOINCREMENT, each new path referring to two
// existing ones; first as garbage, then each rooted by a gcroots link named bench-incremental-*,
// which the per-root ownership takes in from the new roots down), times the
// trackers bringing their answers up to date (store aggregates; gc graph + reachability + the
// per-root ownership), then times a full recompute of both on the same state; with new roots also
// the per-root ownership alone computed in full on that state (what it cost before it was
// incremental). Also the store directory scan for the invalid entries: each new path is first
// written into the store directory as Nix does before registering it (a directory with a file
// tree), then the scan kept from inotify events (StoreDirTracker, what the gc collector's worker
// runs) is timed beside a full scan of the directory on the same state. The rows, directories and
// links it added are removed at the end. Prints medians over ROUNDS (default 5) and the
// full/incremental ratio.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "exporter/store/gc-tracker.hh"
#include "exporter/store/store-dir-watch.hh"
#include "exporter/store/store-stats-tracker.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: store-incremental-bench ROOT [ROUNDS]\n");
    return 2;
  }
  HostRoot root(argv[1]);
  // ROUNDS 0: the first (full) analysis only, for its time and the process's peak memory.
  int rounds = argc == 3 ? std::stoi(argv[2]) : 5;
  auto db_path = root.local(store_db_file).string();
  sqlite::Database writer(db_path, sqlite::Database::Mode::read_write);
  writer.busy_timeout(10000);
  writer.exec(
      "PRAGMA foreign_keys = 1");  // as Nix's connections (2.28.0 src/libstore/sqlite.cc:80)
  auto max_id = writer.query_int("SELECT max(id) FROM ValidPaths").value_or(0);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::int64_t> pick(1, max_id);
  fs::path gcroots = root.local("/nix/var/nix/gcroots");
  int serial = 0;

  StoreDbWatch watch(root, std::chrono::milliseconds(10000));
  StoreStatsTracker stats;
  GcTracker gc;
  StoreDirTracker dir(root);
  fs::path store_dir = root.local(nix_store_dir);
  // `scan_s`: the full scan of the store directory; `dir_s`: the kept one brought up to date.
  auto update = [&](double& store_s, double& gc_s, double& scan_s, double& dir_s) {
    bool changed = watch.changed();
    auto t = std::chrono::steady_clock::now();
    StoreStats answer = stats.update(watch.db());  // copied, as the collector's answer is
    store_s = since(t);
    if (answer.valid_paths == 0) std::fprintf(stderr, "an empty store?\n");
    auto inputs = read_gc_inputs(root, false);  // not timed: the same for both
    t = std::chrono::steady_clock::now();
    auto a = gc.update(watch.db(), changed, inputs);
    gc_s = since(t);
    watch.seen(gc.data_version());
    t = std::chrono::steady_clock::now();
    auto kept = summarise(dir.update(*gc.graph(), gc.graph_reads(), inputs.temp_roots));
    dir_s = since(t);
    t = std::chrono::steady_clock::now();
    auto invalid = summarise(scan_invalid_entries(root, *gc.graph(), inputs.temp_roots));
    scan_s = since(t);
    if (invalid.entries > 0)
      std::fprintf(stderr, "%llu invalid entries\n",
                   static_cast<unsigned long long>(invalid.entries));
    if (!(kept == invalid))
      std::fprintf(stderr, "the kept directory scan differs from a full one\n");
    return a.live_paths;
  };
  double s, g, d, k;
  auto t0 = std::chrono::steady_clock::now();
  update(s, g, d, k);
  fmt::print(
      "first analysis: store {:.3f} s, gc {:.3f} s, store directory scan {:.3f} s ({:.1f} s)\n", s,
      g, d, since(t0));

  if (rounds == 0) return 0;
  for (auto [n, rooted] : {std::pair{1, false}, {100, false}, {1, true}, {100, true}}) {
    std::vector<double> inc_store, inc_gc, full_store, full_gc, scan, inc_scan, ownership;
    for (int r = 0; r < rounds; ++r) {
      {
        sqlite::Transaction txn(writer);
        for (int i = 0; i < n; ++i) {
          ++serial;
          auto path = fmt::format("/nix/store/{:032}-bench-incremental-{}", serial, serial);
          std::replace(path.begin() + 11, path.begin() + 43, '0', 'a');
          // The output is on disk before it is registered (as make-store.py's outputs).
          fs::path out = store_dir / path.substr(nix_store_dir.size() + 1);
          fs::create_directories(out / "bin");
          for (auto sub : {"bin/prog", "lib.so", "README"})
            std::fclose(std::fopen((out / sub).c_str(), "w"));
          auto ins = writer.prepare(
              "INSERT INTO ValidPaths (path, hash, registrationTime, narSize, ultimate) "
              "VALUES (?, 'sha256:00', strftime('%s','now'), 4096, 1)");
          ins.bind(1, path);
          ins.run();
          auto id = writer.query_int("SELECT last_insert_rowid()").value_or(0);
          for (int k = 0; k < 2; ++k) {
            auto ref = writer.prepare(
                "INSERT OR REPLACE INTO Refs (referrer, reference) SELECT ?, id "
                "FROM ValidPaths WHERE id >= ? ORDER BY id LIMIT 1");
            ref.bind(1, id);
            ref.bind(2, pick(rng));
            ref.run();
          }
          if (rooted)
            fs::create_symlink(path, gcroots / fmt::format("bench-incremental-{}", serial));
        }
        txn.commit();
      }
      double a, b, c, e;
      update(a, b, c, e);
      if (rooted) {  // the per-root ownership's full computation of the same state, for comparison
        auto inputs = read_gc_inputs(root, false);
        auto t = std::chrono::steady_clock::now();
        auto o = analyse_root_ownership(*gc.graph(), ownership_roots(inputs), inputs.settings);
        ownership.push_back(since(t));
        if (o.roots.empty()) std::fprintf(stderr, "no roots?\n");
      }
      inc_store.push_back(a);
      inc_gc.push_back(b);
      scan.push_back(c);
      inc_scan.push_back(e);
      // The full recompute of the same state: what every change cost before. (The kept directory
      // scan follows the graph read again with a full scan of its own, untimed here.)
      stats.reset();
      gc.reset();
      update(a, b, c, e);
      full_store.push_back(a);
      full_gc.push_back(b);
    }
    fmt::print(
        "{} new paths{}, median of {}: store {:.4f} s incremental vs {:.4f} s full ({:.1f}x); "
        "gc {:.4f} s incremental vs {:.4f} s full ({:.1f}x); store directory scan {:.4f} s "
        "incremental vs {:.4f} s full ({:.1f}x)\n",
        n, rooted ? " (each a new GC root)" : " (garbage)", rounds, median(inc_store),
        median(full_store), median(full_store) / median(inc_store), median(inc_gc), median(full_gc),
        median(full_gc) / median(inc_gc), median(inc_scan), median(scan),
        median(scan) / median(inc_scan));
    if (rooted) {
      fmt::print(
          "  per-root ownership alone computed in full (dominators over every live path) {:.4f} s "
          "(the incremental gc above includes the incremental ownership)\n",
          median(ownership));
    }
  }
  for (const auto& [key, count] : stats.runs().counts)
    fmt::print("store runs {}/{}: {}\n", key.first, key.second, count);
  for (const auto& [key, count] : gc.runs().counts)
    fmt::print("gc runs {}/{}: {}\n", key.first, key.second, count);
  for (const auto& [key, count] : dir.runs().counts)
    fmt::print("store directory scans {}/{}: {}\n", key.first, key.second, count);
  for (const auto& [key, count] : gc.ownership_runs().counts)
    fmt::print("gc ownership runs {}/{}: {}\n", key.first, key.second, count);

  writer.exec("DELETE FROM ValidPaths WHERE path LIKE '%-bench-incremental-%'");
  for (const auto& e : fs::directory_iterator(store_dir)) {
    if (e.path().filename().string().find("-bench-incremental-") != std::string::npos)
      fs::remove_all(e.path());
  }
  for (const auto& e : fs::directory_iterator(gcroots)) {
    if (e.path().filename().string().starts_with("bench-incremental-")) fs::remove(e.path());
  }
  return 0;
}
