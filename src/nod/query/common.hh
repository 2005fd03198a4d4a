#pragma once
// Internals shared by the query reports (query/*-report.cc): the activity kinds and their tables,
// period SQL, aggregate rows read either from daily_stats or recounted from the rows. Not a
// public API.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.hh"
#include "format/report.hh"
#include "query/engine.hh"
#include "store/activity-kinds.hh"

namespace nixmon::nod::query {

// An activity kind's query traits: its entry in activity-kinds.cc.
using KindInfo = KindTraits;
// The activity kinds (traits.activity), in declaration order.
const std::vector<KindInfo>& kinds();
const KindInfo* find_kind(std::string_view kind);

// One aggregate: as daily_stats, summed over the period.
struct AggRow {
  std::string kind, key, outcome;
  int64_t count = 0, total_ms = 0, max_ms = 0;
  int64_t download_bytes = 0, download_known = 0, nar_bytes = 0, nar_known = 0;
  int64_t cpu_user_us = 0, cpu_user_known = 0, cpu_system_us = 0, cpu_system_known = 0;
};

// Aggregates of the period, grouped by kind, key and outcome: from total_stats for all time and
// daily_stats otherwise when there is no --drv filter, else recounted from the matching rows —
// and then, if `durations` is given, their durations (ms) by kind are collected in the same pass.
std::vector<AggRow> load_aggregates(
    const sqlite::Database& db, const Period& p, const std::optional<std::string>& drv,
    std::map<std::string, std::vector<double>>* durations = nullptr);

// Durations (ms) of one kind in the period, matching `drv` if set, optionally by outcome.
std::vector<double> load_durations(const sqlite::Database& db, const KindInfo& k, const Period& p,
                                   const std::optional<std::string>& drv,
                                   std::optional<std::string_view> outcome = std::nullopt);

// Every kind's bucket counts for the period: all time from total_durations, else one pass over
// daily_durations summed in memory (a GROUP BY would sort ~100k rows for two years; reading them
// in order is several times faster).
std::map<std::string, std::map<int, int64_t>> load_histograms(const sqlite::Database& db,
                                                              const Period& p);

// --drv on builds and substitutions does not scan the rows: the matching names are found in the
// writer's table of distinct names, and rows read by `name IN (...)` through the (name, start_ms)
// index. drv_condition() is the SQL with the
// parameter ?1; bind_drv() binds it. Other tables match by instr() on their column.
std::string drv_condition(const KindInfo& k);
void bind_drv(sqlite::Statement& st, const sqlite::Database& db, const KindInfo& k,
              const std::string& drv);
// The matching names as a JSON array (cached for the thread's current query, see DrvCache).
const std::string& matching_names(const sqlite::Database& db, std::string_view kind,
                                  const std::string& drv);

// Keeps the names resolved by matching_names() for the duration of one query on this thread.
class DrvCache {
 public:
  DrvCache();
  ~DrvCache();
};

// "YYYY-MM-DD" bounds for daily_stats.day: [from_day, to_day).
std::string day_of(int64_t ms);
// "YYYY-MM-DD HH:MM:SS" (UTC) of a Unix time in milliseconds, for rows shown one by one.
std::string utc_time(int64_t ms);
// The start of a "newest N <noun>s" report (nod builds, nod failures): its heading, with the period
// and --drv, and the meta every such report carries.
format::Report newest_rows_report(std::string_view noun, const Period& p, const QueryOptions& o);

// Below this many activities a percentile is computed exactly from the rows; above it (all-time
// summaries of big databases) from the daily histograms, and marked approximate.
inline constexpr int64_t exact_percentile_limit = 10000;

}  // namespace nixmon::nod::query
