#include "exporter/store/gc-analysis.hh"

#include <algorithm>
#include <tuple>

#include "common/store-path.hh"
#include "exporter/host/nixos-system.hh"

namespace nixmon::exporter {

namespace {

std::optional<std::string> system_store_path(const HostRoot& root, std::string_view link) {
  auto target = resolve_system(root, link);
  if (!target || !store_entry_of(*target)) return std::nullopt;
  return std::string(nix_store_dir) + "/" + std::string(*store_entry_of(*target));
}

}  // namespace

bool GcInputs::operator==(const GcInputs& o) const {
  auto key = [](const GcRoot& r) { return std::tie(r.link, r.store_path, r.source); };
  if (roots.size() != o.roots.size()) return false;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    if (key(roots[i]) != key(o.roots[i])) return false;
  }
  return current_system == o.current_system && booted_system == o.booted_system &&
         settings.keep_derivations == o.settings.keep_derivations &&
         settings.keep_outputs == o.settings.keep_outputs && runtime_roots == o.runtime_roots &&
         unreadable_roots == o.unreadable_roots && temp_roots == o.temp_roots &&
         store_dir == o.store_dir;
}

GcInputs read_gc_inputs(const HostRoot& root, bool runtime_roots) {
  GcInputs in;
  in.roots = find_gc_roots(root, &in.unreadable_roots);
  if (runtime_roots) {
    auto more = find_runtime_roots(root);
    in.roots.insert(in.roots.end(), more.begin(), more.end());
  }
  in.current_system = system_store_path(root, current_system_link);
  in.booted_system = system_store_path(root, booted_system_link);
  in.settings = read_gc_settings(root);
  in.runtime_roots = runtime_roots;
  in.temp_roots = read_temp_roots(root);
  in.store_dir = store_dir_stamp(root);
  return in;
}

std::vector<GcRoot> ownership_roots(const GcInputs& inputs) {
  std::vector<GcRoot> roots = inputs.roots;
  for (const auto& p : inputs.temp_roots.paths)
    roots.push_back({"/nix/var/nix/temproots", p, RootSource::runtime});
  return roots;
}

std::vector<StoreGraph::Index> gc_root_paths(const StoreGraph& graph, const GcInputs& inputs,
                                             GcAnalysis& a) {
  a.runtime_roots = inputs.runtime_roots;
  a.settings = inputs.settings;
  a.unreadable_roots = inputs.unreadable_roots;
  a.temp_roots = inputs.temp_roots.paths.size();
  a.temp_root_files_unreadable = inputs.temp_roots.unreadable_files;
  std::vector<StoreGraph::Index> roots;
  for (const auto& r : inputs.roots) {
    // Nix skips a root whose path is not valid ("skipping invalid root").
    auto i = graph.find(r.store_path);
    if (!i) continue;
    ++a.roots_by_source[static_cast<std::size_t>(r.source)];
    roots.push_back(*i);
  }
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  a.root_paths = roots.size();
  // Nix keeps a path whose hash part a live process named (collectGarbage: NixOS/nix 2.8.0
  // src/libstore/gc.cc lines 606-613 and 698-704, master 527-534 and 667-674); for a valid path
  // that is the path itself (the other names sharing a hash, .lock and .chroot, are never valid).
  for (const auto& p : inputs.temp_roots.paths) {
    if (auto i = graph.find(p)) roots.push_back(*i);
  }
  return roots;
}

void finish_gc_analysis(const StoreGraph& graph, const GcInputs& inputs, Closure live,
                        GcAnalysis& a) {
  a.live_paths = live.paths;
  a.live_nar_bytes = live.nar_bytes;
  a.reclaimable_paths = graph.size() - live.paths;
  a.reclaimable_nar_bytes = graph.total_nar_bytes() - live.nar_bytes;
  a.current_system.reset();
  a.booted_system.reset();
  if (inputs.current_system) {
    if (auto i = graph.find(*inputs.current_system)) a.current_system = closure_of(graph, *i);
  }
  if (inputs.booted_system) {
    if (auto i = graph.find(*inputs.booted_system)) a.booted_system = closure_of(graph, *i);
  }
}

GcAnalysis analyse_gc(const StoreGraph& graph, const GcInputs& inputs,
                      std::vector<StoreGraph::Index>* dead) {
  GcAnalysis a;
  auto roots = gc_root_paths(graph, inputs, a);
  auto live = mark_live(graph, roots, inputs.settings);
  Closure total;
  for (StoreGraph::Index i = 0; i < graph.size(); ++i) {
    if (live[i]) {
      ++total.paths;
      total.nar_bytes += graph.nar_size(i);
    } else if (dead) {
      dead->push_back(i);
    }
  }
  finish_gc_analysis(graph, inputs, total, a);
  return a;
}

}  // namespace nixmon::exporter
