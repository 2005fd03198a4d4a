#pragma once
// The tables nod derives from its rows (docs/nod-schema.md): daily_stats and daily_durations per
// UTC day, their all-time sums total_stats and total_durations, and the distinct names of builds
// and substitutions. The writer's batches, `nod rebuild` and the schema upgrade all compute them
// with one Aggregator, so the tables cannot disagree with a recount of the rows.
//
// Threads: an Aggregator belongs to one thread; the functions take the caller's connection and
// must run inside its write transaction.
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/sqlite.hh"
#include "tracking/events.hh"

namespace nixmon::nod {

class Aggregator {
 public:
  // Counts one row event (every alternative but BuildFailedLater).
  void add(const Event& ev);
  // A build recorded as `was.span.outcome` (success or unknown) turned out failed: moves it
  // between the aggregates. Uses the span's start and duration, machine, log lines, CPU times.
  void move_build_to_failed(const BuildRow& was);
  // Adds everything counted so far to the tables (upserts) and forgets it.
  void write(sqlite::Database& db);

 private:
  struct Key {
    std::string day, kind, outcome, key;
    auto operator<=>(const Key&) const = default;
  };
  struct Value {
    int64_t count = 0, total_ms = 0, max_ms = 0, log_lines = 0;
    int64_t download_bytes = 0, download_known = 0, nar_bytes = 0, nar_known = 0;
    int64_t cpu_user_us = 0, cpu_user_known = 0, cpu_system_us = 0, cpu_system_known = 0;
    void add_cpu(const BuildRow& b, int sign);
  };
  Value& count(const Span& s, std::string_view kind, std::string_view outcome,
               std::string_view key);

  std::map<Key, Value> stats_;
  std::map<std::tuple<std::string, std::string_view, int>, int64_t> durations_;
  std::set<std::pair<std::string_view, std::string>> names_;  // (kind, name)
  // Aggregates a build left: (outcome, machine, day index).
  std::vector<std::tuple<std::string, std::string, int64_t>> corrected_;
};

// Removes the daily aggregates of the days before `day` ("YYYY-MM-DD") and subtracts them from
// the all-time totals. The caller removes those days' rows in the same transaction.
void drop_aggregates_before(sqlite::Database& db, const std::string& day);

// Removes names whose rows are all gone (retention, `nod clean`). Until then `names` may hold a
// few names with no rows, which only costs --drv a lookup that finds nothing.
void prune_names(sqlite::Database& db);

// Recomputes every derived table from the rows (the schema upgrade, `nod rebuild`). `progress` is
// called with the rows read so far, every 1M rows and at the end. Returns the rows read.
int64_t rebuild_aggregates(sqlite::Database& db,
                           const std::function<void(int64_t)>& progress = nullptr);

}  // namespace nixmon::nod
