// The query engine on a synthetic database with known values (written through the real record
// store, so aggregates are the writer's): every report compared as whole text with a golden file
// (NIXMON_ACCEPT=1 rewrites them), aggregates against a recount, clean by days.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "format/report-wire.hh"
#include "query/common.hh"
#include "query/engine.hh"
#include "stats/log-histogram.hh"
#include "stats/percentile.hh"
#include "store/record-store.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::nod;

namespace {

constexpr int64_t day_ms = 86400000;
constexpr int64_t pinned_now_ms = 1795262400000;  // 2026-11-21 12:00 UTC

Span span(int64_t days_ago, int64_t duration_ms, Outcome o = Outcome::success) {
  static uint64_t id = 1;
  int64_t start = pinned_now_ms - days_ago * day_ms - 3600000;
  return Span{id++, start, start + duration_ms, duration_ms, o};
}

BuildRow build(std::string name, int64_t days_ago, int64_t ms, Outcome o = Outcome::success,
               std::string machine = "local") {
  BuildRow b;
  b.span = span(days_ago, ms, o);
  b.drv_path = "/nix/store/00000000000000000000000000000000-" + name + ".drv";
  b.name = name;
  b.machine = machine;
  b.phases = "buildPhase";
  b.log_lines = 10;
  return b;
}

SubstitutionRow substitution(std::string name, std::string sub, int64_t days_ago, int64_t ms,
                             std::optional<int64_t> dl, std::optional<int64_t> nar) {
  SubstitutionRow s;
  s.span = span(days_ago, ms);
  s.store_path = "/nix/store/11111111111111111111111111111111-" + name;
  s.name = name;
  s.substituter = sub;
  s.download_bytes = dl;
  s.nar_bytes = nar;
  return s;
}

CacheQueryRow cache_query(std::string cache, int64_t days_ago, std::optional<bool> hit) {
  CacheQueryRow q;
  q.span = span(days_ago, 40);
  q.store_path = "/nix/store/22222222222222222222222222222222-x";
  q.cache = cache;
  q.hit = hit;
  return q;
}

// Known values: "hello" builds daily for 20 days (3 s, then 4 s for the newest 10; one failed);
// "slow" builds 12 times at ~10 s and then 5 times at ~30 s (a regression); "remote" builds on
// a remote machine; substitutions from two caches, one without byte counts.
void fill(RecordStore& store) {
  std::vector<Event> ev;
  for (int d = 0; d < 20; ++d)
    ev.push_back(build("hello", d, d < 10 ? 4000 + d * 10 : 3000 + d * 10,
                       d == 3 ? Outcome::failed : Outcome::success));
  for (int i = 0; i < 12; ++i) ev.push_back(build("slow", 40 - i, 10000 + i * 100));
  for (int i = 0; i < 5; ++i) ev.push_back(build("slow", 4 - i, 30000 + i * 100));
  ev.push_back(build("remote", 2, 192000, Outcome::success, "ssh-ng://builder"));
  ev.push_back(build("remote", 1, 5000, Outcome::interrupted, "ssh-ng://builder"));
  ev.push_back(substitution("glibc-2.40", "https://cache.nixos.org", 1, 2000, 10 << 20, 40 << 20));
  ev.push_back(substitution("gcc-14", "https://cache.nixos.org", 9, 8000, 60 << 20, 200 << 20));
  ev.push_back(
      substitution("local-thing", "file:///var/cache", 0, 300, std::nullopt, std::nullopt));
  ev.push_back(cache_query("https://cache.nixos.org", 1, true));
  ev.push_back(cache_query("https://cache.nixos.org", 1, true));
  ev.push_back(cache_query("https://cache.nixos.org", 9, false));
  ev.push_back(cache_query("file:///var/cache", 0, std::nullopt));
  TransferRow t;
  t.span = span(1, 1900);
  t.url = "https://cache.nixos.org/nar/abc.nar.xz";
  t.bytes = 10 << 20;
  ev.push_back(t);
  store.write_batch(ev);
}

// The known values, then today's builds as a Nix with CPU times and failure kinds reports them
// (Determinate Nix), written in the order they stopped (as the writer receives them), and the
// failures of the last days as Nix words them.
void fill_recent(RecordStore& store) {
  fill(store);
  std::vector<Event> today;
  auto at = [](BuildRow b, int64_t minutes) {
    b.span.start_ms += minutes * 60000;
    b.span.end_ms += minutes * 60000;
    return b;
  };
  BuildRow ff = at(build("firefox-140", 0, 1800000), 0);
  ff.cpu_user_us = 5400000000;
  ff.cpu_system_us = 360000000;
  today.push_back(ff);
  BuildRow timeout = at(build("flaky-test", 0, 600000, Outcome::failed), 31);
  timeout.failure_kind = FailureKind::timeout;
  timeout.cpu_user_us = 590000000;
  timeout.cpu_system_us = 2000000;
  today.push_back(timeout);
  BuildRow cancelled = at(build("firefox-140-wrapped", 0, 1200, Outcome::cancelled), 42);
  today.push_back(cancelled);
  BuildRow unsure = at(build("firefox-140", 0, 1700000, Outcome::unknown, "ssh-ng://builder"), 45);
  unsure.cpu_user_us = 5000000000;  // user time only
  today.push_back(unsure);
  BuildRow broken = at(build("broken", 0, 2500, Outcome::failed), 80);
  broken.exit_code = 2;
  broken.failure_kind = FailureKind::builder;
  today.push_back(broken);
  auto failure = [&](int64_t days_ago, int64_t minutes, FailureKind k, std::string name,
                     std::string machine, std::optional<int64_t> exit, std::string message) {
    today.push_back(FailureRow{pinned_now_ms - days_ago * day_ms - 3600000 + minutes * 60000, k,
                               "/nix/store/00000000000000000000000000000000-" + name + ".drv", name,
                               machine, exit, message});
  };
  failure(10, 0, FailureKind::hash_mismatch, "src-old", "", std::nullopt,
          "hash mismatch in fixed-output derivation "
          "'/nix/store/00000000000000000000000000000000-src-old.drv':\n"
          "         specified: sha256-AAAA\n            got:    sha256-BBBB");
  failure(1, 0, FailureKind::remote, "remote", "ssh-ng://builder", std::nullopt,
          "build of '/nix/store/00000000000000000000000000000000-remote.drv' on "
          "'ssh-ng://builder' failed: unexpected end-of-file");
  failure(0, 41, FailureKind::timeout, "flaky-test", "", std::nullopt,
          "Cannot build '/nix/store/00000000000000000000000000000000-flaky-test.drv'.\n"
          "       Reason: timed out after 600 seconds of silence.\n"
          "       Output paths:\n"
          "         /nix/store/11111111111111111111111111111111-flaky-test");
  failure(0, 82, FailureKind::builder, "broken", "", 2,
          "builder for '/nix/store/00000000000000000000000000000000-broken.drv' failed with exit "
          "code 2;\n       last 3 log lines:\n       > make: *** [Makefile:3: all] Error 2\n"
          "       > error: build failed\n       > done\n"
          "       For full logs, run 'nix log "
          "/nix/store/00000000000000000000000000000000-broken.drv'.");
  failure(0, 82, FailureKind::dependency, "world", "", std::nullopt,
          "1 dependencies of derivation '/nix/store/00000000000000000000000000000000-world.drv' "
          "failed to build");
  store.write_batch(today);
}

class QueryEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "nod.db").string();
    RecordStore store(path_);
    fill(store);
  }
  // Each report goes the daemon's way: written as data, read back by the CLI, rendered there.
  // The goldens are what a user sees with or without a daemon.
  std::string run(QueryOptions o, const format::RenderOptions& how = {}) {
    auto db = open_for_reading(path_);
    format::Report report = run_query(db, o, pinned_now_ms);
    JsonWriter w;
    format::write_report(w, report);
    simdjson::dom::parser parser;
    format::Report back = format::read_report(parser.parse(w.str()));
    std::string text = render(back, o.output, how);
    EXPECT_EQ(text, render(report, o.output, how)) << "the wire changed the report";
    return text;
  }
  nixmon::test::TempDir dir_;
  std::string path_;
};

class RecentRows : public QueryEngine {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "recent.db").string();
    RecordStore store(path_);
    fill_recent(store);
  }
};

QueryOptions opts(std::function<void(QueryOptions&)> f = {}) {
  QueryOptions o;
  if (f) f(o);
  return o;
}

}  // namespace

TEST_F(QueryEngine, GoldenReports) {
  using nixmon::test::expect_golden;
  expect_golden("tests/nod/golden/summary.txt", run(opts()));
  expect_golden("tests/nod/golden/summary-d7.txt", run(opts([](auto& o) { o.days = 7; })));
  expect_golden("tests/nod/golden/summary-m1.txt", run(opts([](auto& o) { o.months = 1; })));
  expect_golden("tests/nod/golden/summary-drv.txt", run(opts([](auto& o) { o.drv = "hello"; })));
  expect_golden("tests/nod/golden/summary.csv",
                run(opts([](auto& o) { o.output = OutputFormat::csv; })));
  expect_golden("tests/nod/golden/summary.json",
                run(opts([](auto& o) { o.output = OutputFormat::json; })));
  expect_golden("tests/nod/golden/group-count.txt", run(opts([](auto& o) {
                  o.group = true;
                  o.sort = SortKey::count;
                })));
  expect_golden("tests/nod/golden/group-name-limit.txt", run(opts([](auto& o) {
                  o.group = true;
                  o.sort = SortKey::name;
                  o.limit = 2;
                })));
  expect_golden("tests/nod/golden/bucket-day-d7.txt", run(opts([](auto& o) {
                  o.bucket = Bucket::day;
                  o.days = 7;
                })));
  expect_golden("tests/nod/golden/bucket-week.csv", run(opts([](auto& o) {
                  o.bucket = Bucket::week;
                  o.output = OutputFormat::csv;
                })));
  expect_golden("tests/nod/golden/bucket-month.txt",
                run(opts([](auto& o) { o.bucket = Bucket::month; })));
  expect_golden("tests/nod/golden/test-d7.txt", run(opts([](auto& o) {
                  o.output = OutputFormat::test;
                  o.days = 7;
                })));
  expect_golden("tests/nod/golden/test-bucket-day.txt", run(opts([](auto& o) {
                  o.output = OutputFormat::test;
                  o.bucket = Bucket::day;
                })));
  expect_golden("tests/nod/golden/regressions.txt",
                run(opts([](auto& o) { o.command = QueryCommand::regressions; })));
  expect_golden("tests/nod/golden/regressions.json", run(opts([](auto& o) {
                  o.command = QueryCommand::regressions;
                  o.output = OutputFormat::json;
                })));
  expect_golden("tests/nod/golden/empty-drv.txt",
                run(opts([](auto& o) { o.drv = "no-such-derivation"; })));
  // Pictures, as a terminal gets them: bars of each kind's counts and medians, spreads of history
  // and recent builds; Unicode and the ASCII fallback.
  format::RenderOptions unicode{false, format::Glyphs::unicode, 0};
  format::RenderOptions ascii{false, format::Glyphs::ascii, 0};
  expect_golden("tests/nod/golden/bucket-day-d7-pictures.txt", run(opts([](auto& o) {
                                                                     o.bucket = Bucket::day;
                                                                     o.days = 7;
                                                                   }),
                                                                   unicode));
  expect_golden("tests/nod/golden/bucket-month-ascii.txt",
                run(opts([](auto& o) { o.bucket = Bucket::month; }), ascii));
  expect_golden("tests/nod/golden/bucket-week-drv-pictures.txt", run(opts([](auto& o) {
                                                                       o.bucket = Bucket::week;
                                                                       o.drv = "hello";
                                                                     }),
                                                                     unicode));
  expect_golden("tests/nod/golden/regressions-pictures.txt",
                run(opts([](auto& o) { o.command = QueryCommand::regressions; }), unicode));
  // A terminal of 120 columns: the spreads shrink to fit.
  expect_golden("tests/nod/golden/regressions-ascii.txt",
                run(opts([](auto& o) { o.command = QueryCommand::regressions; }),
                    format::RenderOptions{false, format::Glyphs::ascii, 120}));
}

// nod failures, nod builds, and CPU times where Nix reports them.
TEST_F(RecentRows, GoldenReports) {
  using nixmon::test::expect_golden;
  expect_golden("tests/nod/golden/failures.txt",
                run(opts([](auto& o) { o.command = QueryCommand::failures; })));
  expect_golden("tests/nod/golden/failures.json", run(opts([](auto& o) {
                  o.command = QueryCommand::failures;
                  o.output = OutputFormat::json;
                  o.last = 2;
                })));
  expect_golden("tests/nod/golden/failures-d7-drv.csv", run(opts([](auto& o) {
                  o.command = QueryCommand::failures;
                  o.days = 7;
                  o.drv = "r";  // remote, broken, world; not src-old (10 days ago)
                  o.output = OutputFormat::csv;
                })));
  expect_golden("tests/nod/golden/builds-last.txt", run(opts([](auto& o) {
                  o.command = QueryCommand::builds;
                  o.last = 6;
                })));
  expect_golden("tests/nod/golden/builds-last.json", run(opts([](auto& o) {
                  o.command = QueryCommand::builds;
                  o.last = 3;
                  o.output = OutputFormat::json;
                })));
  expect_golden("tests/nod/golden/builds-drv.txt", run(opts([](auto& o) {
                  o.command = QueryCommand::builds;
                  o.drv = "firefox";
                  o.days = 1;
                })));
  expect_golden("tests/nod/golden/group-cpu.json", run(opts([](auto& o) {
                  o.group = true;
                  o.drv = "f";
                  o.output = OutputFormat::json;
                })));
  expect_golden("tests/nod/golden/summary-cpu.txt", run(opts()));
}

TEST_F(QueryEngine, KnownValues) {
  auto db = open_for_reading(path_);
  // hello, last 7 days: days 0..6, 4000..4060 ms; the test compares with days 7..13.
  QueryOptions o;
  o.drv = "hello";
  o.days = 7;
  auto d =
      query::load_durations(db, *query::find_kind("build"), period_of(o, pinned_now_ms), o.drv);
  ASSERT_EQ(d.size(), 7u);
  EXPECT_EQ(*stats::median(d), 4030);
  // The summary from daily aggregates equals a recount of the rows (instr(x, '') matches all).
  Period all = period_of(QueryOptions{}, pinned_now_ms);
  auto agg = query::load_aggregates(db, all, std::nullopt);
  auto recount = query::load_aggregates(db, all, std::string());
  auto key = [](const query::AggRow& r) {
    return std::tuple(r.kind, r.key, r.outcome, r.count, r.total_ms, r.max_ms, r.download_bytes,
                      r.download_known, r.nar_bytes, r.nar_known, r.cpu_user_us, r.cpu_user_known,
                      r.cpu_system_us, r.cpu_system_known);
  };
  std::vector<decltype(key(agg[0]))> a, b;
  for (auto& r : agg) a.push_back(key(r));
  for (auto& r : recount) b.push_back(key(r));
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  // The daily histogram gives the median within 5% of the exact one.
  auto h = query::load_histograms(db, all)["build"];
  ASSERT_FALSE(h.empty());
  auto builds = query::load_durations(db, *query::find_kind("build"), all, std::nullopt);
  EXPECT_NEAR(*stats::histogram_percentile(h, 0.5) / *stats::median(builds), 1, 0.05);
}

TEST_F(QueryEngine, CleanRemovesWholeDaysAndTheirAggregates) {
  sqlite::Database db(path_, sqlite::Database::Mode::read_write);
  int64_t before = clean_count(db, 7, pinned_now_ms);
  // Rows of days before 2026-11-14: hello d>=8 (12), slow 12 builds (days 29..40), gcc-14
  // substitution and its cache query (day 9).
  EXPECT_EQ(before, 12 + 12 + 1 + 1);
  int64_t removed = 0;
  for (;;) {
    auto s = clean_step(db, 7, pinned_now_ms, 5);  // small steps: many transactions
    removed += s.removed;
    if (s.done) break;
  }
  EXPECT_EQ(removed, before);
  EXPECT_EQ(clean_count(db, 7, pinned_now_ms), 0);
  EXPECT_EQ(*db.query_int("SELECT count(*) FROM daily_stats WHERE day < '2026-11-14'"), 0);
  EXPECT_EQ(*db.query_int("SELECT count(*) FROM daily_durations WHERE day < '2026-11-14'"), 0);
  // What is left still equals a recount.
  EXPECT_EQ(*db.query_int("SELECT sum(count) FROM daily_stats WHERE kind = 'build'"),
            *db.query_int("SELECT count(*) FROM builds"));
  EXPECT_EQ(*db.query_int("SELECT sum(count) FROM daily_durations WHERE kind = 'build'"),
            *db.query_int("SELECT count(*) FROM builds"));
  // clean without --before-days: everything.
  while (!clean_step(db, std::nullopt, pinned_now_ms, 1000).done) {
  }
  EXPECT_EQ(*db.query_int("SELECT count(*) FROM builds"), 0);
  EXPECT_EQ(*db.query_int("SELECT count(*) FROM daily_stats"), 0);
  QueryOptions o;
  auto report = render(run_query(db, o, pinned_now_ms), o.output);
  EXPECT_NE(report.find("no activities recorded in this period"), std::string::npos);
}

// CPU sums from the aggregates (O(days)) equal a recount of the rows, as every other sum does.
TEST_F(RecentRows, CpuSumsFromAggregatesEqualARecount) {
  auto db = open_for_reading(path_);
  Period all = period_of(QueryOptions{}, pinned_now_ms);
  QueryOptions d1;
  d1.days = 1;
  for (const Period& p : {all, period_of(d1, pinned_now_ms)}) {
    std::map<std::tuple<std::string, std::string>, std::vector<int64_t>> agg, recount;
    for (auto& r : query::load_aggregates(db, p, std::nullopt))
      if (r.kind == "build")
        agg[{r.key, r.outcome}] = {r.count, r.cpu_user_us, r.cpu_user_known, r.cpu_system_us,
                                   r.cpu_system_known};
    for (auto& r : query::load_aggregates(db, p, std::string()))
      if (r.kind == "build")
        recount[{r.key, r.outcome}] = {r.count, r.cpu_user_us, r.cpu_user_known, r.cpu_system_us,
                                       r.cpu_system_known};
    EXPECT_EQ(agg, recount) << p.label;
    // firefox-140 alone reported CPU among the local successes; the unknown-outcome build on
    // the remote builder only user time.
    auto cpu = [](std::vector<int64_t> v) { return std::vector<int64_t>(v.begin() + 1, v.end()); };
    EXPECT_EQ(cpu(agg[{"local", "success"}]), (std::vector<int64_t>{5400000000, 1, 360000000, 1}));
    EXPECT_EQ(cpu(agg[{"ssh-ng://builder", "unknown"}]),
              (std::vector<int64_t>{5000000000, 1, 0, 0}));
  }
}

TEST_F(RecentRows, SummaryCountsEveryOutcomeOfAKind) {
  // Cancelled and unknown builds have their own columns, so the outcome columns of a kind and
  // its successes add up to COUNT in every format.
  std::string json = run(opts([](auto& o) { o.output = OutputFormat::json; }));
  size_t row = json.find("{\"kind\":\"build\"");
  ASSERT_NE(row, std::string::npos) << json;
  std::string build = json.substr(row, json.find('}', row) - row);
  EXPECT_NE(build.find("\"cancelled\":1,\"unknown\":1,"), std::string::npos) << build;
  std::string csv = run(opts([](auto& o) { o.output = OutputFormat::csv; }));
  EXPECT_NE(csv.find("failed,interrupted,cancelled,unknown,"), std::string::npos) << csv;
  std::string table = run(opts());
  EXPECT_NE(table.find("INTERRUPTED  CANCELLED  UNKNOWN"), std::string::npos) << table;
}
