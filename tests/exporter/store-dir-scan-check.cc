// Drives the store directory scan kept from inotify events (store-dir-watch.hh) over a real store
// for the end-to-end test (tests/e2e/test_store_incremental.py): each line "step" on stdin brings
// the gc graph and the kept invalid entries up to date as the gc collector's worker does, then
// scans the whole directory against a graph read from a fresh connection, and prints
//   step <kind/reason> same|DIFFERENT
// followed, when they differ, by both lists, then "end". Usage errors exit 2.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <string>

#include "exporter/store/gc-tracker.hh"
#include "exporter/store/store-dir-watch.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {

std::string describe(const InvalidEntries& e) {
  std::map<std::string, std::string> sorted;
  for (const auto& r : e.reclaimable)
    sorted[r.name] = r.disk_bytes ? std::to_string(*r.disk_bytes) : "-";
  std::string out = fmt::format("held {}\n", e.held);
  for (const auto& [name, bytes] : sorted) out += fmt::format("{} {}\n", name, bytes);
  auto s = summarise(e);
  return out + fmt::format("summary {} {} {} {}\n", s.entries,
                           s.disk_bytes ? std::to_string(*s.disk_bytes) : "-", s.unmeasured,
                           s.held);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--path.root") {
    std::cerr << "usage: store-dir-scan-check --path.root ROOT  (commands on stdin: step)\n";
    return 2;
  }
  try {
    HostRoot root(argv[2]);
    constexpr std::chrono::milliseconds busy{5000};
    StoreDbWatch watch(root, busy);
    GcTracker gc;
    StoreDirTracker dir(root);
    for (std::string line; std::getline(std::cin, line);) {
      if (line != "step") {
        std::cerr << "unknown command '" << line << "'\n";
        return 2;
      }
      bool changed = watch.changed();
      auto inputs = read_gc_inputs(root, /*runtime_roots=*/false);
      gc.update(watch.db(), changed, inputs);
      watch.seen(gc.data_version());
      auto before = dir.runs();
      auto kept = describe(dir.update(*gc.graph(), gc.graph_reads(), inputs.temp_roots));
      std::string run = "none";
      for (const auto& [key, n] : dir.runs().counts) {
        auto it = before.counts.find(key);
        if (it == before.counts.end() || it->second != n) run = key.first + "/" + key.second;
      }
      auto db = open_store_db(root, busy);
      auto graph = StoreGraph::read(db, inputs.settings.keep_outputs);
      auto full = describe(scan_invalid_entries(root, graph, inputs.temp_roots));
      bool same = kept == full;
      std::cout << "step " << run << ' ' << (same ? "same" : "DIFFERENT") << '\n';
      if (!same) std::cout << "--- kept\n" << kept << "--- full\n" << full;
      std::cout << "end" << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "store-dir-scan-check: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
