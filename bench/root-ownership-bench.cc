// What the per-root analysis costs beside reachability on a big store, in process: the graph is
// read once, then Google Benchmark times mark_live (what the gc collector already did) and
// analyse_root_ownership (the dominator computation and the byte sums) over the same graph and
// roots. Before timing, one run of each under a counting operator new prints the peak heap it
// allocated on top of the graph; whole-process peaks: bench/store-bench.sh (`gc` vs `roots`).
//
//   NIXMON_BENCH_STORE_ROOT=/path/to/root build/bench/root-ownership-bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "exporter/store/gc-analysis.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {

std::atomic<std::size_t> heap_now{0}, heap_peak{0};

}  // namespace

// Counts live heap bytes (a size header before each block) so a run's peak can be read.
void* operator new(std::size_t n) {
  auto* p = static_cast<std::size_t*>(std::malloc(n + sizeof(std::max_align_t)));
  if (!p) throw std::bad_alloc();
  *p = n;
  std::size_t now = heap_now += n;
  for (std::size_t peak = heap_peak; now > peak && !heap_peak.compare_exchange_weak(peak, now);) {
  }
  return reinterpret_cast<char*>(p) + sizeof(std::max_align_t);
}
void operator delete(void* p) noexcept {
  if (!p) return;
  auto* h = reinterpret_cast<std::size_t*>(static_cast<char*>(p) - sizeof(std::max_align_t));
  heap_now -= *h;
  std::free(h);
}
void operator delete(void* p, std::size_t) noexcept {
  operator delete(p);
}

namespace {

template <class F>
void report_peak(const char* what, F&& f) {
  std::size_t before = heap_now;
  heap_peak = before;
  f();
  std::fprintf(stderr, "%s: peak heap above the loaded graph %.1f MiB\n", what,
               static_cast<double>(heap_peak - before) / (1 << 20));
}

struct Loaded {
  GcInputs inputs;
  StoreGraph graph;
  std::vector<StoreGraph::Index> roots;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    const char* dir = std::getenv("NIXMON_BENCH_STORE_ROOT");
    if (!dir) {
      std::fprintf(stderr, "set NIXMON_BENCH_STORE_ROOT to a root made by bench/make-store.py\n");
      std::exit(2);
    }
    HostRoot root(dir);
    auto db = open_store_db(root, std::chrono::seconds(5));
    auto inputs = read_gc_inputs(root, false);
    auto graph = StoreGraph::read(db, inputs.settings.keep_outputs);
    std::vector<StoreGraph::Index> roots;
    for (const auto& r : inputs.roots) {
      if (auto i = graph.find(r.store_path)) roots.push_back(*i);
    }
    std::fprintf(stderr, "%zu paths, %zu roots, graph %.1f MiB\n", graph.size(),
                 inputs.roots.size(), static_cast<double>(graph.memory_bytes()) / (1 << 20));
    return Loaded{std::move(inputs), std::move(graph), std::move(roots)};
  }();
  static bool reported = [] {
    report_peak("mark_live", [] { mark_live(l.graph, l.roots, l.inputs.settings); });
    report_peak("analyse_root_ownership",
                [] { analyse_root_ownership(l.graph, l.inputs.roots, l.inputs.settings); });
    return true;
  }();
  (void)reported;
  return l;
}

void reachability(benchmark::State& state) {
  const auto& l = loaded();
  for (auto _ : state) benchmark::DoNotOptimize(mark_live(l.graph, l.roots, l.inputs.settings));
}

void root_ownership(benchmark::State& state) {
  const auto& l = loaded();
  for (auto _ : state) {
    benchmark::DoNotOptimize(analyse_root_ownership(l.graph, l.inputs.roots, l.inputs.settings));
  }
}

}  // namespace

BENCHMARK(reachability)->Unit(benchmark::kMillisecond);
BENCHMARK(root_ownership)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
