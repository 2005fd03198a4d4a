// Warm-scrape cost of the store and gc collectors: what one scrape spends in collect() (and
// rendering its series) once the background analysis of a big store has answered.
//
//   NIXMON_BENCH_STORE_ROOT=/path/to/root build/bench/store-collector-bench
//
// The root is a store made by bench/make-store.py (or any NixOS root). The one-time analysis
// (graph load, reachability) is timed separately and printed first: it runs off the scrape path.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "exporter/collectors/collectors.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {

const CollectorEntry& entry(std::string_view name) {
  for (const auto& e : collector_table()) {
    if (e.name == name) return e;
  }
  std::fprintf(stderr, "no collector %.*s\n", static_cast<int>(name.size()), name.data());
  std::exit(2);
}

std::unique_ptr<Collector> ready_collector(std::string_view name) {
  const char* root = std::getenv("NIXMON_BENCH_STORE_ROOT");
  if (!root) {
    std::fprintf(stderr, "set NIXMON_BENCH_STORE_ROOT to a root made by bench/make-store.py\n");
    std::exit(2);
  }
  CollectorContext ctx;
  ctx.root = HostRoot(root);
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Collector> c;
  if (name == "store") {
    StoreConfig config;
    config.check_interval = std::chrono::hours(1);
    c = make_store_collector(ctx, config);
  } else if (name == "gc") {
    GcConfig config;
    config.check_interval = std::chrono::hours(1);
    c = make_gc_collector(ctx, config);
  } else {
    c = make_with_defaults(entry(name), ctx);
  }
  std::string want = "\nnixos_" + std::string(name) + "_analysis_ready 1\n";
  for (;;) {
    MetricSet m;
    c->collect(m);  // throws if the analysis failed
    if (render(m).find(want) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%.*s: first analysis answered after %.3f s\n",
               static_cast<int>(name.size()), name.data(), s);
  return c;
}

void warm_scrape(benchmark::State& state, std::string_view name) {
  static std::unique_ptr<Collector> store, gc;
  auto& c = name == "store" ? store : gc;
  if (!c) c = ready_collector(name);
  for (auto _ : state) {
    MetricSet m;
    c->collect(m);
    std::string text = render(m);
    benchmark::DoNotOptimize(text);
  }
}

}  // namespace

BENCHMARK_CAPTURE(warm_scrape, store, "store")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(warm_scrape, gc, "gc")->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
