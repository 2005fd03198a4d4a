// nixmon-store-report: what the store and gc collectors compute, once, on the command line.
// `stats` prints the store database's aggregates; `gc` the roots, live and reclaimable figures and
// the system closures; `print-dead` what `nix-store --gc` would delete, one per line, as
// `nix-store --gc --print-dead` prints it: the dead valid paths and the store directory's invalid
// entries (without deleting anything: Nix's --print-dead deletes the names that are no store
// paths, see store/store-dir-scan.hh); `roots` every root with what it alone keeps alive, largest
// first (a table, or JSON with --json).
// A thin shell over the exporter library; the benchmarks and the correctness tests run it.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "common/error.hh"
#include "common/host-root.hh"
#include "common/top-level.hh"
#include "exporter/store/gc-analysis.hh"
#include "exporter/store/root-report.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int run(const std::string& root_dir, const std::string& what, bool runtime_roots, bool json) {
  HostRoot root(root_dir);
  auto db = open_store_db(root, std::chrono::seconds(5));
  if (what == "stats") {
    auto start = Clock::now();
    auto s = read_store_stats(db);
    fmt::print("valid_paths {}\nnar_bytes {}\nderivations {}\nbuilt_paths {}\nseconds {:.6f}\n",
               s.valid_paths, s.nar_bytes, s.derivations, s.built_locally, since(start));
    return 0;
  }
  auto start = Clock::now();
  auto inputs = read_gc_inputs(root, runtime_roots);
  auto graph = StoreGraph::read(db, inputs.settings.keep_outputs);
  std::vector<StoreGraph::Index> dead;
  auto a = analyse_gc(graph, inputs, what == "print-dead" ? &dead : nullptr);
  if (what == "roots") {
    auto ownership = analyse_root_ownership(graph, ownership_roots(inputs), inputs.settings);
    std::string out = json ? root_report_json(ownership, a) : root_report_table(ownership, a);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  auto invalid = scan_invalid_entries(root, graph, inputs.temp_roots);
  a.invalid = summarise(invalid);
  if (what == "print-dead") {
    std::string out;
    for (auto i : dead) {
      out += graph.path(i);
      out += '\n';
    }
    for (const auto& e : invalid.reclaimable) out += fmt::format("{}/{}\n", nix_store_dir, e.name);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  fmt::print("valid_paths {}\n", graph.size());
  for (auto s :
       {RootSource::profiles, RootSource::gcroots, RootSource::gcroots_auto, RootSource::runtime}) {
    fmt::print("roots_{} {}\n", to_string(s), a.roots_by_source[static_cast<std::size_t>(s)]);
  }
  fmt::print("root_paths {}\nlive_paths {}\nlive_nar_bytes {}\n", a.root_paths, a.live_paths,
             a.live_nar_bytes);
  fmt::print("reclaimable_paths {}\nreclaimable_nar_bytes {}\n", a.reclaimable_paths,
             a.reclaimable_nar_bytes);
  fmt::print("reclaimable_invalid_entries {}\nreclaimable_invalid_unmeasured {}\ntemp_roots {}\n",
             a.invalid.entries, a.invalid.unmeasured, a.temp_roots);
  if (a.invalid.disk_bytes)
    fmt::print("reclaimable_invalid_disk_bytes {}\n", *a.invalid.disk_bytes);
  if (a.current_system)
    fmt::print("current_closure_paths {}\ncurrent_closure_nar_bytes {}\n", a.current_system->paths,
               a.current_system->nar_bytes);
  if (a.booted_system)
    fmt::print("booted_closure_paths {}\nbooted_closure_nar_bytes {}\n", a.booted_system->paths,
               a.booted_system->nar_bytes);
  fmt::print("graph_memory_bytes {}\nseconds {:.6f}\n", graph.memory_bytes(), since(start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nixmon-store-report: the store and gc collectors' figures, computed once",
               "nixmon-store-report"};
  std::string root = "/";
  std::string what = "gc";
  bool runtime_roots = false;
  bool json = false;
  app.add_option("--path.root", root, "Where the host's / is")->capture_default_str();
  app.add_flag("--runtime-roots", runtime_roots, "Count paths used by running processes as roots");
  app.add_flag("--json", json, "roots: print JSON instead of a table");
  app.add_option("what", what, "stats, gc, print-dead or roots")
      ->check(CLI::IsMember({"stats", "gc", "print-dead", "roots"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // 2 for every usage error, not CLI11's own codes
  }
  return run_top_level("nixmon-store-report", [&] {
    if (json && what != "roots")
      throw UsageError(fmt::format("--json applies to roots only, not to {}", what));
    check_root_directory(root, "--path.root");
    return run(root, what, runtime_roots, json);
  });
}
