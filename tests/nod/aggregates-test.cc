// The derived tables (daily, all-time, names) must always equal what a rebuild from the rows
// gives: after writes, late failure corrections, retention, every step of `nod clean`, and after
// the upgrade from schema 1.
#include "nod/aggregates.hh"

#include <gtest/gtest.h>

#include "nod-test-support.hh"
#include "nod/record-store.hh"

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
    ev.push_back(build("hello-big", t + 20, 90000 * (d + 1), Outcome::success));
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
  store.write_batch(
      {BuildFailedLater{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-big.drv", t0, 2}});
  EXPECT_EQ(derived(store.db()), rebuilt(store.db()));
  EXPECT_EQ(dump(store.db(),
                 "SELECT count, max_ms FROM total_stats WHERE kind = 'build' AND "
                 "outcome = 'success'"),
            "7|270000|\n");
  EXPECT_EQ(dump(store.db(), "SELECT name FROM names WHERE kind = 'substitution' ORDER BY 1"),
            "dep-0|\ndep-1|\ndep-x|\n");
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
            "hello-3|\nhello-big|\nremote|\n");
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
    EXPECT_NE(std::string(e.what()).find("schema version 1, older than this nod's 2"),
              std::string::npos)
        << e.what();
  }
  RecordStore upgraded(path);
  EXPECT_TRUE(upgraded.upgraded());
  EXPECT_EQ(upgraded.upgraded_rows(), 44);
  EXPECT_EQ(derived(upgraded.db()), expected);
  EXPECT_EQ(upgraded.db().query_int("PRAGMA user_version"), schema_version);
  EXPECT_EQ(dump(upgraded.db(),
                 "SELECT name FROM sqlite_master WHERE name LIKE 'builds_%name' ORDER BY 1"),
            "builds_by_name|\n");
  RecordStore again(path);
  EXPECT_FALSE(again.upgraded());
}
