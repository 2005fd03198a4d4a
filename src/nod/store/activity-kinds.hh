#pragma once
// Every kind of row nod records (builds, substitutions, cache queries, ..., failures, unknown
// records), declared once in activity-kinds.cc: its table and columns, how a row binds and reads,
// what it adds to the aggregates, its date column, its metric label and its query traits. The
// schema text, the inserts, the aggregates, `nod rebuild`, retention and `nod clean`, the
// Prometheus export and the queries all derive from that one table (HACKING.md, "Add an activity
// kind").
//
// Threads: the table is immutable; RowInserter belongs to the writer's thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.hh"
#include "tracking/events.hh"

namespace nixmon::nod {

// What the code around the rows needs of a kind, without its row type.
struct KindTraits {
  std::string_view kind{};         // daily_stats.kind, total_stats.kind, daily_durations.kind
  std::string_view table{};        // its rows
  std::string_view title{};        // for people ("cache queries")
  std::string_view date_column{};  // what dates a row: its day in the aggregates, retention
  // Query traits (query-common.hh). `activity`: a kind with a span, listed by `nod`, --bucket and
  // `nod test`; failures and unknown records are not.
  bool activity = false;
  std::string_view key_column{};    // SQL of daily_stats.key ("" = the key is empty)
  std::string_view match_column{};  // what --drv matches; "name": through the names table
  // SQL of daily_stats.outcome from the row. "outcome" for kinds whose outcome is how the activity
  // ended; a cache query's is whether the path was there (hit, miss, unknown).
  std::string_view outcome_sql = "outcome";
  bool outcomes = true;                // outcome_sql says how it ended (counts of failed etc.)
  std::string_view download_column{};  // "" = none: its aggregates' download_bytes
  std::string_view nar_column{};       // "" = none: its aggregates' nar_bytes
  bool cpu = false;                    // cpu_user_us / cpu_system_us columns
  bool names = false;                  // its distinct names are kept in `names` (by `kind`)
  bool durations = false;              // counted in daily_durations / total_durations
  // Prometheus: the `kind` label of nod_activities_total and nod_activity_duration_seconds (""
  // = not counted there), and whether its bytes add to nod_transferred_bytes_total{kind}.
  std::string_view metric_kind{};
  bool metric_transferred_bytes = false;
};

// Every kind, in declaration order (the order of the tables in the schema).
const std::vector<const KindTraits*>& kind_table();
const KindTraits* find_kind_traits(std::string_view kind);
// The kind of a row event; nullptr for BuildFailedLater (a correction, not a row).
const KindTraits* kind_of(const Event& e);

// What one row adds to the aggregates and the metrics, as its kind's entry says.
struct RowFacts {
  const Span* span = nullptr;  // nullptr for rows without one (failures, unknown records)
  int64_t date_ms = 0;         // the date column's value
  int64_t duration_ms = 0;
  std::string_view outcome;  // daily_stats.outcome
  std::string key;           // daily_stats.key
  std::string_view name;     // for `names` (traits.names)
  int64_t log_lines = 0;
  std::optional<int64_t> download_bytes, nar_bytes, cpu_user_us, cpu_system_us;
};
// nullopt for BuildFailedLater.
std::optional<RowFacts> facts_of(const Event& e);

// The CREATE TABLE statements of every kind's table, and their CREATE INDEX statements, as in the
// schema text (record-store.cc puts them between its other tables).
std::string kind_tables_sql();
std::string kind_indexes_sql();

// The INSERT statements of every kind, prepared once on `db` (the writer's connection).
class RowInserter {
 public:
  explicit RowInserter(sqlite::Database& db);
  ~RowInserter();
  RowInserter(const RowInserter&) = delete;
  RowInserter& operator=(const RowInserter&) = delete;
  // Inserts the row `e` into its kind's table; false for an event that is not a row.
  bool insert(const Event& e);

 private:
  std::vector<std::unique_ptr<sqlite::Statement>> by_index_;  // by Event::index()
};

// Reads every row of `kind`'s table as the event the writer had, with the columns the aggregates
// use (the rest stay empty): `nod rebuild` and the schema upgrade count them like the writer.
void read_rows(const sqlite::Database& db, const KindTraits& kind,
               const std::function<void(const Event&)>& each);

}  // namespace nixmon::nod
