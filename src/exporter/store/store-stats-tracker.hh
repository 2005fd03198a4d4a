#pragma once
// The store collector's aggregates kept up to date at the cost of what changed: after paths were
// added, only their rows are read (store-delta.hh says how that is proven, and when it cannot be,
// which makes this read the whole table again).
//
// Thread-safety: one thread at a time (the store collector's worker).
#include <optional>

#include "exporter/store/store-db.hh"
#include "exporter/store/store-delta.hh"

namespace nixmon::exporter {

class StoreStatsTracker {
 public:
  // The aggregates now, reading from `db` what changed since the last call. Throws as
  // read_store_stats does; after a throw call reset().
  const StoreStats& update(sqlite::Database& db);
  // Forget the aggregates (the next update reads everything); the run counts stay.
  void reset() { stats_.reset(); }

  const AnalysisRuns& runs() const { return runs_; }
  // The data_version the current aggregates reflect (for StoreDbWatch::seen).
  std::int64_t data_version() const { return mark_.data_version; }

 private:
  const StoreStats& full(sqlite::Database& db, std::string_view reason);

  std::optional<StoreStats> stats_;
  StoreDbMark mark_;
  AnalysisRuns runs_;
  int incremental_in_a_row_ = 0;
};

}  // namespace nixmon::exporter
