#pragma once
// The collector interface and the one table that lists every collector.
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string_view>

#include "common/clock.hh"
#include "common/exposition.hh"
#include "common/host-root.hh"

namespace nixmon::exporter {

// What every collector may read: the host (through its root prefix) and the clocks (wall time
// that dates things, monotonic time that measures ages and durations), both injectable so tests
// never touch the real host or the real time (a ManualClock pins both). A collector's own
// settings are not here: they come from its own flags (CollectorSetup).
struct CollectorContext {
  HostRoot root;
  std::shared_ptr<const Clock> clock = system_clock_ptr();

  Clock::WallTime now() const { return clock->wall(); }
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Adds this collector's series to `out`. Throws (Error, SysError) when the state cannot be read:
  // the scrape then reports the collector as failed and serves everything else. Calls never
  // overlap: the Scraper gives each collector one worker thread that calls collect one run after
  // another, shares a run in flight between concurrent scrapes, and starts no new run while one
  // that overran the scrape timeout has not returned. That thread is neither the one that made
  // the collector nor the scrapes' own, so what collect shares with the collector's background
  // threads (BackgroundCache, refreshers) still needs their synchronisation.
  virtual void collect(MetricSet& out) = 0;
};

// A collector's command line, as node_exporter declares each collector's flags in the
// collector's own file: the flags it declared, bound to values it keeps, checked once parsed into
// the configuration it is made with.
class CollectorSetup {
 public:
  virtual ~CollectorSetup() = default;
  // Once every flag is parsed, before any collector is made: checks the values as typed and keeps
  // the configuration they give. Throws UsageError naming the flag. `enabled`: whether the
  // collector will run (flags that only matter to a running collector are then not checked).
  virtual void configure(bool /*enabled*/) {}
  // The collector, made with the configuration configure(true) kept.
  virtual std::unique_ptr<Collector> make(const CollectorContext& ctx) const = 0;
};

struct CollectorEntry {
  std::string_view name;
  bool enabled_by_default;
  std::string_view help;  // one line for --help and the README
  // Declares the collector's own flags on `app` (most have none), bound to the setup returned;
  // the setup must outlive the parse.
  std::unique_ptr<CollectorSetup> (*setup)(CLI::App& app);
};

// Every collector, in the order their series appear in a scrape.
std::span<const CollectorEntry> collector_table();

// The collector of `entry` with every flag of its own at its default (tests, benchmarks).
std::unique_ptr<Collector> make_with_defaults(const CollectorEntry& entry,
                                              const CollectorContext& ctx);

// The setup of a collector without flags of its own: it is made from the context alone.
template <std::unique_ptr<Collector> (*Make)(const CollectorContext&)>
std::unique_ptr<CollectorSetup> setup_without_flags(CLI::App&) {
  struct Setup final : CollectorSetup {
    std::unique_ptr<Collector> make(const CollectorContext& ctx) const override {
      return Make(ctx);
    }
  };
  return std::make_unique<Setup>();
}

}  // namespace nixmon::exporter
