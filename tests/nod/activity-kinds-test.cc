// The table of activity kinds (activity-kinds.cc): the schema derived from it is schema 3 byte for
// byte plus git_fetches (schema 4), and every trait names something its table has.
#include "store/activity-kinds.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "nod-test-support.hh"
#include "store/record-store.hh"

using namespace nixmon;
using namespace nixmon::nod;
using nixmon::nod::test::dump;

namespace {

std::set<std::string> columns_of(const sqlite::Database& db, std::string_view table) {
  std::set<std::string> out;
  auto st = db.prepare(fmt::format("SELECT name FROM pragma_table_info('{}')", table));
  while (st.step()) out.insert(st.column_text(0));
  return out;
}

// What SQLite keeps of a schema: every table's and index's statement, as written.
std::string master(const sqlite::Database& db) {
  return dump(db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
}

std::string schema_three() {
  return nixmon::test::read_text(nixmon::test::source_dir() / "tests/fixtures/nod-db/schema-3.sql");
}

// A schema-3 database as nod 3 made it, with a build and a git fetch recorded as a generic
// activity of type 112 (as nod 3 did), and their aggregates, in a new file.
std::string schema_three_db(const nixmon::test::TempDir& dir, const std::string& name) {
  std::string path = (dir.path() / name).string();
  sqlite::Database db(path, sqlite::Database::Mode::create);
  db.exec(schema_three());
  db.exec(R"sql(
    INSERT INTO meta VALUES ('schema_version', '3');
    INSERT INTO builds VALUES (1, 7, '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b.drv', 'b',
      'local', 1000, 3000, 2000, 'success', '', 3, NULL, NULL, NULL, NULL);
    INSERT INTO activities VALUES (1, 9, 112, 'fetching Git repository ''https://x/r.git''',
      '[]', 1000, 1010, 10, 'success');
    INSERT INTO daily_stats VALUES ('1970-01-01', 'build', 'success', 'local', 1, 2000, 2000, 3,
      0, 0, 0, 0, 0, 0, 0, 0);
    INSERT INTO daily_stats VALUES ('1970-01-01', 'activity', 'success', '112', 1, 10, 10, 0, 0,
      0, 0, 0, 0, 0, 0, 0);
    INSERT INTO total_stats VALUES ('build', 'success', 'local', 1, 2000, 2000, 3, 0, 0, 0, 0, 0,
      0, 0, 0);
    INSERT INTO total_stats VALUES ('activity', 'success', '112', 1, 10, 10, 0, 0, 0, 0, 0, 0, 0,
      0, 0);
    INSERT INTO daily_durations VALUES ('1970-01-01', 'build', 11, 1);
    INSERT INTO total_durations VALUES ('build', 11, 1);
    INSERT INTO names VALUES ('build', 'b');
    PRAGMA user_version = 3;)sql");
  return path;
}

std::string every_row(const sqlite::Database& db) {
  std::string out;
  for (std::string_view t : {"builds", "activities", "daily_stats", "total_stats",
                             "daily_durations", "total_durations", "names"})
    out += fmt::format("{}:\n{}", t, dump(db, fmt::format("SELECT * FROM {} ORDER BY 1, 2", t)));
  return out;
}

}  // namespace

// tests/fixtures/nod-db/schema-3.sql is the schema text of nod schema 3 as it was written by hand
// (its CREATE TABLE statements, then its CREATE INDEX statements) before the kinds' parts were
// derived from their declarations. Schema 4 is that text with git_fetches (the last kind's table,
// before the aggregate tables) and its index, and nothing else.
TEST(ActivityKinds, DerivedSchemaIsSchemaThreePlusGitFetches) {
  ASSERT_EQ(schema_version, 4);
  std::string text = schema_three();
  std::string table =
      "CREATE TABLE IF NOT EXISTS git_fetches (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  activity_id INTEGER NOT NULL,\n"
      "  url TEXT NOT NULL,\n"
      "  start_ms INTEGER NOT NULL,\n"
      "  end_ms INTEGER NOT NULL,\n"
      "  duration_ms INTEGER NOT NULL,\n"
      "  outcome TEXT NOT NULL\n"
      "    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', 'unknown'))\n"
      ");\n";
  text.insert(text.find("-- cpu_*:"), table);
  text += "CREATE INDEX IF NOT EXISTS git_fetches_start ON git_fetches (start_ms);\n";
  EXPECT_EQ(schema_tables_sql() + schema_indexes_sql(), text);
}

// Upgrading schema 3 adds the table and its index and changes no row: upgraded, a schema-3
// database has a new database's schema (as SQLite keeps it), and the rows and aggregates it had.
TEST(ActivityKinds, SchemaThreeIsUpgradedToFourKeepingEveryRow) {
  nixmon::test::TempDir dir;
  std::string path = schema_three_db(dir, "v3.db");
  std::string before;
  {
    sqlite::Database v3(path, sqlite::Database::Mode::read_write);
    before = every_row(v3);
    ASSERT_EQ(v3.query_int("SELECT count(*) FROM sqlite_master WHERE name = 'git_fetches'"), 0);
  }
  RecordStore upgraded(path);
  EXPECT_TRUE(upgraded.upgraded());
  EXPECT_EQ(upgraded.upgraded_from(), 3);
  EXPECT_EQ(upgraded.upgraded_rows(), 0);
  EXPECT_FALSE(upgraded.upgrade_recounted());
  EXPECT_EQ(upgraded.db().query_int("PRAGMA user_version"), 4);
  EXPECT_EQ(dump(upgraded.db(), "SELECT value FROM meta WHERE key = 'schema_version'"), "4|\n");
  EXPECT_EQ(every_row(upgraded.db()), before);
  RecordStore fresh((dir.path() / "new.db").string());
  EXPECT_EQ(master(upgraded.db()), master(fresh.db()));
  // Git fetches recorded before stay generic activities; new ones are git-fetch rows.
  EXPECT_EQ(upgraded.write_batch({GitFetchRow{{10, 5000, 5100, 100, Outcome::unknown}, "u"}}), 1u);
  EXPECT_EQ(dump(upgraded.db(), "SELECT activity_id, url, outcome FROM git_fetches"),
            "10|u|unknown|\n");
  EXPECT_EQ(dump(upgraded.db(), "SELECT kind, outcome, key, count FROM total_stats ORDER BY 1"),
            "activity|success|112|1|\nbuild|success|local|1|\ngit-fetch|unknown||1|\n");
}

TEST(ActivityKinds, TraitsNameColumnsOfTheirTable) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  std::set<std::string_view> kinds, tables;
  for (const KindTraits* k : kind_table()) {
    SCOPED_TRACE(std::string(k->kind));
    EXPECT_TRUE(kinds.insert(k->kind).second);
    EXPECT_TRUE(tables.insert(k->table).second);
    auto cols = columns_of(store.db(), k->table);
    ASSERT_FALSE(cols.empty());
    EXPECT_TRUE(cols.count(std::string(k->date_column)));
    for (std::string_view c : {k->key_column, k->download_column, k->nar_column}) {
      if (!c.empty()) {
        EXPECT_TRUE(cols.count(std::string(c))) << c;
      }
    }
    if (k->activity) {
      // The query traits: a --drv column, a metric label, outcome SQL valid on the table.
      EXPECT_TRUE(cols.count(std::string(k->match_column)));
      EXPECT_FALSE(k->metric_kind.empty());
      EXPECT_NO_THROW(
          store.db().prepare(fmt::format("SELECT {} FROM {}", k->outcome_sql, k->table)));
    }
    if (k->names) {
      EXPECT_TRUE(cols.count("name"));
    }
    if (k->cpu) {
      EXPECT_TRUE(cols.count("cpu_user_us") && cols.count("cpu_system_us"));
    }
    EXPECT_EQ(find_kind_traits(k->kind), k);
  }
}

// Every kind's row written and read back by its declared columns: what the aggregates use.
TEST(ActivityKinds, EveryKindBindsAndReadsBack) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  BuildRow b;
  b.span = {7, 1000, 3000, 2000, Outcome::failed};
  b.drv_path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b.drv";
  b.name = "b";
  b.machine = "local";
  b.phases = "buildPhase";
  b.log_lines = 3;
  b.exit_code = 2;
  b.failure_kind = FailureKind::builder;
  b.cpu_user_us = 5;
  std::vector<Event> ev = {
      b,
      SubstitutionRow{
          {8, 1000, 1100, 100, Outcome::success}, "/nix/store/x-s", "s", "https://c", 10, 20},
      CacheQueryRow{{9, 1000, 1001, 1, Outcome::success}, "/nix/store/x-s", "https://c", true},
      TransferRow{{10, 1000, 1002, 2, Outcome::success}, "https://c/x.nar", 30},
      CopyRow{{11, 1000, 1003, 3, Outcome::success}, "/nix/store/x-s", "a", "b", 40},
      ActivityRow{{12, 1000, 1004, 4, Outcome::success}, 106, "optimising", "[]"},
      FailureRow{1005, FailureKind::timeout, "d", "d", "", std::nullopt, "m"},
      UnknownRecordRow{1006, "action:x", "{}"},
      GitFetchRow{{13, 1000, 1007, 7, Outcome::unknown}, "https://example.org/r.git"},
  };
  EXPECT_EQ(store.write_batch(ev), ev.size());
  EXPECT_EQ(dump(store.db(),
                 "SELECT activity_id, drv_path, name, machine, start_ms, end_ms, duration_ms, "
                 "outcome, phases, log_lines, exit_code, failure_kind, cpu_user_us, "
                 "cpu_system_us FROM builds"),
            "7|/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b.drv|b|local|1000|3000|2000|failed|"
            "buildPhase|3|2|builder|5||\n");
  std::size_t i = 0;
  for (const KindTraits* k : kind_table()) {
    SCOPED_TRACE(std::string(k->kind));
    std::vector<Event> back;
    read_rows(store.db(), *k, [&](const Event& e) { back.push_back(e); });
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(kind_of(back[0]), k);
    EXPECT_EQ(kind_of(ev[i]), k);  // the kinds are declared in the order of the tables
    // What the aggregates take from it is what the writer took from the event.
    RowFacts want = *facts_of(ev[i]), got = *facts_of(back[0]);
    EXPECT_EQ(got.date_ms, want.date_ms);
    EXPECT_EQ(got.duration_ms, want.duration_ms);
    EXPECT_EQ(got.outcome, want.outcome);
    EXPECT_EQ(got.key, want.key);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.log_lines, want.log_lines);
    EXPECT_EQ(got.download_bytes, want.download_bytes);
    EXPECT_EQ(got.nar_bytes, want.nar_bytes);
    EXPECT_EQ(got.cpu_user_us, want.cpu_user_us);
    EXPECT_EQ(got.cpu_system_us, want.cpu_system_us);
    ++i;
  }
  EXPECT_EQ(i, ev.size());
  EXPECT_EQ(kind_of(Event{BuildFailedLater{}}), nullptr);
}
