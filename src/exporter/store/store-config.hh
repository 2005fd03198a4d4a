#pragma once
// The store and gc collectors' flags: how often their background workers look for changes, and
// whether running processes count as garbage-collector roots.
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

namespace nixmon::exporter {

struct StoreConfig {
  // How often the workers check PRAGMA data_version (and, for gc, the roots); they recompute only
  // when something changed.
  std::chrono::milliseconds store_check_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds gc_check_interval{std::chrono::seconds(30)};
  bool gc_runtime_roots = false;
  // How many GC roots besides the system generations get their own exclusive-bytes series; the
  // rest are summed as root="other" (bounds the label set).
  std::size_t gc_roots_top = 10;
  // How long a read waits for nix-daemon's write lock before the attempt fails (and is retried at
  // the next check). WAL readers rarely wait at all.
  std::chrono::milliseconds busy_timeout{std::chrono::milliseconds(500)};
};

// The flags as typed: strings for durations so the error names the flag.
struct StoreFlags {
  std::string store_check_interval = "30s";
  std::string gc_check_interval = "30s";
  bool gc_runtime_roots = false;
  int gc_roots_top = 10;
};

void add_store_flags(CLI::App& app, StoreFlags& flags);

// Throws UsageError for a bad or non-positive duration, or a negative --collector.gc.roots.top.
StoreConfig make_store_config(const StoreFlags& flags);

}  // namespace nixmon::exporter
