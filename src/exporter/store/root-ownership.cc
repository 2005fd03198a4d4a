#include "exporter/store/root-ownership.hh"

#include <algorithm>
#include <map>
#include <tuple>

#include "exporter/host/nixos-system.hh"

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

RootOwnership analyse_root_ownership(const StoreGraph& graph, std::span<const GcRoot> roots,
                                     GcSettings settings) {
  using dominators::Node;
  // One node per link: a /proc entry (runtime roots) may name several paths.
  std::vector<RootShare> shares;
  std::vector<std::vector<Node>> targets;
  std::map<std::string_view, std::size_t> by_link;
  for (const auto& r : roots) {
    auto path = graph.find(r.store_path);
    if (!path) continue;  // Nix skips an invalid root
    auto [it, added] = by_link.emplace(r.link, shares.size());
    if (added) {
      shares.push_back({r.link, r.source, system_generation(r), 0, 0});
      targets.emplace_back();
    }
    targets[it->second].push_back(*path);
  }

  auto successors = [&](Node i, std::vector<Node>& out) {
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
  auto owner = dominators::exclusive_owners(static_cast<Node>(graph.size()), targets, successors);

  RootOwnership o;
  for (Node i = 0; i < owner.size(); ++i) {
    if (owner[i] == dominators::owner_dead) continue;
    if (owner[i] == dominators::owner_shared) {
      ++o.shared_paths;
      o.shared_nar_bytes += graph.nar_size(i);
    } else {
      ++shares[owner[i]].exclusive_paths;
      shares[owner[i]].exclusive_nar_bytes += graph.nar_size(i);
    }
  }
  std::sort(shares.begin(), shares.end(), [](const RootShare& a, const RootShare& b) {
    return std::tie(b.exclusive_nar_bytes, a.link) < std::tie(a.exclusive_nar_bytes, b.link);
  });
  o.roots = std::move(shares);
  return o;
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
