#pragma once
// The store and gc collectors' flags: how often their background workers look for changes, and
// whether running processes count as garbage-collector roots.
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

namespace nixmon::exporter {

// How long a read of the store database waits for nix-daemon's write lock before the attempt fails
// (and is retried at the next check). WAL readers rarely wait at all.
inline constexpr std::chrono::milliseconds store_busy_timeout{500};

struct StoreConfig {
  // How often the worker checks PRAGMA data_version; it recomputes only when something changed.
  std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds busy_timeout = store_busy_timeout;
};

// The flags as typed: strings for durations so the error names the flag.
struct StoreFlags {
  std::string check_interval = "30s";
};

void add_store_flags(CLI::App& app, StoreFlags& flags);

// Throws UsageError for a bad or non-positive duration.
StoreConfig make_store_config(const StoreFlags& flags);

struct GcConfig {
  // How often the worker checks PRAGMA data_version and the roots; it recomputes only when
  // something changed.
  std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
  bool runtime_roots = false;
  // How many GC roots besides the system generations get their own exclusive-bytes series; the
  // rest are summed as root="other" (bounds the label set).
  std::size_t roots_top = 10;
  std::chrono::milliseconds busy_timeout = store_busy_timeout;
};

struct GcFlags {
  std::string check_interval = "30s";
  bool runtime_roots = false;
  int roots_top = 10;
};

void add_gc_flags(CLI::App& app, GcFlags& flags);

// Throws UsageError for a bad or non-positive duration, or a negative --collector.gc.roots.top.
GcConfig make_gc_config(const GcFlags& flags);

}  // namespace nixmon::exporter
