#pragma once
// nod's SQLite database: the schema (documented in docs/nod-schema.md), its version check, and
// the writes: one transaction per batch of events, with the daily aggregates updated in the same
// transaction so they always equal a recount of the rows, even after a crash.
//
// Threads: one RecordStore per thread (the record writer's). Readers open their own connection
// (open_for_reading); WAL mode lets them read while the writer writes.
#include <cstdint>
#include <string>
#include <vector>

#include "common/sqlite.hh"
#include "nod/events.hh"

namespace nixmon::nod {

inline constexpr int64_t schema_version = 1;

class RecordStore {
 public:
  // Opens or creates the database at `path`, sets WAL mode and creates the schema. Throws Error if
  // the file holds a newer schema (or is not a nod database).
  explicit RecordStore(const std::string& path);

  // Writes `events` in one transaction. Throws (and rolls back: nothing is half-written).
  // Returns the number of rows written or changed.
  size_t write_batch(const std::vector<Event>& events);

  // Deletes rows (and their daily aggregates) of days before today - retain_days (UTC days).
  // Works in chunks of committed transactions; returns the number of rows removed.
  int64_t prune(int64_t now_ms, int retain_days);

  sqlite::Database& db() { return db_; }

 private:
  sqlite::Database db_;
};

// Opens an existing nod database read-only and checks its schema version (throws Error if newer
// or not a nod database).
sqlite::Database open_for_reading(const std::string& path);

// "YYYY-MM-DD" (UTC) of a Unix time in milliseconds.
std::string utc_day(int64_t ms);
// Unix ms of the UTC midnight starting `day` days since 1970-01-01.
int64_t day_start_ms(int64_t day);

}  // namespace nixmon::nod
