#include "exporter/store/store-stats-tracker.hh"

namespace nixmon::exporter {

const StoreStats& StoreStatsTracker::full(sqlite::Database& db, std::string_view reason) {
  stats_.reset();  // free the old times before reading the new ones
  stats_ = read_store_stats(db, &mark_);
  runs_.count(false, reason);
  incremental_in_a_row_ = 0;
  return *stats_;
}

const StoreStats& StoreStatsTracker::update(sqlite::Database& db) {
  if (!stats_) return full(db, analysis_reason::first);
  if (incremental_in_a_row_ >= max_incremental_runs) return full(db, analysis_reason::periodic);
  auto delta = read_store_delta(db, mark_, /*with_refs=*/false);
  if (delta.full_reason) return full(db, *delta.full_reason);
  add_to_store_stats(*stats_, delta);
  mark_ = delta.mark;
  runs_.count(true, analysis_reason::added);
  ++incremental_in_a_row_;
  return *stats_;
}

}  // namespace nixmon::exporter
