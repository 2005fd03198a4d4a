#pragma once
// Incremental store and gc analyses beside full ones on the same database, as text to compare:
// used by the unit tests (store-incremental-test.cc) and by store-incremental-check, which the
// end-to-end test drives over real Nix stores.
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <string>

#include "exporter/store/gc-tracker.hh"
#include "exporter/store/root-ownership.hh"
#include "exporter/store/store-stats-tracker.hh"

namespace nixmon::exporter::test {

inline std::string describe(const StoreStats& s) {
  std::string out = fmt::format("valid_paths {}\nnar_bytes {}\nderivations {}\nbuilt_locally {}\n",
                                s.valid_paths, s.nar_bytes, s.derivations, s.built_locally);
  out += "registration_times";
  for (auto t : s.registration_times) out += fmt::format(" {}", t);
  return out + "\n";
}

inline std::string describe(const GcAnalysis& a) {
  std::string out;
  for (std::size_t i = 0; i < a.roots_by_source.size(); ++i)
    out += fmt::format("roots_by_source[{}] {}\n", i, a.roots_by_source[i]);
  out += fmt::format(
      "root_paths {}\nlive_paths {}\nlive_nar_bytes {}\nreclaimable_paths {}\n"
      "reclaimable_nar_bytes {}\ntemp_roots {}\n",
      a.root_paths, a.live_paths, a.live_nar_bytes, a.reclaimable_paths, a.reclaimable_nar_bytes,
      a.temp_roots);
  for (auto& [name, c] : {std::pair{"current", a.current_system}, {"booted", a.booted_system}}) {
    if (c) out += fmt::format("closure {} {} {}\n", name, c->paths, c->nar_bytes);
  }
  if (a.ownership) {
    out += fmt::format("shared {} {}\n", a.ownership->shared_paths, a.ownership->shared_nar_bytes);
    for (const auto& r : a.ownership->roots)
      out += fmt::format("root {} {} generation {} {} {}\n", r.link, to_string(r.source),
                         r.generation ? std::to_string(*r.generation) : "-", r.exclusive_paths,
                         r.exclusive_nar_bytes);
  }
  return out;
}

// The (kind, reason) counted between two snapshots of a tracker's runs: "kind/reason".
inline std::string last_run(const AnalysisRuns& before, const AnalysisRuns& after) {
  for (const auto& [key, n] : after.counts) {
    auto it = before.counts.find(key);
    if (it == before.counts.end() || it->second != n) return key.first + "/" + key.second;
  }
  return "none";
}

// The trackers under test and what a fresh full computation says, side by side.
class IncrementalBeside {
 public:
  explicit IncrementalBeside(HostRoot root) : root_(std::move(root)), watch_(root_, busy) {}

  struct Step {
    std::string store_run, gc_run;              // "kind/reason" of this step
    std::string ownership_run;                  // the gc analysis' ownership part
    std::string store_incremental, store_full;  // describe()
    std::string gc_incremental, gc_full;
  };

  Step step() {
    Step s;
    bool changed = watch_.changed();
    // As the store collector: the aggregates are looked at only when the database changed.
    if (changed || store_last_.empty()) {
      auto store_before = store_.runs();
      store_last_ = describe(store_.update(watch_.db()));
      s.store_run = last_run(store_before, store_.runs());
    } else {
      s.store_run = "unchanged";
    }
    s.store_incremental = store_last_;
    auto inputs = read_gc_inputs(root_, /*runtime_roots=*/false);
    auto gc_before = gc_.runs();
    auto ownership_before = gc_.ownership_runs();
    s.gc_incremental = describe(gc_.update(watch_.db(), changed, inputs));
    s.gc_run = last_run(gc_before, gc_.runs());
    s.ownership_run = last_run(ownership_before, gc_.ownership_runs());
    watch_.seen(gc_.data_version());

    auto db = open_store_db(root_, busy);
    s.store_full = describe(read_store_stats(db));
    auto graph = StoreGraph::read(db, inputs.settings.keep_outputs);
    auto full = analyse_gc(graph, inputs);
    full.ownership = analyse_root_ownership(graph, ownership_roots(inputs), inputs.settings);
    s.gc_full = describe(full);
    return s;
  }

 private:
  static constexpr std::chrono::milliseconds busy{5000};
  HostRoot root_;
  StoreDbWatch watch_;
  StoreStatsTracker store_;
  std::string store_last_;
  GcTracker gc_;
};

}  // namespace nixmon::exporter::test
