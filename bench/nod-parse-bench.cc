// LogRecordParser alone on the ingest benchmark's stream (nod-bench-stream.hh): the fast path for
// the hot shapes against simdjson's DOM, on Nix's records and on Determinate Nix's (with "sid").
//
//   nod-parse-bench [--benchmark_repetitions=5 ...]
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "ingest/log-record.hh"
#include "nod-bench-stream.hh"

namespace {

// Padded lines without their newline, as LineSplitter hands them to the parser.
struct Lines {
  std::vector<std::string> storage;
  explicit Lines(bool sid) {
    for (auto& rec : make_stream(0, 200000)) {
      std::string l = sid ? with_sid(rec) : rec;
      l.pop_back();  // '\n'
      size_t n = l.size();
      l.resize(n + simdjson::SIMDJSON_PADDING);
      l.resize(n);
      l.reserve(n + simdjson::SIMDJSON_PADDING);
      storage.push_back(std::move(l));
    }
  }
};

void parse(benchmark::State& state) {
  bool fast = state.range(0), sid = state.range(1);
  static const Lines nix(false), determinate(true);
  const Lines& lines = sid ? determinate : nix;
  nixmon::nod::LogRecordParser parser;
  parser.set_fast_path(fast);
  for (auto _ : state) {
    for (const auto& l : lines.storage) {
      auto r = parser.parse(l, l.capacity());
      if (!std::holds_alternative<nixmon::nod::LogRecord>(r)) state.SkipWithError("malformed");
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines.storage.size()));
}

}  // namespace

BENCHMARK(parse)
    ->ArgNames({"fast", "sid"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
