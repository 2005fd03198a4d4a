#pragma once
// What garbage collection would do, computed from the store graph and the roots: the reclaimable
// paths and their NAR bytes, the roots by where they come from, and the closures of the current
// and booted systems. Shared by the gc collector and the nixmon-store-report tool.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "exporter/store/gc-roots.hh"
#include "exporter/store/root-ownership.hh"
#include "exporter/store/store-db.hh"
#include "exporter/store/store-delta.hh"
#include "exporter/store/store-dir-scan.hh"

namespace nixmon::exporter {

// Everything besides the database that decides what is alive. Compared between checks: when
// neither these nor the database changed, the last answer stands.
struct GcInputs {
  std::vector<GcRoot> roots;
  std::optional<std::string> current_system;  // /run/current-system resolved, if it exists
  std::optional<std::string> booted_system;   // /run/booted-system resolved, if it exists
  GcSettings settings;
  bool runtime_roots = false;
  UnreadableRoots unreadable_roots{};
  TempRoots temp_roots;
  std::optional<StoreDirStamp> store_dir;  // a changed directory means rescanning its entries

  bool operator==(const GcInputs&) const;
};

// Reads the roots (runtime ones only when asked), the temporary roots, the two system links,
// nix.conf's settings and the store directory's stamp.
GcInputs read_gc_inputs(const HostRoot& root, bool runtime_roots);

// Every root that keeps paths alive, for the ownership analysis: `inputs.roots` and, as one more
// root named after the temproots directory (source runtime), the paths running Nix processes hold.
// Without it a path a running build holds would count as freed by deleting the one other root
// that reaches it, which nix-store --gc would not free.
std::vector<GcRoot> ownership_roots(const GcInputs& inputs);

struct GcAnalysis {
  // Roots whose store path is valid, by RootSource (indexed by its value).
  std::array<std::uint64_t, 4> roots_by_source{};
  std::uint64_t root_paths = 0;  // distinct valid store paths that are roots
  std::uint64_t live_paths = 0;
  std::uint64_t live_nar_bytes = 0;
  std::uint64_t reclaimable_paths = 0;
  std::uint64_t reclaimable_nar_bytes = 0;
  std::uint64_t temp_roots = 0;  // distinct store paths named by live processes' temproots files
  std::uint64_t temp_root_files_unreadable = 0;
  UnreadableRoots unreadable_roots{};
  // The store directory's entries that are not valid paths and that nix-store --gc deletes; set
  // by the caller from scan_invalid_entries (it needs the store directory, this the graph).
  InvalidSummary invalid;
  std::optional<Closure> current_system;  // absent when the link is missing or its path invalid
  std::optional<Closure> booted_system;
  bool runtime_roots = false;
  GcSettings settings;
  // What each root alone keeps alive; filled by whoever asks for it (analyse_root_ownership).
  std::optional<RootOwnership> ownership;
  // How the analyses so far were computed (GcTracker); empty for a one-shot analysis.
  AnalysisRuns runs;
  // How the store directory scans behind `invalid` were done (StoreDirTracker); empty for a
  // one-shot analysis.
  AnalysisRuns store_dir_scans;
  // How the ownership was computed so far (GcTracker::ownership_runs); empty for a one-shot one.
  AnalysisRuns ownership_runs;
};

// `dead`, when given, receives the reclaimable paths' indices in graph order. Temporary roots keep
// their valid paths (and what those reach) alive, as Nix's collector does.
GcAnalysis analyse_gc(const StoreGraph& graph, const GcInputs& inputs,
                      std::vector<StoreGraph::Index>* dead = nullptr);

// The parts of analyse_gc around marking, for an incremental caller that keeps the live set:
// the roots' valid paths (temporary roots' included, sorted roots first), the root counts filled
// into `a`; then the live/reclaimable figures and the system closures from a known live total.
std::vector<StoreGraph::Index> gc_root_paths(const StoreGraph& graph, const GcInputs& inputs,
                                             GcAnalysis& a);
void finish_gc_analysis(const StoreGraph& graph, const GcInputs& inputs, Closure live,
                        GcAnalysis& a);

}  // namespace nixmon::exporter
