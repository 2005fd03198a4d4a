#include "exporter/store/root-ownership.hh"

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>

#include "exporter/host/nixos-system.hh"
#include "exporter/store/store-delta.hh"

namespace nixmon::exporter {

namespace dominators {

std::vector<Node> immediate_dominators(Node nodes, Node entry, const Successors& successors) {
  std::vector<Node> idom_of(nodes, none);
  if (entry >= nodes) return idom_of;

  // 1. Depth-first numbering (preorder) and the spanning tree's parents, without recursion: each
  // frame's successors sit in `pending` above those of the frames below it.
  std::vector<Node> number(nodes, none);  // node -> preorder number
  std::vector<Node> vertex;               // preorder number -> node
  std::vector<Node> parent;               // preorder numbers
  struct Frame {
    Node v;
    std::size_t begin, next, end;
  };
  std::vector<Frame> stack;
  std::vector<Node> pending;
  auto enter = [&](Node v, Node from) {
    number[v] = static_cast<Node>(vertex.size());
    vertex.push_back(v);
    parent.push_back(from);
    std::size_t begin = pending.size();
    successors(v, pending);
    stack.push_back({v, begin, begin, pending.size()});
  };
  enter(entry, none);
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.end) {
      pending.resize(f.begin);
      stack.pop_back();
      continue;
    }
    Node w = pending[f.next++];
    if (number[w] == none) enter(w, number[f.v]);  // invalidates f
  }
  pending.shrink_to_fit();
  const Node n = static_cast<Node>(vertex.size());

  // 2. Predecessors among the reachable nodes, in preorder numbers (compressed rows).
  std::vector<Node> pred_offset(n + 1, 0);
  std::vector<Node> scratch;
  for (Node i = 0; i < n; ++i) {
    scratch.clear();
    successors(vertex[i], scratch);
    for (Node w : scratch) {
      if (w != vertex[i]) ++pred_offset[number[w] + 1];
    }
  }
  for (Node i = 0; i < n; ++i) pred_offset[i + 1] += pred_offset[i];
  std::vector<Node> preds(pred_offset[n]);
  {
    std::vector<Node> fill(pred_offset.begin(), pred_offset.end() - 1);
    for (Node i = 0; i < n; ++i) {
      scratch.clear();
      successors(vertex[i], scratch);
      for (Node w : scratch) {
        if (w != vertex[i]) preds[fill[number[w]]++] = i;
      }
    }
  }
  scratch = {};

  // 3. Semidominators, then immediate dominators (Lengauer and Tarjan 1979, the simple version),
  // all in preorder numbers.
  std::vector<Node> semi(n), label(n), ancestor(n, none), idom(n, none);
  std::vector<Node> bucket_head(n, none), bucket_next(n, none);
  for (Node i = 0; i < n; ++i) semi[i] = label[i] = i;
  std::vector<Node> chain;
  // The node of least semidominator on the forest path above v (v's own label when v is a tree
  // root), compressing the path on the way.
  auto eval = [&](Node v) {
    if (ancestor[v] == none) return v;
    for (Node x = v; ancestor[ancestor[x]] != none; x = ancestor[x]) chain.push_back(x);
    while (!chain.empty()) {
      Node x = chain.back();
      chain.pop_back();
      Node a = ancestor[x];
      if (semi[label[a]] < semi[label[x]]) label[x] = label[a];
      ancestor[x] = ancestor[a];
    }
    return label[v];
  };
  for (Node w = n - 1; w >= 1; --w) {
    for (Node k = pred_offset[w]; k < pred_offset[w + 1]; ++k) {
      Node u = eval(preds[k]);
      if (semi[u] < semi[w]) semi[w] = semi[u];
    }
    bucket_next[w] = bucket_head[semi[w]];
    bucket_head[semi[w]] = w;
    Node p = parent[w];
    ancestor[w] = p;
    for (Node v = bucket_head[p]; v != none; v = bucket_next[v]) {
      Node u = eval(v);
      idom[v] = semi[u] < semi[v] ? u : p;
    }
    bucket_head[p] = none;
  }
  for (Node w = 1; w < n; ++w) {
    if (idom[w] != semi[w]) idom[w] = idom[idom[w]];
  }
  idom_of[entry] = entry;
  for (Node w = 1; w < n; ++w) idom_of[vertex[w]] = vertex[idom[w]];
  return idom_of;
}

std::vector<Node> exclusive_owners(Node paths, std::span<const std::vector<Node>> root_targets,
                                   const Successors& path_successors) {
  // Node 0 is the super-root, 1..R the roots, R+1.. the paths.
  const Node roots = static_cast<Node>(root_targets.size());
  const Node first_path = roots + 1;
  auto successors = [&](Node v, std::vector<Node>& out) {
    if (v == 0) {
      for (Node r = 1; r <= roots; ++r) out.push_back(r);
    } else if (v <= roots) {
      for (Node p : root_targets[v - 1]) out.push_back(first_path + p);
    } else {
      std::size_t from = out.size();
      path_successors(v - first_path, out);
      for (std::size_t i = from; i < out.size(); ++i) out[i] += first_path;
    }
  };
  auto idom = immediate_dominators(first_path + paths, 0, successors);

  // A node's top: its dominator-tree ancestor just below the super-root. Memoised walk up.
  std::vector<Node> top(idom.size(), none);
  std::vector<Node> walk;
  for (Node v = 1; v < idom.size(); ++v) {
    if (idom[v] == none || top[v] != none) continue;
    Node x = v;
    while (top[x] == none && idom[x] != 0) {
      walk.push_back(x);
      x = idom[x];
    }
    Node t = top[x] != none ? top[x] : x;
    top[x] = t;
    for (Node y : walk) top[y] = t;
    walk.clear();
  }
  std::vector<Node> owner(paths, owner_dead);
  for (Node p = 0; p < paths; ++p) {
    Node t = top[first_path + p];
    if (t == none) continue;
    owner[p] = t <= roots ? t - 1 : owner_shared;
  }
  return owner;
}

}  // namespace dominators

namespace {

std::optional<std::uint64_t> system_generation(const GcRoot& r) {
  std::string_view link = r.link;
  auto slash = link.rfind('/');
  std::string_view profile = system_profile;
  auto profile_slash = profile.rfind('/');
  if (r.source != RootSource::profiles || slash == std::string_view::npos ||
      link.substr(0, slash) != profile.substr(0, profile_slash))
    return std::nullopt;
  return parse_generation_link(link.substr(slash + 1), profile.substr(profile_slash + 1));
}

}  // namespace

namespace {

using dominators::Node;
using dominators::owner_dead;
using dominators::owner_shared;

// The root nodes as the full computation makes them: one per link, in the order of the links'
// first appearance, with the valid paths it names (sorted, distinct). A link naming no valid path
// is no node.
std::vector<OwnershipState::Node> root_nodes(const StoreGraph& graph,
                                             std::span<const GcRoot> roots) {
  // One node per link: a /proc entry (runtime roots) may name several paths.
  std::vector<OwnershipState::Node> nodes;
  std::map<std::string_view, std::size_t> by_link;
  for (const auto& r : roots) {
    auto path = graph.find(r.store_path);
    if (!path) continue;  // Nix skips an invalid root
    auto [it, added] = by_link.emplace(r.link, nodes.size());
    if (added) nodes.push_back({{r.link, r.source, system_generation(r), 0, 0}, {}});
    nodes[it->second].targets.push_back(*path);
  }
  for (auto& n : nodes) {
    std::sort(n.targets.begin(), n.targets.end());
    n.targets.erase(std::unique(n.targets.begin(), n.targets.end()), n.targets.end());
  }
  return nodes;
}

// mark_live's edges under `settings`.
auto path_successors(const StoreGraph& graph, GcSettings settings) {
  return [&graph, settings](Node i, std::vector<Node>& out) {
    auto refs = graph.references(i);
    out.insert(out.end(), refs.begin(), refs.end());
    if (settings.keep_derivations) {
      if (auto d = graph.deriver(i)) out.push_back(*d);
    }
    if (settings.keep_outputs) {
      auto outs = graph.outputs(i);
      out.insert(out.end(), outs.begin(), outs.end());
    }
  };
}

// Moves path `p` from owner `from` to owner `to` in the counts.
void move_path(OwnershipState& s, std::uint64_t nar_size, Node from, Node to) {
  if (from == owner_shared) {
    --s.shared_paths;
    s.shared_nar_bytes -= nar_size;
  } else if (from != owner_dead) {
    --s.nodes[from].share.exclusive_paths;
    s.nodes[from].share.exclusive_nar_bytes -= nar_size;
  }
  if (to == owner_shared) {
    ++s.shared_paths;
    s.shared_nar_bytes += nar_size;
  } else if (to != owner_dead) {
    ++s.nodes[to].share.exclusive_paths;
    s.nodes[to].share.exclusive_nar_bytes += nar_size;
  }
}

}  // namespace

OwnershipState root_ownership_state(const StoreGraph& graph, std::span<const GcRoot> roots,
                                    GcSettings settings) {
  OwnershipState s;
  s.settings = settings;
  s.nodes = root_nodes(graph, roots);
  std::vector<std::vector<Node>> targets;
  targets.reserve(s.nodes.size());
  for (const auto& n : s.nodes) targets.push_back(n.targets);
  s.owner = dominators::exclusive_owners(static_cast<Node>(graph.size()), targets,
                                         path_successors(graph, settings));
  for (Node i = 0; i < s.owner.size(); ++i) move_path(s, graph.nar_size(i), owner_dead, s.owner[i]);
  return s;
}

RootOwnership summarise(const OwnershipState& state) {
  RootOwnership o;
  o.shared_paths = state.shared_paths;
  o.shared_nar_bytes = state.shared_nar_bytes;
  o.roots.reserve(state.nodes.size());
  for (const auto& n : state.nodes) o.roots.push_back(n.share);
  // Links are distinct, so this order does not depend on the nodes' order.
  std::sort(o.roots.begin(), o.roots.end(), [](const RootShare& a, const RootShare& b) {
    return std::tie(b.exclusive_nar_bytes, a.link) < std::tie(a.exclusive_nar_bytes, b.link);
  });
  return o;
}

RootOwnership analyse_root_ownership(const StoreGraph& graph, std::span<const GcRoot> roots,
                                     GcSettings settings) {
  return summarise(root_ownership_state(graph, roots, settings));
}

// Why the extension gives what the full computation gives. Write R(p) for the root nodes that
// reach path p; the full computation's owner of p is r when R(p) = {r}, shared when |R(p)| >= 2,
// dead when R(p) is empty (header). Let the new pairs be (n, t): node n (a new link, or an old
// link that names more valid paths than before: a new temporary root joins the temproots node)
// now names path t and did not before, and A(p) the nodes n of new pairs whose t reaches p.
// 1. R_new(p) = R_old(p) + A(p). The edges out of an old path did not change: references of a
//    valid path are immutable in Nix (a re-registration is caught in store-delta.hh and read in
//    full), a new path is registered after its references so no old path refers to it, and the
//    one edge an old path can gain, to its deriver registered after it, is refused below when the
//    old path is live (deriver_added) and followed like any other edge when it is dead. Under
//    keep-outputs a derivation gains an edge when its output becomes valid: there only new roots
//    over the same paths are taken (keep_outputs when paths were added). So what an old target
//    reaches is what it reached before, and everything new comes through new pairs.
// 2. Hence: shared stays shared; owned by r stays r when A(p) is empty or {r} and becomes shared
//    otherwise; dead becomes A(p)'s single node, shared, or stays dead when A(p) is empty. Only
//    paths reachable from the new targets (set S) can change.
// 3. A path below a shared path p is shared (every root reaching p reaches it), so the walk need
//    not enter shared paths: S' = paths reachable from the new targets without passing through
//    a shared path. For p in S' not shared, any way from a new target to p avoids shared paths
//    (else p would be below one), so A(p) is the same measured inside S'.
// 4. A(p) for p in S': exclusive_owners on the subgraph induced by S' with the nodes of new pairs
//    as roots, each naming its new targets in S'. It says the single node of A(p) or shared.
// Paths outside S' keep their owner; new paths outside S' are reached by nothing: dead. Roots
// going away or naming fewer paths, or changed settings, can take reachability away and are
// refused (the caller computes in full).
std::optional<std::string_view> extend_root_ownership(const StoreGraph& graph,
                                                      std::span<const GcRoot> roots,
                                                      GcSettings settings,
                                                      std::span<const StoreGraph::Index> resolved,
                                                      OwnershipState& state) {
  if (settings.keep_derivations != state.settings.keep_derivations ||
      settings.keep_outputs != state.settings.keep_outputs)
    return analysis_reason::settings_changed;
  const std::size_t old_paths = state.owner.size();
  if (graph.size() < old_paths) return analysis_reason::deleted;
  // A derivation's outputs become valid after it: old paths gain edges when paths are added. With
  // none added the graph holds the paths the state was computed on, and no edge changed (an
  // output edge appears only when its output becomes valid).
  if (settings.keep_outputs && graph.size() != old_paths) return analysis_reason::keep_outputs;
  if (settings.keep_derivations) {
    for (auto i : resolved) {
      if (i < old_paths && state.owner[i] != owner_dead) return analysis_reason::deriver_added;
    }
  }

  // Match the roots now with the nodes kept; every kept node must name at least what it did.
  auto now = root_nodes(graph, roots);
  std::map<std::string_view, Node> kept;
  for (Node n = 0; n < state.nodes.size(); ++n) kept.emplace(state.nodes[n].share.link, n);
  std::size_t matched = 0;
  std::vector<Node> sub_nodes;  // the nodes of new pairs (state indices)
  std::vector<std::vector<StoreGraph::Index>> new_targets;
  std::vector<Node> added_nodes;  // indices into `now` of new links
  for (Node k = 0; k < now.size(); ++k) {
    auto it = kept.find(now[k].share.link);
    if (it == kept.end()) {
      added_nodes.push_back(k);
      continue;
    }
    ++matched;
    const auto& old = state.nodes[it->second];
    if (old.share.source != now[k].share.source ||
        !std::includes(now[k].targets.begin(), now[k].targets.end(), old.targets.begin(),
                       old.targets.end()))
      return analysis_reason::roots_removed;
    std::vector<StoreGraph::Index> diff;
    std::set_difference(now[k].targets.begin(), now[k].targets.end(), old.targets.begin(),
                        old.targets.end(), std::back_inserter(diff));
    if (!diff.empty()) {
      sub_nodes.push_back(it->second);
      new_targets.push_back(std::move(diff));
    }
  }
  if (matched != state.nodes.size()) return analysis_reason::roots_removed;

  // Only additions from here on.
  for (Node k = 0; k < sub_nodes.size(); ++k) {
    auto& t = state.nodes[sub_nodes[k]].targets;
    t.insert(t.end(), new_targets[k].begin(), new_targets[k].end());
    std::sort(t.begin(), t.end());
  }
  for (Node k : added_nodes) {
    sub_nodes.push_back(static_cast<Node>(state.nodes.size()));
    new_targets.push_back(now[k].targets);
    state.nodes.push_back(std::move(now[k]));
  }
  state.owner.resize(graph.size(), owner_dead);
  if (sub_nodes.empty()) return std::nullopt;

  // S': reachable from the new targets, not entering shared paths.
  auto successors = path_successors(graph, settings);
  std::vector<bool> seen(graph.size(), false);
  std::vector<Node> reached, stack, next;
  for (const auto& ts : new_targets) {
    for (auto t : ts) {
      if (state.owner[t] == owner_shared || seen[t]) continue;
      seen[t] = true;
      stack.push_back(t);
    }
  }
  while (!stack.empty()) {
    Node v = stack.back();
    stack.pop_back();
    reached.push_back(v);
    next.clear();
    successors(v, next);
    for (Node w : next) {
      if (state.owner[w] == owner_shared || seen[w]) continue;
      seen[w] = true;
      stack.push_back(w);
    }
  }
  seen = {};
  std::sort(reached.begin(), reached.end());
  auto local = [&](Node p) {
    return static_cast<Node>(std::lower_bound(reached.begin(), reached.end(), p) - reached.begin());
  };

  std::vector<std::vector<Node>> sub_targets(sub_nodes.size());
  for (std::size_t k = 0; k < sub_nodes.size(); ++k) {
    for (auto t : new_targets[k]) {
      if (state.owner[t] != owner_shared) sub_targets[k].push_back(local(t));
    }
  }
  auto sub_successors = [&](Node v, std::vector<Node>& out) {
    std::size_t from = out.size();
    successors(reached[v], out);
    std::size_t to = from;
    for (std::size_t i = from; i < out.size(); ++i) {
      if (state.owner[out[i]] != owner_shared) out[to++] = local(out[i]);
    }
    out.resize(to);
  };
  auto sub =
      dominators::exclusive_owners(static_cast<Node>(reached.size()), sub_targets, sub_successors);

  for (Node v = 0; v < reached.size(); ++v) {
    if (sub[v] == owner_dead) continue;  // cannot happen: every path of S' is reached
    const Node p = reached[v];
    const Node old = state.owner[p];
    Node owner = sub[v] == owner_shared ? owner_shared : sub_nodes[sub[v]];
    if (old != owner_dead && owner != old) owner = owner_shared;
    if (owner == old) continue;
    move_path(state, graph.nar_size(p), old, owner);
    state.owner[p] = owner;
  }
  return std::nullopt;
}

RootOwnershipSeries bounded_series(const RootOwnership& ownership, std::size_t top) {
  RootOwnershipSeries s;
  for (const auto& r : ownership.roots) {  // largest first
    if (r.generation) {
      s.generations.push_back(&r);
    } else if (s.top.size() < top) {
      s.top.push_back(&r);
    } else {
      ++s.other_roots;
      s.other_nar_bytes += r.exclusive_nar_bytes;
    }
  }
  std::sort(s.generations.begin(), s.generations.end(),
            [](const RootShare* a, const RootShare* b) { return *a->generation < *b->generation; });
  return s;
}

}  // namespace nixmon::exporter
