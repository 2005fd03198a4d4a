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

namespace nixmon::exporter {

// Everything besides the database that decides what is alive. Compared between checks: when
// neither these nor the database changed, the last answer stands.
struct GcInputs {
  std::vector<GcRoot> roots;
  std::optional<std::string> current_system;  // /run/current-system resolved, if it exists
  std::optional<std::string> booted_system;   // /run/booted-system resolved, if it exists
  GcSettings settings;
  bool runtime_roots = false;

  bool operator==(const GcInputs&) const;
};

// Reads the roots (runtime ones only when asked), the two system links and nix.conf's settings.
GcInputs read_gc_inputs(const HostRoot& root, bool runtime_roots);

struct GcAnalysis {
  // Roots whose store path is valid, by RootSource (indexed by its value).
  std::array<std::uint64_t, 4> roots_by_source{};
  std::uint64_t root_paths = 0;  // distinct valid store paths that are roots
  std::uint64_t live_paths = 0;
  std::uint64_t live_nar_bytes = 0;
  std::uint64_t reclaimable_paths = 0;
  std::uint64_t reclaimable_nar_bytes = 0;
  std::optional<Closure> current_system;  // absent when the link is missing or its path invalid
  std::optional<Closure> booted_system;
  bool runtime_roots = false;
  GcSettings settings;
  // What each root alone keeps alive; filled by whoever asks for it (analyse_root_ownership).
  std::optional<RootOwnership> ownership;
};

// `dead`, when given, receives the reclaimable paths' indices in graph order.
GcAnalysis analyse_gc(const StoreGraph& graph, const GcInputs& inputs,
                      std::vector<StoreGraph::Index>* dead = nullptr);

}  // namespace nixmon::exporter
