#include "store/record-store.hh"

#include <fmt/format.h>
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
  store.write_batch(
      {BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b.drv", t0, 9, std::nullopt}});
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

// Schema 3 admits every outcome of every activity with one (Outcome in events.hh) and every
// failure kind (FailureKind); schema 2 refused cancelled and unknown.
TEST(RecordStore, EveryOutcomeAndFailureKindIsAdmitted) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  const Outcome outcomes[] = {Outcome::success, Outcome::failed, Outcome::cancelled,
                              Outcome::interrupted, Outcome::unknown};
  std::vector<Event> ev;
  for (Outcome o : outcomes) {
    ev.push_back(build("b", t0, 10, o));
    SubstitutionRow s;
    s.span = {2, t0, t0 + 1, 1, o};
    ev.push_back(s);
    ev.push_back(TransferRow{{3, t0, t0 + 1, 1, o}, "https://x", std::nullopt});
    ev.push_back(CopyRow{{4, t0, t0 + 1, 1, o}, "/nix/store/x", "a", "b", std::nullopt});
  }
  const FailureKind kinds[] = {FailureKind::builder,   FailureKind::dependency,
                               FailureKind::rejected,  FailureKind::timeout,
                               FailureKind::log_limit, FailureKind::hash_mismatch,
                               FailureKind::remote};
  for (FailureKind k : kinds) {
    ev.push_back(FailureRow{t0, k, "d", "d", "", std::nullopt, "m"});
    BuildRow b = build("f", t0, 10, Outcome::failed);
    b.failure_kind = k;
    ev.push_back(b);
  }
  EXPECT_EQ(store.write_batch(ev), 5 * 4 + 7 * 2);
  for (std::string_view table : {"builds", "substitutions", "file_transfers", "copies"})
    EXPECT_EQ(dump(store.db(), fmt::format("SELECT DISTINCT outcome FROM {} ORDER BY 1", table)),
              "cancelled|\nfailed|\ninterrupted|\nsuccess|\nunknown|\n")
        << table;
  std::string names =
      "builder|\ndependency|\nhash-mismatch|\nlog-limit|\nrejected|\nremote|\ntimeout|\n";
  EXPECT_EQ(dump(store.db(), "SELECT kind FROM failures ORDER BY 1"), names);
  EXPECT_EQ(dump(store.db(), "SELECT failure_kind FROM builds WHERE name = 'f' ORDER BY 1"), names);
  // The schema itself refuses what nod never writes.
  EXPECT_THROW(store.db().exec("UPDATE failures SET kind = 'typo'"), sqlite::SqliteError);
  EXPECT_THROW(store.db().exec("UPDATE builds SET outcome = 'ok'"), sqlite::SqliteError);
  EXPECT_THROW(store.db().exec("UPDATE builds SET failure_kind = 'timeout' WHERE outcome = "
                               "'success'"),
               sqlite::SqliteError);
}

TEST(RecordStore, FailureKindAndCpuTimesRoundTrip) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  BuildRow timed_out = build("slow", t0, 5000, Outcome::failed);
  timed_out.failure_kind = FailureKind::timeout;
  timed_out.cpu_user_us = 4200000;
  timed_out.cpu_system_us = 300000;
  BuildRow user_only = build("half", t0, 10, Outcome::success);
  user_only.cpu_user_us = 7;
  // A kind without a failure is not stored (NULL unless failed): the batch is not lost for it.
  BuildRow odd = build("odd", t0, 10, Outcome::success);
  odd.failure_kind = FailureKind::builder;
  BuildRow plain = build("plain", t0, 10, Outcome::failed);
  store.write_batch({timed_out, user_only, odd, plain});
  EXPECT_EQ(dump(store.db(),
                 "SELECT name, outcome, failure_kind, cpu_user_us, cpu_system_us FROM builds "
                 "ORDER BY id"),
            "slow|failed|timeout|4200000|300000|\n"
            "half|success||7||\n"
            "odd|success||||\n"
            "plain|failed||||\n");
  // Unknown CPU is not 0: the aggregates count only the builds that reported it.
  EXPECT_EQ(dump(store.db(),
                 "SELECT outcome, cpu_user_us, cpu_user_known, cpu_system_us, cpu_system_known "
                 "FROM total_stats WHERE kind = 'build' ORDER BY 1"),
            "failed|4200000|1|300000|1|\nsuccess|7|1|0|0|\n");
}

TEST(RecordStore, LateFailureCarriesItsKind) {
  nixmon::test::TempDir dir;
  RecordStore store((dir.path() / "nod.db").string());
  BuildRow unknown = build("u", t0 + 1000, 500, Outcome::unknown);
  unknown.cpu_user_us = 100;
  store.write_batch({build("a", t0 + 1000, 500, Outcome::success), unknown,
                     build("f", t0 + 1000, 500, Outcome::failed)});
  store.write_batch({
      BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv", t0, 1,
                       FailureKind::log_limit},
      // An outcome the stream did not tell becomes failed too, with its CPU time.
      BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-u.drv", t0, std::nullopt,
                       FailureKind::timeout},
      // Already failed: it learns why, and its aggregates stay.
      BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-f.drv", t0, 2,
                       FailureKind::rejected},
  });
  EXPECT_EQ(
      dump(store.db(), "SELECT name, outcome, exit_code, failure_kind FROM builds ORDER BY id"),
      "a|failed|1|log-limit|\nu|failed||timeout|\nf|failed|2|rejected|\n");
  EXPECT_EQ(dump(store.db(),
                 "SELECT outcome, count, cpu_user_us, cpu_user_known FROM total_stats "
                 "WHERE kind = 'build' ORDER BY 1"),
            "failed|3|100|1|\n");
  EXPECT_EQ(dump(store.db(), stored_builds), dump(store.db(), recount_builds));
}
