// One read of a system's closure as the restart collector needs it (store path names over
// references only), two ways: `graph` reads the whole reference graph and walks it (what the
// collector did before), `query` walks Refs in the database (read_closure_paths, what it does now).
// One way per process, so the peak RSS that `/usr/bin/time -v` prints is that way's alone.
//
//   build/bench/restart-closure-bench graph|query ROOT SYSTEM-PATH
//
// ROOT is a root made by bench/make-store.py; SYSTEM-PATH a valid path in it (a system
// generation: readlink ROOT/nix/var/nix/profiles/system). Prints the closure's size and the time.
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common/store-path.hh"
#include "exporter/store/store-db.hh"

using namespace nixmon;
using namespace nixmon::exporter;

int main(int argc, char** argv) {
  if (argc != 4 || (std::string_view(argv[1]) != "graph" && std::string_view(argv[1]) != "query")) {
    std::fprintf(stderr, "usage: %s graph|query ROOT SYSTEM-PATH\n", argv[0]);
    return 2;
  }
  std::string_view mode = argv[1];
  std::string system = argv[3];
  auto start = std::chrono::steady_clock::now();
  auto db = open_store_db(HostRoot(argv[2]), std::chrono::seconds(5));
  std::unordered_set<std::string> names;
  if (mode == "graph") {
    auto graph = StoreGraph::read(db, /*with_outputs=*/false);
    auto i = graph.find(system);
    if (!i) return std::fprintf(stderr, "%s is not valid\n", system.c_str()), 1;
    StoreGraph::Index roots[] = {*i};
    auto live = mark_live(graph, roots, GcSettings{false, false});
    for (StoreGraph::Index j = 0; j < graph.size(); ++j)
      if (live[j])
        if (auto n = store_entry_of(graph.path(j))) names.emplace(*n);
  } else {
    auto paths = read_closure_paths(db, system);
    if (!paths) return std::fprintf(stderr, "%s is not valid\n", system.c_str()), 1;
    for (const auto& p : *paths)
      if (auto n = store_entry_of(p)) names.emplace(*n);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu paths in the closure, %.3f s\n", argv[1], names.size(), s);
  return 0;
}
