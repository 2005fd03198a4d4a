#include "store/record-store.hh"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "common/log.hh"
#include "store/activity-kinds.hh"
#include "store/aggregates.hh"

namespace nixmon::nod {

namespace {

// Version 4 (3 had no git_fetches; 2 admitted three outcomes and no failure kinds, CPU times; 1 had
// no names, no totals and narrower name indexes). The activity kinds' tables and indexes come from
// their declarations (activity-kinds.cc); ActivityKinds.DerivedSchemaIsSchemaThreePlusGitFetches
// compares the whole text with tests/fixtures/nod-db/schema-3.sql. Every change to this text needs
// a new schema_version and a migration in RecordStore's constructor. Every statement is IF NOT
// EXISTS: the upgrade runs this text to add what an older version lacks. Tables first, indexes
// apart: an upgrade that copies a table's rows makes its indexes after the copy (sorting once
// instead of keeping B-trees in step).
//
// The outcome and failure kind lists are the names of Outcome and FailureKind (events.cc);
// RecordStore.EveryOutcomeAndFailureKindIsAdmitted keeps them in step.
//
// The tables that are not one activity kind's: before and after the kinds' own tables.
constexpr std::string_view meta_table_sql =
    "\nCREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n";
constexpr std::string_view aggregate_tables_sql =
    R"sql(-- cpu_*: sums over the builds whose CPU time is known, and how many those are (the *_known
-- counts), so "unknown" never reads as 0 s.
CREATE TABLE IF NOT EXISTS daily_stats (
  day TEXT NOT NULL,
  kind TEXT NOT NULL,
  outcome TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  total_ms INTEGER NOT NULL,
  max_ms INTEGER NOT NULL,
  log_lines INTEGER NOT NULL,
  download_bytes INTEGER NOT NULL,
  download_known INTEGER NOT NULL,
  nar_bytes INTEGER NOT NULL,
  nar_known INTEGER NOT NULL,
  cpu_user_us INTEGER NOT NULL DEFAULT 0,
  cpu_user_known INTEGER NOT NULL DEFAULT 0,
  cpu_system_us INTEGER NOT NULL DEFAULT 0,
  cpu_system_known INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, kind, outcome, key)
) WITHOUT ROWID;
-- Durations per day and kind in log buckets (stats/log-histogram.hh): all-time medians and p90s
-- in O(days x buckets). Not keyed by outcome, so a late failure correction leaves it unchanged.
CREATE TABLE IF NOT EXISTS daily_durations (
  day TEXT NOT NULL,
  kind TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, kind, bucket)
) WITHOUT ROWID;
-- The all-time sums of daily_stats and daily_durations, kept in the same transactions: the
-- all-time summary reads a few dozen rows instead of every day's.
CREATE TABLE IF NOT EXISTS total_stats (
  kind TEXT NOT NULL,
  outcome TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  total_ms INTEGER NOT NULL,
  max_ms INTEGER NOT NULL,
  log_lines INTEGER NOT NULL,
  download_bytes INTEGER NOT NULL,
  download_known INTEGER NOT NULL,
  nar_bytes INTEGER NOT NULL,
  nar_known INTEGER NOT NULL,
  cpu_user_us INTEGER NOT NULL DEFAULT 0,
  cpu_user_known INTEGER NOT NULL DEFAULT 0,
  cpu_system_us INTEGER NOT NULL DEFAULT 0,
  cpu_system_known INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, outcome, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS total_durations (
  kind TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (kind, bucket)
) WITHOUT ROWID;
-- Distinct names of builds and substitutions ('build', 'substitution'): --drv matches a
-- substring against these instead of walking every row's name.
CREATE TABLE IF NOT EXISTS names (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (kind, name)
) WITHOUT ROWID;
)sql";

}  // namespace

const std::string& schema_tables_sql() {
  static const std::string sql =
      std::string(meta_table_sql) + kind_tables_sql() + std::string(aggregate_tables_sql);
  return sql;
}

const std::string& schema_indexes_sql() {
  static const std::string sql = "\n" + kind_indexes_sql();
  return sql;
}

namespace {

void check_version(const sqlite::Database& db) {
  int64_t v = db.query_int("PRAGMA user_version").value_or(0);
  if (v > schema_version) {
    throw Error(fmt::format(
        "database '{}' has nod schema version {}, newer than this nod understands ({}): "
        "use a newer nod, or another --db",
        db.path(), v, schema_version));
  }
  if (v == 0) {
    // A file with tables but no version is somebody else's database: never write into it.
    auto tables = db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    if (tables.value_or(0) > 0)
      throw Error(
          fmt::format("'{}' is an SQLite database but not nod's (no schema version)", db.path()));
  }
}

}  // namespace

namespace {

// Tables whose CHECK constraints schema 3 widened (outcomes, failure kinds). SQLite cannot change
// a constraint in place: each is made anew and its rows copied, ids and all.
constexpr std::string_view remade_in_v3[] = {"builds", "substitutions", "file_transfers", "copies",
                                             "failures"};
constexpr std::string_view cpu_columns[] = {"cpu_user_us", "cpu_user_known", "cpu_system_us",
                                            "cpu_system_known"};

std::vector<std::string> columns_of(const sqlite::Database& db, std::string_view table) {
  auto st = db.prepare(fmt::format("SELECT name FROM pragma_table_info('{}') ORDER BY cid", table));
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.column_text(0));
  return out;
}

// Schema 3's failure_kind of builds recorded before it: the kind of the failure message about the
// same derivation that arrived while it ran or within 10 minutes after its stop (the nearest to
// its stop). Builds found failed otherwise (the builds progress counter) stay NULL: unknown.
// Dependency failures name derivations that never started, so they describe no build row.
constexpr std::string_view backfill_failure_kind = R"sql(
  UPDATE builds SET failure_kind = m.kind
  FROM (SELECT id, kind FROM (
          SELECT b.id AS id,
                 -- On a remote machine a "builder" message is the build hook's (as the tracker
                 -- reads it): the failure is the remote's.
                 CASE WHEN f.kind = 'builder' AND b.machine <> 'local' THEN 'remote'
                      ELSE f.kind END AS kind,
                 row_number() OVER (PARTITION BY b.id
                                    ORDER BY abs(f.time_ms - b.end_ms), f.id) AS nearest
          FROM failures f JOIN builds b ON b.drv_path = f.drv_path
          WHERE f.kind <> 'dependency' AND b.outcome = 'failed'
            AND b.end_ms >= f.time_ms - 600000 AND b.start_ms <= f.time_ms)
        WHERE nearest = 1) AS m
  WHERE builds.id = m.id)sql";

// Schema 1 or 2 to 3, inside the caller's transaction. Returns the rows copied.
int64_t upgrade_to_v3(sqlite::Database& db) {
  for (auto table : remade_in_v3) {
    db.exec(fmt::format("ALTER TABLE {0} RENAME TO {0}_old", table));
    // The old indexes moved with it; their names are needed for the new table's.
    auto st = db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL");
    st.bind(1, fmt::format("{}_old", table));
    std::vector<std::string> indexes;
    while (st.step()) indexes.push_back(st.column_text(0));
    for (auto& index : indexes) db.exec(fmt::format("DROP INDEX {}", index));
  }
  db.exec(schema_tables_sql());
  int64_t copied = 0;
  for (auto table : remade_in_v3) {
    // The old columns are a prefix of the new ones: the new ones start NULL (unknown).
    std::string columns;
    for (auto& c : columns_of(db, fmt::format("{}_old", table)))
      columns += (columns.empty() ? "" : ", ") + c;
    db.exec(fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {0}_old", table, columns));
    copied += db.changes();
    db.exec(fmt::format("DROP TABLE {}_old", table));
  }
  // Aggregates of schema 2 knew no CPU time: every sum 0 of 0 known rows is exact.
  for (std::string_view table : {"daily_stats", "total_stats"}) {
    auto have = columns_of(db, table);
    for (auto c : cpu_columns)
      if (std::find(have.begin(), have.end(), c) == have.end())
        db.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} INTEGER NOT NULL DEFAULT 0", table, c));
  }
  db.exec(schema_indexes_sql());
  db.exec(backfill_failure_kind);
  return copied;
}

}  // namespace

RecordStore::RecordStore(const std::string& path) : db_(path, sqlite::Database::Mode::create) {
  db_.busy_timeout(5000);
  check_version(db_);
  // WAL: readers (queries) never block the writer nor wait for it. synchronous=NORMAL: a commit
  // survives a crash of nod (kill -9); only an OS crash or power loss can lose the last commits.
  db_.exec("PRAGMA journal_mode = WAL");
  db_.exec("PRAGMA synchronous = NORMAL");
  db_.exec("PRAGMA foreign_keys = ON");
  sqlite::Transaction tx(db_);
  check_version(db_);  // again under the write lock: another nod may have just created it
  int64_t version = db_.query_int("PRAGMA user_version").value_or(0);
  if (version < schema_version) {
    if (version == 0) {
      db_.exec(schema_tables_sql());
      db_.exec(schema_indexes_sql());
    } else {
      log::info("upgrading '{}' from nod schema {} to {}", path, version, schema_version);
      upgrade_.emplace();
      upgrade_->from = version;
      try {
        // Version 1's name indexes are superseded by covering ones.
        if (version == 1)
          db_.exec("DROP INDEX IF EXISTS builds_name; DROP INDEX IF EXISTS substitutions_name");
        if (version < 3) {
          upgrade_->rows = upgrade_to_v3(db_);  // and 4's table: the text has it
        } else {
          // 3 to 4 adds git_fetches (and its index), nothing else: every row stays where it is.
          // Git fetches recorded before are in `activities` (type 112) and stay there.
          db_.exec(schema_tables_sql());
          db_.exec(schema_indexes_sql());
        }
        if (version == 1) {
          // Version 1 lacked the totals and names (and, in early builds, daily_durations): all
          // are recomputed from the rows, in this transaction, so a failed upgrade leaves
          // version 1.
          log::info("upgrade: recomputing aggregates from the rows");
          upgrade_->rows =
              rebuild_aggregates(db_, [](int64_t n) { log::info("upgrade: {} rows counted", n); });
          upgrade_->recounted = true;
        }
      } catch (const std::exception& e) {
        throw Error(
            fmt::format("upgrading '{}' from nod schema {} to {} failed (it is left at {}): {}",
                        path, version, schema_version, version, e.what()));
      }
    }
    db_.exec(
        fmt::format("INSERT OR REPLACE INTO meta VALUES ('schema_version', '{}')", schema_version));
    db_.exec(fmt::format("PRAGMA user_version = {}", schema_version));
  }
  tx.commit();
  inserts_ = std::make_unique<RowInserter>(db_);  // prepared once for every batch
}

RecordStore::~RecordStore() = default;

size_t RecordStore::write_batch(const std::vector<Event>& events) {
  sqlite::Transaction tx(db_);
  Aggregator agg;
  size_t rows = 0;
  for (const Event& ev : events) {
    ++rows;
    agg.add(ev);
    if (inserts_->insert(ev)) continue;
    if (auto* l = std::get_if<BuildFailedLater>(&ev)) {
      // The latest build of this derivation: a success (or an unknown outcome) becomes
      // "failed" and moves between aggregates; a failed one learns why, if it did not know.
      auto find = db_.prepare(
          "SELECT id, start_ms, duration_ms, outcome, machine, log_lines, cpu_user_us, "
          "cpu_system_us FROM builds WHERE drv_path = ? AND end_ms >= ? "
          "AND outcome IN ('success', 'unknown', 'failed') ORDER BY end_ms DESC, id DESC LIMIT 1");
      find.bind(1, l->drv_path).bind(2, l->since_ms);
      if (!find.step()) continue;
      int64_t row = find.column_int(0);
      std::optional<std::string_view> kind;
      if (l->failure_kind) kind = failure_kind_name(*l->failure_kind);
      if (find.column_text(3) == "failed") {
        db_.prepare(
               "UPDATE builds SET failure_kind = coalesce(failure_kind, ?), "
               "exit_code = coalesce(exit_code, ?) WHERE id = ?")
            .bind(1, kind)
            .bind(2, l->exit_code)
            .bind(3, row)
            .run();
        continue;
      }
      BuildRow was;
      was.span = Span{0, find.column_int(1), 0, find.column_int(2),
                      find.column_text(3) == "success" ? Outcome::success : Outcome::unknown};
      was.machine = find.column_text(4);
      was.log_lines = find.column_int(5);
      was.cpu_user_us = find.column_opt_int(6);
      was.cpu_system_us = find.column_opt_int(7);
      db_.prepare(
             "UPDATE builds SET outcome = 'failed', exit_code = coalesce(?, exit_code), "
             "failure_kind = ? WHERE id = ?")
          .bind(1, l->exit_code)
          .bind(2, kind)
          .bind(3, row)
          .run();
      agg.move_build_to_failed(was);
    }
  }
  agg.write(db_);
  tx.commit();
  return rows;
}

sqlite::Database open_for_reading(const std::string& path, sqlite::Database::Mode mode) {
  sqlite::Database db(path, mode);
  db.busy_timeout(5000);
  check_version(db);
  int64_t version = db.query_int("PRAGMA user_version").value_or(0);
  if (version == 0) throw Error(fmt::format("'{}' is not a nod database (no schema)", path));
  if (version < schema_version)
    throw Error(fmt::format(
        "database '{}' has nod schema version {}, older than this nod's {}; reading never "
        "writes, so upgrade it once: restart the nod daemon with this nod (it upgrades the "
        "database when it starts), or, with no older daemon running, run `nod --db {} upgrade`",
        path, version, schema_version, path));
  return db;
}

}  // namespace nixmon::nod
