#pragma once
// Which GC root keeps how much of the store alive on its own: for every root, the valid paths that
// it reaches and no other root reaches, i.e. what deleting that one root and running
// `nix-store --gc` would free.
//
// How: immediate dominators over a graph with a virtual super-root whose successors are the roots
// (one node per root link; a /proc entry naming several store paths is one node with several
// successors), whose successors are their store paths, whose successors are the edges Nix's
// collector follows (as mark_live: references, a path's deriver under keep-derivations, a
// derivation's outputs under keep-outputs). A root node's only predecessor is the super-root, so
// root r dominates path p exactly when every way from the super-root to p goes through r: when p is
// reachable from r and from no other root. A path's owner is therefore its ancestor in the
// dominator tree just below the super-root when that ancestor is a root node; a path whose
// immediate dominator is the super-root itself is reachable from two or more roots (shared).
//
// Dominators by Lengauer-Tarjan with simple path compression (no balanced linking): O(E log V)
// time, V = roots + live paths, E = the edges among them. Memory while it runs: about ten 32-bit
// words per node plus one per edge (the predecessor lists), freed on return; what is kept is the
// owner of every path (4 bytes each) for a caller that keeps an OwnershipState, and nothing for
// analyse_root_ownership.
// Iterative throughout: a chain of 100,000 references needs no deep call stack.
//
// Thread-safety: pure functions over their arguments.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/store/gc-roots.hh"
#include "exporter/store/store-db.hh"

namespace nixmon::exporter {

namespace dominators {

using Node = std::uint32_t;
inline constexpr Node none = ~Node(0);

// Appends the successors of `v` to `out` (leaves what is there).
using Successors = std::function<void(Node v, std::vector<Node>& out)>;

// The immediate dominator of every node of the graph nodes 0..nodes-1 as seen from `entry`:
// `entry` for the entry itself, `none` for a node that is not reachable from it. Self-loops and
// repeated edges are allowed.
std::vector<Node> immediate_dominators(Node nodes, Node entry, const Successors& successors);

// What exclusive_owners says about a path that no root owns.
inline constexpr Node owner_dead = none;        // reachable from no root
inline constexpr Node owner_shared = none - 1;  // reachable from two or more roots

// For store paths 0..paths-1 and roots 0..R-1 (`root_targets[r]`: the paths root r names), the
// root that alone keeps each path alive, or owner_shared / owner_dead. `path_successors` gives a
// path's successors as path indices.
std::vector<Node> exclusive_owners(Node paths, std::span<const std::vector<Node>> root_targets,
                                   const Successors& path_successors);

}  // namespace dominators

// One GC root (a link, a file named after a store path, or a /proc entry) and what it alone keeps.
struct RootShare {
  std::string link;
  RootSource source = RootSource::gcroots;
  std::optional<std::uint64_t> generation;  // set for a generation link of the system profile
  std::uint64_t exclusive_paths = 0;
  std::uint64_t exclusive_nar_bytes = 0;
};

struct RootOwnership {
  // Every root naming at least one valid path: largest exclusive bytes first, then by link.
  std::vector<RootShare> roots;
  std::uint64_t shared_paths = 0;  // live paths reachable from two or more roots
  std::uint64_t shared_nar_bytes = 0;
};

// Follows mark_live's edges under `settings`; roots whose store paths are not valid are skipped,
// as Nix skips them.
RootOwnership analyse_root_ownership(const StoreGraph& graph, std::span<const GcRoot> roots,
                                     GcSettings settings);

// What an incremental caller keeps between analyses (GcTracker): the root nodes in a fixed order
// and every path's owner. Memory: 4 bytes per path plus the roots.
struct OwnershipState {
  struct Node {
    RootShare share;                         // its exclusive counts kept up to date
    std::vector<StoreGraph::Index> targets;  // sorted, distinct
  };
  std::vector<Node> nodes;
  // Per path: the node index, dominators::owner_shared or dominators::owner_dead.
  std::vector<dominators::Node> owner;
  std::uint64_t shared_paths = 0;
  std::uint64_t shared_nar_bytes = 0;
  GcSettings settings;
};

// analyse_root_ownership's state, and its answer from a state (largest exclusive bytes first).
OwnershipState root_ownership_state(const StoreGraph& graph, std::span<const GcRoot> roots,
                                    GcSettings settings);
RootOwnership summarise(const OwnershipState& state);

// Brings `state`, computed for the graph's first state.owner.size() paths, up to date with
// `roots` over `graph` at the cost of what changed, when roots and paths were only added: the
// graph only grew at its end with paths whose references are among the paths before them (Nix
// registers a path after its references; store-delta.hh proves nothing else changed), and
// `resolved` lists the old paths whose deriver became valid (StoreGraph::append). The proof is
// in root-ownership.cc. Returns the reason a full computation is needed instead (state then
// unspecified): a root went or names fewer paths (analysis_reason::roots_removed), the settings
// changed, paths were added under keep-outputs, or a live path's deriver became valid under
// keep-derivations (analysis_reason::deriver_added).
std::optional<std::string_view> extend_root_ownership(const StoreGraph& graph,
                                                      std::span<const GcRoot> roots,
                                                      GcSettings settings,
                                                      std::span<const StoreGraph::Index> resolved,
                                                      OwnershipState& state);

// The bounded view the gc collector exports: every system generation, the `top` largest other
// roots by exclusive bytes, and the rest summed.
struct RootOwnershipSeries {
  std::vector<const RootShare*> generations;  // by generation number
  std::vector<const RootShare*> top;          // at most `top`, largest first
  std::uint64_t other_roots = 0;
  std::uint64_t other_nar_bytes = 0;
};

RootOwnershipSeries bounded_series(const RootOwnership& ownership, std::size_t top);

}  // namespace nixmon::exporter
