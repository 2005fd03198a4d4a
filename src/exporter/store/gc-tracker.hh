#pragma once
// The gc collector's analysis kept up to date at the cost of what changed.
//
// - The reference graph: new paths are appended from their rows alone (store-delta.hh proves
//   nothing else changed, or says why the whole graph is read again).
// - Reachability: the live set is closed under the collector's edges, and adding paths or roots
//   takes nothing's life away, so marking forward from what is new (roots and temporary roots
//   not yet live, a live path's deriver that just became valid) gives what a full mark gives.
//   Removing a root or a temporary root on a valid path, or a path, can make live paths dead,
//   which marking forward cannot find: then every path is marked again over the held graph
//   (reason roots_removed), or the graph is read again (deleted). A root on a path that is not
//   valid kept nothing alive (Nix skips it): its going changes nothing.
// - What each root alone keeps (dominators, root-ownership.hh): when roots and paths were only
//   added (reachability went the incremental way, and no live path's deriver became valid under
//   keep-derivations), the kept owner of every path is brought up to date from the new roots
//   down (extend_root_ownership, whose proof is in root-ownership.cc); otherwise it is computed
//   again in full. Which way is counted apart (ownership_runs: nixos_gc_ownership_analysis_total).
//   Memory kept for it: 4 bytes per path (the owner) plus the roots.
//
// Thread-safety: one thread at a time (the gc collector's worker).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exporter/store/gc-analysis.hh"
#include "exporter/store/store-delta.hh"

namespace nixmon::exporter {

class GcTracker {
 public:
  // The analysis for `inputs` over the database now (without `invalid`, which needs the store
  // directory). `db_changed`: StoreDbWatch saw a commit since the last call. Throws
  // sqlite::SqliteError or Error; after a throw call reset().
  GcAnalysis update(sqlite::Database& db, bool db_changed, const GcInputs& inputs);
  // Forget the graph and the live set (the next update reads everything); the run counts stay.
  void reset();

  // The graph the last update used; null before the first and after reset().
  const StoreGraph* graph() const { return graph_.get(); }
  const AnalysisRuns& runs() const { return runs_; }
  // How the ownership was computed each update: incremental with the analysis' reason, or full
  // with the analysis' reason or the ownership's own (roots_removed, deriver_added).
  const AnalysisRuns& ownership_runs() const { return ownership_runs_; }
  // The data_version the current graph reflects (for StoreDbWatch::seen).
  std::int64_t data_version() const { return mark_.data_version; }
  // How many times the graph was read in full: between two equal values it only grew at its end
  // (the store directory scan relies on that, store-dir-watch.hh).
  std::uint64_t graph_reads() const { return graph_reads_; }

 private:
  std::unique_ptr<StoreGraph> graph_;
  StoreDbMark mark_;
  GcSettings settings_;
  std::vector<std::uint8_t> live_;
  Closure live_total_;
  // The valid paths of the roots and temporary roots marked from, sorted, distinct.
  std::vector<StoreGraph::Index> marked_from_;
  std::optional<OwnershipState> ownership_;
  AnalysisRuns runs_;
  AnalysisRuns ownership_runs_;
  int incremental_in_a_row_ = 0;
  std::uint64_t graph_reads_ = 0;
};

}  // namespace nixmon::exporter
