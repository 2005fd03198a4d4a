#pragma once
// nod's SQLite database: the schema (documented in docs/nod-schema.md), its version check, and
// the writes: one transaction per batch of events, with the daily aggregates updated in the same
// transaction so they always equal a recount of the rows, even after a crash.
//
// Threads: one RecordStore per thread (the record writer's). Readers open their own connection
// (open_for_reading); WAL mode lets them read while the writer writes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/calendar.hh"
#include "common/sqlite.hh"
#include "tracking/events.hh"

namespace nixmon::nod {

inline constexpr int64_t schema_version = 4;

// The schema text: its CREATE TABLE statements, then its CREATE INDEX statements (the activity
// kinds' parts derived from activity-kinds.cc).
const std::string& schema_tables_sql();
const std::string& schema_indexes_sql();

class RowInserter;

class RecordStore {
 public:
  // Opens or creates the database at `path`, sets WAL mode and creates the schema, or upgrades
  // an older one (in one transaction). Throws Error if the file holds a newer schema (or is not a
  // nod database).
  explicit RecordStore(const std::string& path);
  ~RecordStore();

  // Writes `events` in one transaction. Throws (and rolls back: nothing is half-written).
  // Returns the number of rows written or changed.
  size_t write_batch(const std::vector<Event>& events);

  // Deletes rows (and their aggregates) of days before today - retain_days (UTC days), one
  // transaction per day; returns the number of rows removed.
  int64_t prune(int64_t now_ms, int retain_days);

  sqlite::Database& db() { return db_; }
  // Whether opening upgraded an older schema, from which version, the rows it copied or counted,
  // and whether it recounted every aggregate from the rows (from schema 1; from 2 they are kept).
  bool upgraded() const { return upgrade_.has_value(); }
  int64_t upgraded_from() const { return upgrade_ ? upgrade_->from : 0; }
  int64_t upgraded_rows() const { return upgrade_ ? upgrade_->rows : 0; }
  bool upgrade_recounted() const { return upgrade_ && upgrade_->recounted; }

 private:
  sqlite::Database db_;
  struct Upgrade {
    int64_t from = 0, rows = 0;
    bool recounted = false;
  };
  std::optional<Upgrade> upgrade_;
  std::unique_ptr<RowInserter> inserts_;  // after db_: its statements finish first
};

// Opens an existing nod database read-only and checks its schema version (throws Error if newer
// or not a nod database).
// `mode`: read_only, or immutable for a reader that cannot create the -shm (commands/query-cli.cc).
sqlite::Database open_for_reading(const std::string& path,
                                  sqlite::Database::Mode mode = sqlite::Database::Mode::read_only);

// `nod clean` and retention: remove whole UTC days, oldest first, rows and their aggregates in the
// same transaction, so summaries stay equal to a recount at every moment. One call removes at most
// about `max_rows` rows and returns what it did, so a caller can show progress.
struct CleanStep {
  int64_t removed = 0;  // rows removed by this step
  bool done = false;
};
CleanStep clean_step(sqlite::Database& db, std::optional<int64_t> before_days, int64_t now_ms,
                     int64_t max_rows);
// Rows that `clean` would remove in total (for the progress denominator).
int64_t clean_count(const sqlite::Database& db, std::optional<int64_t> before_days, int64_t now_ms);

}  // namespace nixmon::nod
