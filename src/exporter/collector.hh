#pragma once
// The collector interface and the one table that lists every collector.
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "common/exposition.hh"
#include "common/host-root.hh"
#include "exporter/channel/channel-config.hh"
#include "exporter/flake/flake-config.hh"
#include "exporter/store/store-config.hh"

namespace nixmon::exporter {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

// What every collector may read: the host (through its root prefix) and the wall clock, both
// injectable so tests never touch the real host or the real time.
struct CollectorContext {
  HostRoot root;
  WallClock now = [] { return std::chrono::system_clock::now(); };
  FlakeConfig flake{};  // --flake.*, checked; used by the flake collector only
  StoreConfig store{};  // --collector.{store,gc}.*; used by the store and gc collectors

  // --channel.*, checked; used by the channel collector only
  ChannelConfig channel{};
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Adds this collector's series to `out`. Throws (Error, SysError) when the state cannot be read:
  // the scrape then reports the collector as failed and serves everything else. May be called from
  // several scrapes at once, so implementations keep no unsynchronised mutable state.
  virtual void collect(MetricSet& out) = 0;
};

struct CollectorEntry {
  std::string_view name;
  bool enabled_by_default;
  std::string_view help;  // one line for --help and the README
  std::unique_ptr<Collector> (*make)(const CollectorContext&);
};

// Every collector, in the order their series appear in a scrape.
std::span<const CollectorEntry> collector_table();

}  // namespace nixmon::exporter
