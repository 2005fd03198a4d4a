#include "nod/record-store.hh"

#include <gtest/gtest.h>

#include "nod-test-support.hh"

using namespace nixmon;
using namespace nixmon::nod;
using nixmon::nod::test::dump;

namespace {

constexpr int64_t day_ms = 86400000;
constexpr int64_t t0 = 1763683200000;  // 2025-11-21T00:00:00Z

BuildRow build(std::string name, int64_t start, int64_t dur, Outcome o, int64_t lines = 1) {
  BuildRow b;
  b.span = {1, start, start + dur, dur, o};
  b.drv_path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-" + name + ".drv";
  b.name = name;
  b.machine = "local";
  b.log_lines = lines;
  return b;
}

// daily_stats must always equal this recount of the rows.
const char* recount_builds = R"sql(
  SELECT strftime('%Y-%m-%d', start_ms / 1000, 'unixepoch') AS day, outcome, machine,
         count(*), sum(duration_ms), max(duration_ms), sum(log_lines)
  FROM builds GROUP BY 1, 2, 3 ORDER BY 1, 2, 3)sql";
const char* stored_builds = R"sql(
  SELECT day, outcome, key, count, total_ms, max_ms, log_lines FROM daily_stats
  WHERE kind = 'build' ORDER BY 1, 2, 3)sql";

}  // namespace

TEST(RecordStore, AggregatesEqualARecount) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  store.write_batch({build("a", t0 + 1000, 500, Outcome::success),
                     build("b", t0 + 2000, 1500, Outcome::success, 7),
                     build("c", t0 + day_ms + 5, 10, Outcome::failed)});
  store.write_batch({build("d", t0 + 3000, 2500, Outcome::interrupted)});
  EXPECT_EQ(dump(store.db(), stored_builds), dump(store.db(), recount_builds));
  EXPECT_EQ(dump(store.db(), stored_builds),
            "2025-11-21|interrupted|local|1|2500|2500|1|\n"
            "2025-11-21|success|local|2|2000|1500|8|\n"
            "2025-11-22|failed|local|1|10|10|1|\n");
}

TEST(RecordStore, LateFailureMovesTheRowAndItsAggregate) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  store.write_batch({build("a", t0 + 1000, 500, Outcome::success),
                     build("b", t0 + 2000, 1500, Outcome::success)});
  store.write_batch({BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b.drv", t0, 9}});
  EXPECT_EQ(dump(store.db(), stored_builds), dump(store.db(), recount_builds));
  EXPECT_EQ(dump(store.db(), "SELECT name, outcome, exit_code FROM builds ORDER BY id"),
            "a|success||\nb|failed|9|\n");
}

TEST(RecordStore, RetentionPrunesRowsAndAggregatesByDay) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  SubstitutionRow s;
  s.span = {2, t0 - 10 * day_ms, t0 - 10 * day_ms + 5, 5, Outcome::success};
  s.store_path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-old";
  s.substituter = "https://cache";
  s.nar_bytes = 100;
  store.write_batch({build("old", t0 - 10 * day_ms, 1, Outcome::success),
                     build("new", t0 - 2 * day_ms, 1, Outcome::success), s,
                     FailureRow{t0 - 10 * day_ms, FailureKind::builder, "d", "d", "", 1, "m"}});
  int64_t removed = store.prune(t0 + 1000, 5);
  EXPECT_EQ(removed, 3);
  EXPECT_EQ(dump(store.db(), "SELECT name FROM builds"), "new|\n");
  EXPECT_EQ(dump(store.db(), "SELECT day, kind FROM daily_stats"), "2025-11-19|build|\n");
  EXPECT_EQ(dump(store.db(), stored_builds), dump(store.db(), recount_builds));
}

TEST(RecordStore, SubstitutionBytesUnknownAreNotZero) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  SubstitutionRow known, unknown;
  known.span = unknown.span = {3, t0, t0 + 1, 1, Outcome::success};
  known.substituter = unknown.substituter = "https://c";
  known.download_bytes = 10;
  known.nar_bytes = 30;
  store.write_batch({known, unknown});
  EXPECT_EQ(dump(store.db(), "SELECT download_bytes, nar_bytes FROM substitutions ORDER BY id"),
            "10|30|\n||\n");
  EXPECT_EQ(dump(store.db(),
                 "SELECT count, download_bytes, download_known, nar_bytes, nar_known "
                 "FROM daily_stats WHERE kind = 'substitution'"),
            "2|10|1|30|1|\n");
}

TEST(RecordStore, NewerSchemaIsAClearError) {
  nixmon::test::TempDir dir;
  std::string path = (dir.path() / "nod.db").string();
  { RecordStore store(path); }
  {
    sqlite::Database db(path, sqlite::Database::Mode::read_write);
    db.exec("PRAGMA user_version = 99");
  }
  try {
    RecordStore again(path);
    FAIL() << "opened a newer schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99, newer than this nod"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(open_for_reading(path), Error);
}

TEST(RecordStore, RefusesSomebodyElsesDatabase) {
  nixmon::test::TempDir dir;
  std::string path = (dir.path() / "other.db").string();
  {
    sqlite::Database db(path, sqlite::Database::Mode::create);
    db.exec("CREATE TABLE t (x)");
  }
  EXPECT_THROW(RecordStore store(path), Error);
}

TEST(RecordStore, UtcDay) {
  EXPECT_EQ(utc_day(0), "1970-01-01");
  EXPECT_EQ(utc_day(t0), "2025-11-21");
  EXPECT_EQ(utc_day(t0 - 1), "2025-11-20");
  EXPECT_EQ(utc_day(951782400000), "2000-02-29");
}
