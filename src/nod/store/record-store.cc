#include "store/record-store.hh"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "common/log.hh"
#include "store/aggregates.hh"

namespace nixmon::nod {

namespace {

// Version 3 (2 admitted three outcomes and no failure kinds, CPU times; 1 had no names, no totals
// and narrower name indexes). Every change to this text needs a new schema_version and a migration
// in RecordStore's constructor. Every statement is IF NOT EXISTS: the upgrade runs this text to add
// what an older version lacks. Tables first, indexes apart: an upgrade that copies a table's rows
// makes its indexes after the copy (sorting once instead of keeping B-trees in step).
//
// The outcome and failure kind lists are the names of Outcome and FailureKind (events.cc);
// RecordStore.EveryOutcomeAndFailureKindIsAdmitted keeps them in step.
constexpr std::string_view schema_tables_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS builds (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  drv_path TEXT NOT NULL,
  name TEXT NOT NULL,
  machine TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', 'unknown')),
  phases TEXT NOT NULL,
  log_lines INTEGER NOT NULL,
  exit_code INTEGER,
  -- Why it failed, when Nix said; NULL for every other outcome.
  failure_kind TEXT CHECK (failure_kind IS NULL OR (outcome = 'failed' AND failure_kind IN (
    'builder', 'dependency', 'rejected', 'timeout', 'log-limit', 'hash-mismatch', 'remote'))),
  -- CPU time of the builder's processes, where Nix reports it (Determinate Nix); else NULL.
  cpu_user_us INTEGER,
  cpu_system_us INTEGER
);
CREATE TABLE IF NOT EXISTS substitutions (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  store_path TEXT NOT NULL,
  name TEXT NOT NULL,
  substituter TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', 'unknown')),
  download_bytes INTEGER,
  nar_bytes INTEGER
);
CREATE TABLE IF NOT EXISTS cache_queries (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  store_path TEXT NOT NULL,
  cache TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  hit INTEGER
);
CREATE TABLE IF NOT EXISTS file_transfers (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  url TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', 'unknown')),
  bytes INTEGER
);
CREATE TABLE IF NOT EXISTS copies (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  store_path TEXT NOT NULL,
  source TEXT NOT NULL,
  destination TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', 'unknown')),
  bytes INTEGER
);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  type INTEGER NOT NULL,
  text TEXT NOT NULL,
  fields TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN (
    'builder', 'dependency', 'rejected', 'timeout', 'log-limit', 'hash-mismatch', 'remote')),
  drv_path TEXT NOT NULL,
  name TEXT NOT NULL,
  machine TEXT NOT NULL,
  exit_code INTEGER,
  message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unknown_records (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  raw TEXT NOT NULL
);
-- cpu_*: sums over the builds whose CPU time is known, and how many those are (the *_known
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

constexpr std::string_view schema_indexes_sql = R"sql(
CREATE INDEX IF NOT EXISTS builds_start ON builds (start_ms);
-- Covering: --drv, --group and regressions read a name's rows from this index alone, in order,
-- instead of one random table page per row (CPU times for --group: NULL costs a byte).
CREATE INDEX IF NOT EXISTS builds_by_name
  ON builds (name, start_ms, duration_ms, outcome, machine, cpu_user_us, cpu_system_us);
CREATE INDEX IF NOT EXISTS builds_drv ON builds (drv_path, end_ms);
CREATE INDEX IF NOT EXISTS substitutions_start ON substitutions (start_ms);
CREATE INDEX IF NOT EXISTS substitutions_by_name
  ON substitutions (name, start_ms, duration_ms, outcome, substituter, download_bytes, nar_bytes);
CREATE INDEX IF NOT EXISTS cache_queries_start ON cache_queries (start_ms);
CREATE INDEX IF NOT EXISTS file_transfers_start ON file_transfers (start_ms);
CREATE INDEX IF NOT EXISTS copies_start ON copies (start_ms);
CREATE INDEX IF NOT EXISTS activities_start ON activities (start_ms);
CREATE INDEX IF NOT EXISTS failures_time ON failures (time_ms);
CREATE INDEX IF NOT EXISTS unknown_records_time ON unknown_records (time_ms);
)sql";

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

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm).
std::tuple<int, unsigned, unsigned> civil_from_days(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(y + (m <= 2)), m, d};
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

constexpr int64_t ms_per_day = 86400000;

}  // namespace

std::string utc_day(int64_t ms) {
  auto [y, m, d] = civil_from_days(floor_div(ms, ms_per_day));
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

int64_t utc_day_index(int64_t ms) {
  return floor_div(ms, ms_per_day);
}

int64_t day_start_ms(int64_t day) {
  return day * ms_per_day;
}

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
  db.exec(schema_tables_sql);
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
  db.exec(schema_indexes_sql);
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
      db_.exec(schema_tables_sql);
      db_.exec(schema_indexes_sql);
    } else {
      log::info("upgrading '{}' from nod schema {} to {}", path, version, schema_version);
      upgrade_.emplace();
      upgrade_->from = version;
      try {
        // Version 1's name indexes are superseded by covering ones.
        if (version == 1)
          db_.exec("DROP INDEX IF EXISTS builds_name; DROP INDEX IF EXISTS substitutions_name");
        upgrade_->rows = upgrade_to_v3(db_);
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
}

namespace {

// builds.failure_kind is NULL unless the build failed (the schema checks it): a kind on another
// outcome must not fail the whole batch.
std::optional<std::string_view> stored_failure_kind(Outcome o, std::optional<FailureKind> k) {
  if (o != Outcome::failed || !k) return std::nullopt;
  return failure_kind_name(*k);
}

}  // namespace

size_t RecordStore::write_batch(const std::vector<Event>& events) {
  sqlite::Transaction tx(db_);
  Aggregator agg;
  // Statements are prepared once per batch; SQLite caches the plans.
  auto ins_build = db_.prepare(
      "INSERT INTO builds (activity_id, drv_path, name, machine, start_ms, end_ms, duration_ms, "
      "outcome, phases, log_lines, exit_code, failure_kind, cpu_user_us, cpu_system_us) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  auto ins_sub = db_.prepare(
      "INSERT INTO substitutions (activity_id, store_path, name, substituter, start_ms, end_ms, "
      "duration_ms, outcome, download_bytes, nar_bytes) VALUES (?,?,?,?,?,?,?,?,?,?)");
  auto ins_query = db_.prepare(
      "INSERT INTO cache_queries (activity_id, store_path, cache, start_ms, end_ms, duration_ms, "
      "outcome, hit) VALUES (?,?,?,?,?,?,?,?)");
  auto ins_transfer = db_.prepare(
      "INSERT INTO file_transfers (activity_id, url, start_ms, end_ms, duration_ms, outcome, "
      "bytes) VALUES (?,?,?,?,?,?,?)");
  auto ins_copy = db_.prepare(
      "INSERT INTO copies (activity_id, store_path, source, destination, start_ms, end_ms, "
      "duration_ms, outcome, bytes) VALUES (?,?,?,?,?,?,?,?,?)");
  auto ins_activity = db_.prepare(
      "INSERT INTO activities (activity_id, type, text, fields, start_ms, end_ms, duration_ms, "
      "outcome) VALUES (?,?,?,?,?,?,?,?)");
  auto ins_failure = db_.prepare(
      "INSERT INTO failures (time_ms, kind, drv_path, name, machine, exit_code, message) "
      "VALUES (?,?,?,?,?,?,?)");
  auto ins_unknown =
      db_.prepare("INSERT INTO unknown_records (time_ms, reason, raw) VALUES (?,?,?)");

  auto bind_span = [](sqlite::Statement& st, int first, const Span& s) {
    st.bind(first, s.start_ms)
        .bind(first + 1, s.end_ms)
        .bind(first + 2, s.duration_ms)
        .bind(first + 3, outcome_name(s.outcome));
  };
  auto id = [](uint64_t v) { return static_cast<int64_t>(v); };  // bit-for-bit
  size_t rows = 0;
  for (const Event& ev : events) {
    ++rows;
    agg.add(ev);
    if (auto* b = std::get_if<BuildRow>(&ev)) {
      ins_build.bind(1, id(b->span.activity_id)).bind(2, b->drv_path).bind(3, b->name);
      ins_build.bind(4, b->machine);
      bind_span(ins_build, 5, b->span);
      ins_build.bind(9, b->phases).bind(10, b->log_lines).bind(11, b->exit_code);
      ins_build.bind(12, stored_failure_kind(b->span.outcome, b->failure_kind));
      ins_build.bind(13, b->cpu_user_us).bind(14, b->cpu_system_us);
      ins_build.run();
    } else if (auto* s = std::get_if<SubstitutionRow>(&ev)) {
      ins_sub.bind(1, id(s->span.activity_id)).bind(2, s->store_path).bind(3, s->name);
      ins_sub.bind(4, s->substituter);
      bind_span(ins_sub, 5, s->span);
      ins_sub.bind(9, s->download_bytes).bind(10, s->nar_bytes);
      ins_sub.run();
    } else if (auto* q = std::get_if<CacheQueryRow>(&ev)) {
      ins_query.bind(1, id(q->span.activity_id)).bind(2, q->store_path).bind(3, q->cache);
      bind_span(ins_query, 4, q->span);
      ins_query.bind(8, q->hit ? std::optional<int64_t>(*q->hit ? 1 : 0) : std::nullopt);
      ins_query.run();
    } else if (auto* t = std::get_if<TransferRow>(&ev)) {
      ins_transfer.bind(1, id(t->span.activity_id)).bind(2, t->url);
      bind_span(ins_transfer, 3, t->span);
      ins_transfer.bind(7, t->bytes);
      ins_transfer.run();
    } else if (auto* c = std::get_if<CopyRow>(&ev)) {
      ins_copy.bind(1, id(c->span.activity_id)).bind(2, c->store_path).bind(3, c->source);
      ins_copy.bind(4, c->destination);
      bind_span(ins_copy, 5, c->span);
      ins_copy.bind(9, c->bytes);
      ins_copy.run();
    } else if (auto* a = std::get_if<ActivityRow>(&ev)) {
      ins_activity.bind(1, id(a->span.activity_id)).bind(2, a->type).bind(3, a->text);
      ins_activity.bind(4, a->fields_json);
      bind_span(ins_activity, 5, a->span);
      ins_activity.run();
    } else if (auto* f = std::get_if<FailureRow>(&ev)) {
      ins_failure.bind(1, f->time_ms)
          .bind(2, failure_kind_name(f->kind))
          .bind(3, f->drv_path)
          .bind(4, f->name);
      ins_failure.bind(5, f->machine).bind(6, f->exit_code).bind(7, f->message);
      ins_failure.run();
    } else if (auto* u = std::get_if<UnknownRecordRow>(&ev)) {
      ins_unknown.bind(1, u->time_ms).bind(2, u->reason).bind(3, u->raw);
      ins_unknown.run();
    } else if (auto* l = std::get_if<BuildFailedLater>(&ev)) {
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
