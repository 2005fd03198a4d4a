// The derived tables (daily, all-time, names) must always equal what a rebuild from the rows
// gives: after writes, late failure corrections, retention, every step of `nod clean`, and after
// the upgrade from schema 1.
#include "store/aggregates.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "nod-test-support.hh"
#include "store/record-store.hh"

using namespace nixmon;
using namespace nixmon::nod;
using nixmon::nod::test::dump;

namespace {

constexpr int64_t day_ms = 86400000;
constexpr int64_t t0 = 1763683200000;  // 2025-11-21T00:00:00Z

std::string derived(const sqlite::Database& db, bool with_names = true) {
  std::string out = dump(db, "SELECT * FROM daily_stats ORDER BY 1, 2, 3, 4") + "--\n" +
                    dump(db, "SELECT * FROM daily_durations ORDER BY 1, 2, 3") + "--\n" +
                    dump(db, "SELECT * FROM total_stats ORDER BY 1, 2, 3") + "--\n" +
                    dump(db, "SELECT * FROM total_durations ORDER BY 1, 2") + "--\n";
  if (with_names) out += dump(db, "SELECT * FROM names ORDER BY 1, 2");
  return out;
}

// The derived tables as a rebuild from the rows makes them (rolled back afterwards).
std::string rebuilt(sqlite::Database& db, bool with_names = true) {
  sqlite::Transaction tx(db);
  rebuild_aggregates(db);
  return derived(db, with_names);
}

BuildRow build(std::string name, int64_t start, int64_t dur, Outcome o,
               std::string machine = "local") {
  BuildRow b;
  b.span = {1, start, start + dur, dur, o};
  b.drv_path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-" + name + ".drv";
  b.name = name;
  b.machine = machine;
  b.log_lines = 3;
  return b;
}

SubstitutionRow substitution(std::string name, int64_t start, int64_t dur,
                             std::optional<int64_t> bytes) {
  SubstitutionRow s;
  s.span = {2, start, start + dur, dur, Outcome::success};
  s.store_path = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-" + name;
  s.name = name;
  s.substituter = "https://cache.example";
  s.download_bytes = bytes;
  s.nar_bytes = bytes ? std::optional<int64_t>(*bytes * 3) : std::nullopt;
  return s;
}

// Every kind of row over four days, and a late failure that takes the biggest build of a day.
std::vector<Event> mixed_days() {
  std::vector<Event> ev;
  for (int d = 0; d < 4; ++d) {
    int64_t t = t0 + d * day_ms;
    ev.push_back(build("hello-" + std::to_string(d), t + 10, 1000 + d, Outcome::success));
    // CPU times where Nix reports them: both, one of the two, or neither.
    BuildRow big = build("hello-big", t + 20, 90000 * (d + 1), Outcome::success);
    big.cpu_user_us = 1000000 * (d + 1);
    if (d % 2 == 0) big.cpu_system_us = 100;
    ev.push_back(big);
    ev.push_back(build("victim", t + 25, 5, Outcome::cancelled));
    BuildRow unsure = build("daemon-side", t + 26, 6, Outcome::unknown);
    unsure.cpu_user_us = 7;
    ev.push_back(unsure);
    ev.push_back(build("remote", t + 30, 700, Outcome::failed, "ssh-ng://b"));
    ev.push_back(substitution("dep-" + std::to_string(d % 2), t + 40, 50, d ? 4096 : 0));
    ev.push_back(substitution("dep-x", t + 50, 60, std::nullopt));
    CacheQueryRow q;
    q.span = {3, t + 60, t + 61, 1, Outcome::success};
    q.store_path = "/nix/store/x";
    q.cache = "https://cache.example";
    if (d != 2) q.hit = d % 2 == 0;
    ev.push_back(q);
    ev.push_back(TransferRow{{4, t + 70, t + 80, 10, Outcome::success}, "https://x/nar", 99});
    ev.push_back(CopyRow{
        {5, t + 90, t + 95, 5, Outcome::interrupted}, "/nix/store/y", "a", "b", std::nullopt});
    ev.push_back(ActivityRow{{6, t + 99, t + 100, 1, Outcome::success}, 111, "x", "{}"});
    ev.push_back(FailureRow{t + 200, FailureKind::builder, "/nix/store/z.drv", "z", "", 1, "m"});
    ev.push_back(UnknownRecordRow{t + 300, "action:new", "{}"});
  }
  return ev;
}

}  // namespace

TEST(Aggregates, EqualARebuildAfterWritesAndCorrections) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  auto ev = mixed_days();
  // In two batches, so the upserts add to existing rows.
  store.write_batch({ev.begin(), ev.begin() + 20});
  store.write_batch({ev.begin() + 20, ev.end()});
  // The biggest build of all (day 3) fails late: the all-time maximum of successes must drop.
  store.write_batch({BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-big.drv",
                                      t0, 2, std::nullopt}});
  EXPECT_EQ(derived(store.db()), rebuilt(store.db()));
  EXPECT_EQ(dump(store.db(),
                 "SELECT count, max_ms FROM total_stats WHERE kind = 'build' AND "
                 "outcome = 'success'"),
            "7|270000|\n");
  EXPECT_EQ(dump(store.db(), "SELECT name FROM names WHERE kind = 'substitution' ORDER BY 1"),
            "dep-0|\ndep-1|\ndep-x|\n");
  // CPU sums count only the builds that reported them, and moved with the late failure.
  EXPECT_EQ(dump(store.db(),
                 "SELECT outcome, key, cpu_user_us, cpu_user_known, cpu_system_us, "
                 "cpu_system_known FROM total_stats WHERE kind = 'build' ORDER BY 1, 2"),
            "cancelled|local|0|0|0|0|\n"
            "failed|local|4000000|1|0|0|\n"
            "failed|ssh-ng://b|0|0|0|0|\n"
            "success|local|6000000|3|200|2|\n"
            "unknown|local|28|4|0|0|\n");
  // Bytes: unknown stays unknown in the totals too (known counts, not zeros).
  EXPECT_EQ(dump(store.db(),
                 "SELECT count, download_bytes, download_known, nar_known FROM total_stats "
                 "WHERE kind = 'substitution'"),
            "8|12288|4|4|\n");
}

TEST(Aggregates, EqualARebuildAtEveryStepOfCleanAndAfterRetention) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  store.write_batch(mixed_days());
  int64_t now = t0 + 3 * day_ms + 1000;
  int steps = 0;
  for (;;) {
    // Tiny steps: one day per transaction, each checked. Names may lag until the end.
    CleanStep s = clean_step(store.db(), 0, now, 1);  // every day before today
    ++steps;
    EXPECT_EQ(derived(store.db(), false), rebuilt(store.db(), false)) << "step " << steps;
    if (s.done) break;
  }
  EXPECT_EQ(steps, 4);  // days 0, 1, 2, then the final step
  EXPECT_EQ(derived(store.db()), rebuilt(store.db()));
  // Only day 3 is left: its maximum, and only its names.
  EXPECT_EQ(dump(store.db(),
                 "SELECT max_ms FROM total_stats WHERE kind = 'build' AND "
                 "outcome = 'success'"),
            "360000|\n");
  EXPECT_EQ(dump(store.db(), "SELECT name FROM names WHERE kind = 'build' ORDER BY 1"),
            "daemon-side|\nhello-3|\nhello-big|\nremote|\nvictim|\n");
  // Retention of everything before today: nothing left, no aggregate left.
  store.prune(now + 2 * day_ms, 1);
  EXPECT_EQ(derived(store.db()), "--\n--\n--\n--\n");
}

TEST(Aggregates, MaximumFallsWhenTheDayHoldingItIsCleaned) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  store.write_batch(
      {build("a", t0, 9000, Outcome::success), build("a", t0 + day_ms, 100, Outcome::success)});
  clean_step(store.db(), 0, t0 + day_ms, 1);  // removes day 0 only
  EXPECT_EQ(dump(store.db(), "SELECT count, total_ms, max_ms FROM total_stats"), "1|100|100|\n");
}

TEST(Aggregates, SchemaOneIsUpgradedByRecountingTheRows) {
  nixmon::test::TempDir dir;
  std::string path = (dir.path() / "nod.db").string();
  std::string expected;
  {
    RecordStore store(path);
    store.write_batch(mixed_days());
    expected = derived(store.db());
    // What a version-1 database looked like: no totals, no names, and (in early builds) an empty
    // daily_durations.
    store.db().exec(
        "DROP TABLE total_stats; DROP TABLE total_durations; DROP TABLE names; "
        "DELETE FROM daily_durations; DROP INDEX builds_by_name; "
        "CREATE INDEX builds_name ON builds (name, start_ms); PRAGMA user_version = 1");
  }
  try {
    open_for_reading(path);
    FAIL() << "read an older schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 1, older than this nod's 4"),
              std::string::npos)
        << e.what();
  }
  RecordStore upgraded(path);
  EXPECT_TRUE(upgraded.upgraded());
  EXPECT_EQ(upgraded.upgraded_rows(), 52);
  EXPECT_EQ(derived(upgraded.db()), expected);
  EXPECT_EQ(upgraded.db().query_int("PRAGMA user_version"), schema_version);
  EXPECT_EQ(dump(upgraded.db(),
                 "SELECT name FROM sqlite_master WHERE name LIKE 'builds_%name' ORDER BY 1"),
            "builds_by_name|\n");
  RecordStore again(path);
  EXPECT_FALSE(again.upgraded());
}

namespace {

// A schema-2 database as nod wrote it (tests/fixtures/nod-db/schema-2.sql: real Nix 2.8 captures
// ingested by nod before schema 3), in a new file.
std::string schema_two_db(const nixmon::test::TempDir& dir, const std::string& name) {
  std::string path = (dir.path() / name).string();
  sqlite::Database db(path, sqlite::Database::Mode::create);
  db.exec(
      nixmon::test::read_text(nixmon::test::source_dir() / "tests/fixtures/nod-db/schema-2.sql"));
  return path;
}

std::vector<std::string> column_names(const sqlite::Database& db, const std::string& table) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid");
  st.bind(1, table);
  while (st.step()) out.push_back(st.column_text(0));
  return out;
}

// Every row of every table, by the given columns of each (a table's own when none given).
std::map<std::string, std::string> every_row(
    const sqlite::Database& db, const std::map<std::string, std::vector<std::string>>& columns) {
  std::map<std::string, std::string> out;
  for (auto& [table, cols] : columns) {
    std::string list, order;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      list += (i ? ", " : "") + cols[i];
      order += (i ? ", " : "") + std::to_string(i + 1);
    }
    out[table] = dump(db, "SELECT " + list + " FROM " + table + " ORDER BY " + order);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> tables_of(const sqlite::Database& db) {
  std::map<std::string, std::vector<std::string>> out;
  auto st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1");
  while (st.step()) out[st.column_text(0)] = column_names(db, st.column_text(0));
  return out;
}

// Tables, columns (type, NOT NULL, default, key) and indexes (their columns): what a query or an
// insert can tell apart.
std::string shape(const sqlite::Database& db) {
  std::string out;
  for (auto& [table, cols] : tables_of(db))
    out += table + ":\n" +
           dump(db, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('" +
                        table + "') ORDER BY cid");
  auto st = db.prepare(
      "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
      "ORDER BY 1");
  while (st.step())
    out +=
        st.column_text(0) + " on " + st.column_text(1) + ":\n" +
        dump(db, "SELECT name FROM pragma_index_info('" + st.column_text(0) + "') ORDER BY seqno");
  return out;
}

}  // namespace

TEST(Aggregates, SchemaTwoIsUpgradedKeepingEveryRowAndAggregate) {
  nixmon::test::TempDir dir;
  std::string path = schema_two_db(dir, "v2.db");
  std::map<std::string, std::vector<std::string>> v2_columns;
  std::map<std::string, std::string> v2_rows;
  {
    sqlite::Database v2(path, sqlite::Database::Mode::read_write);
    v2_columns = tables_of(v2);
    v2_rows = every_row(v2, v2_columns);
    ASSERT_EQ(v2.query_int("PRAGMA user_version"), 2);
    ASSERT_EQ(v2.query_int("SELECT count(*) FROM builds"), 3);
    ASSERT_EQ(v2.query_int("SELECT count(*) FROM failures"), 2);
  }
  RecordStore upgraded(path);
  EXPECT_TRUE(upgraded.upgraded());
  EXPECT_EQ(upgraded.upgraded_from(), 2);
  EXPECT_FALSE(upgraded.upgrade_recounted());  // nothing to recount: kept as they were
  EXPECT_EQ(upgraded.db().query_int("PRAGMA user_version"), 4);
  // Every row of every table, with every value it had (ids too), by the columns schema 2 had;
  // only the version changed.
  auto rows = every_row(upgraded.db(), v2_columns);
  EXPECT_EQ(rows["meta"], "schema_version|4|\n");
  EXPECT_EQ(v2_rows["meta"], "schema_version|2|\n");
  rows.erase("meta");
  v2_rows.erase("meta");
  EXPECT_EQ(rows, v2_rows);
  // The new columns: the failed build's kind from its failure message; CPU unknown, not 0.
  EXPECT_EQ(dump(upgraded.db(),
                 "SELECT name, outcome, failure_kind, cpu_user_us, cpu_system_us FROM builds "
                 "ORDER BY id"),
            "b-i5fx31730|success||||\na-i5fx31730|success||||\n"
            "bad-i5fx31730|failed|builder|||\n");
  EXPECT_EQ(*upgraded.db().query_int("SELECT sum(cpu_user_known + cpu_system_known + cpu_user_us "
                                     "+ cpu_system_us) FROM daily_stats"),
            0);
  // The aggregates it kept equal a recount by this nod.
  EXPECT_EQ(derived(upgraded.db()), rebuilt(upgraded.db()));
  // And the database is the one a new nod makes: same tables, columns, indexes.
  RecordStore fresh((dir.path() / "fresh.db").string());
  EXPECT_EQ(shape(upgraded.db()), shape(fresh.db()));
  // What schema 2 refused is written now.
  BuildRow b = build("after", t0, 10, Outcome::cancelled);
  upgraded.write_batch({b});
  EXPECT_EQ(derived(upgraded.db()), rebuilt(upgraded.db()));
  RecordStore again(path);
  EXPECT_FALSE(again.upgraded());
}

// Which failure message tells an old failed build's kind: the nearest one about the same
// derivation from its start to 10 minutes after its stop, and never a dependency failure (that
// derivation never started). Otherwise unknown (NULL).
TEST(Aggregates, SchemaTwoFailureKindsAreFilledFromTheFailures) {
  nixmon::test::TempDir dir;
  std::string path = schema_two_db(dir, "v2.db");
  {
    sqlite::Database v2(path, sqlite::Database::Mode::read_write);
    auto add = [&](std::string name, std::string outcome, int64_t start, int64_t end) {
      v2.exec(fmt::format(
          "INSERT INTO builds (activity_id, drv_path, name, machine, start_ms, end_ms, "
          "duration_ms, outcome, phases, log_lines) VALUES (7, '/nix/store/x-{0}.drv', '{0}', "
          "'local', {1}, {2}, {2} - {1}, '{3}', '', 0)",
          name, start, end, outcome));
    };
    auto failure = [&](std::string name, std::string kind, int64_t at) {
      v2.exec(fmt::format(
          "INSERT INTO failures (time_ms, kind, drv_path, name, machine, message) VALUES "
          "({}, '{}', '/nix/store/x-{}.drv', '{}', '', 'm')",
          at, kind, name, name));
    };
    constexpr int64_t minute = 60000;
    add("remote", "failed", t0, t0 + minute);
    failure("remote", "remote", t0 + 3 * minute);  // after its stop (Nix >= 2.29), within 10 min
    add("two", "failed", t0, t0 + minute);
    failure("two", "builder", t0 + 6 * minute);
    failure("two", "hash-mismatch", t0 + minute);  // nearest to the stop
    add("late", "failed", t0, t0 + minute);
    failure("late", "builder", t0 + 12 * minute);  // too late: another attempt's
    add("early", "failed", t0, t0 + minute);
    failure("early", "builder", t0 - 1);  // before it started: an earlier attempt's
    add("dep", "failed", t0, t0 + minute);
    failure("dep", "dependency", t0 + 10);
    add("silent", "failed", t0, t0 + minute);  // failed by the progress counter: no message
    add("fine", "success", t0, t0 + minute);
    failure("fine", "builder", t0 + 10);  // a success keeps no kind
  }
  RecordStore upgraded(path);
  EXPECT_EQ(dump(upgraded.db(), "SELECT name, failure_kind FROM builds WHERE id > 3 ORDER BY id"),
            "remote|remote|\ntwo|hash-mismatch|\nlate||\nearly||\ndep||\nsilent||\nfine||\n");
  EXPECT_EQ(*upgraded.db().query_int("SELECT count(*) FROM failures"), 2 + 7);
}
