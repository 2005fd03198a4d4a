#include "tracking/activity-tracker.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "nod-test-support.hh"

using namespace nixmon::nod;
using namespace nixmon::nod::test;

// Real Nix 2.8 streams (tests/fixtures/nix-logs/README.md says how they were made).

TEST(ActivityTracker, SuccessfulBuildsFromNix28) {
  Collected c;
  feed(c, fixture_log("build-success.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  // b finishes first in the stream (its stop comes before a's).
  EXPECT_TRUE(builds[0].name.starts_with("b-i5fx"));
  EXPECT_TRUE(builds[1].name.starts_with("a-i5fx"));
  EXPECT_TRUE(builds[1].drv_path.ends_with(builds[1].name + ".drv"));
  EXPECT_EQ(builds[1].log_lines, 2);
  EXPECT_EQ(builds[0].log_lines, 1);
  for (auto& b : builds) {
    EXPECT_EQ(b.machine, "local");
    EXPECT_EQ(b.span.outcome, Outcome::success);
    EXPECT_LE(b.span.start_ms, b.span.end_ms);
    // Nix 2.8 stamps nothing: both clocks are the reader's, so the monotonic duration equals
    // the wall span here (up to the clocks' drift within one replay).
    EXPECT_NEAR(b.span.duration_ms, b.span.end_ms - b.span.start_ms, 5);
    EXPECT_FALSE(b.exit_code);
  }
  EXPECT_TRUE(c.all<FailureRow>().empty());
  EXPECT_EQ(c.counters.orphans, 0u);
  EXPECT_EQ(c.counters.duplicates, 0u);
  EXPECT_EQ(c.tracker.in_flight(), 0u);
}

TEST(ActivityTracker, FailedBuildAndDependencyFailureFromNix28) {
  Collected c;
  feed(c, fixture_log("build-failure.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);  // dep never started
  EXPECT_TRUE(builds[0].name.starts_with("bad-"));
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed);
  EXPECT_EQ(builds[0].exit_code, 3);
  EXPECT_EQ(builds[0].log_lines, 1);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].kind, FailureKind::builder);
  EXPECT_EQ(failures[0].drv_path, builds[0].drv_path);
  EXPECT_EQ(failures[0].exit_code, 3);
  EXPECT_EQ(failures[1].kind, FailureKind::dependency);
  EXPECT_TRUE(failures[1].name.starts_with("dep-"));
  EXPECT_EQ(c.counters.failures_unattributed, 0u);
}

TEST(ActivityTracker, SubstitutionFromFileCacheFromNix28) {
  Collected c;
  feed(c, fixture_log("substitution-file-cache.log"));
  auto subs = c.all<SubstitutionRow>();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_TRUE(subs[0].name.starts_with("b-"));
  EXPECT_EQ(subs[0].substituter, "file:///tmp/nod-i5/cache");
  EXPECT_EQ(subs[0].span.outcome, Outcome::success);
  EXPECT_FALSE(subs[0].download_bytes);  // Nix 2.8 does not say for file:// caches
  EXPECT_FALSE(subs[0].nar_bytes);
  auto queries = c.all<CacheQueryRow>();
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0].cache, "file:///tmp/nod-i5/cache");
  EXPECT_EQ(queries[0].hit, true);
  EXPECT_TRUE(c.all<CopyRow>().empty());  // the copyPath is part of the substitution
}

TEST(ActivityTracker, SameActivitiesOnTwoConnectionsCountOnce) {
  // A `nix` client re-sends the daemon worker's activities with the same ids.
  std::string text = fixture_log("build-success.log") + fixture_log("build-failure.log");
  Collected once, twice;
  feed(once, text);
  {
    LogSession daemon(twice.tracker, twice.counters, LogSession::Input::internal_json);
    LogSession client(twice.tracker, twice.counters, LogSession::Input::internal_json);
    LineSplitter sd(1 << 20), sc(1 << 20);
    // Interleave line by line, the client one line behind.
    std::vector<std::string> lines;
    for (size_t a = 0, b; a < text.size(); a = b + 1) {
      b = text.find('\n', a);
      lines.push_back(text.substr(a, b - a + 1));
    }
    auto put = [](LineSplitter& s, LogSession& sess, const std::string& l) {
      auto buf = s.writable();
      std::copy(l.begin(), l.end(), buf.data());
      sess.set_stamp(Stamp::now());
      s.commit(l.size(), sess);
    };
    for (size_t i = 0; i <= lines.size(); ++i) {
      if (i < lines.size()) put(sd, daemon, lines[i]);
      if (i > 0) put(sc, client, lines[i - 1]);
    }
  }
  auto a = once.all<BuildRow>(), b = twice.all<BuildRow>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].drv_path, b[i].drv_path);
    EXPECT_EQ(a[i].log_lines, b[i].log_lines);
    EXPECT_EQ(a[i].span.outcome, b[i].span.outcome);
    EXPECT_EQ(a[i].exit_code, b[i].exit_code);
  }
  EXPECT_EQ(once.all<FailureRow>().size(), twice.all<FailureRow>().size());
  EXPECT_EQ(once.all<ActivityRow>().size(), twice.all<ActivityRow>().size());
  // Every activity record (start, stop, result) of the client's copy is one duplicate, and so
  // are its two failure messages (build-failure.log: the builder failed, a dependency failed),
  // already reported by the daemon's copy: applied once, counted once more. No more, no fewer.
  std::uint64_t activity_records = 0;
  for (std::string_view action :
       {"\"action\":\"start\"", "\"action\":\"stop\"", "\"action\":\"result\""})
    for (auto at = text.find(action); at != std::string::npos; at = text.find(action, at + 1))
      ++activity_records;
  EXPECT_EQ(once.counters.duplicates, 0u);
  EXPECT_EQ(twice.counters.duplicates, activity_records + 2);
  EXPECT_EQ(twice.counters.interrupted, 0u);
}

TEST(ActivityTracker, OpenActivitiesOfAClosedConnectionAreInterrupted) {
  Collected c;
  std::string text = fixture_log("build-success.log");
  // Cut the stream after the first build started.
  auto cut = text.find("\"type\":101}");
  feed(c, text.substr(0, text.find('\n', cut) + 1));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::interrupted);
  EXPECT_EQ(builds[0].log_lines, 1);
  // The four activities open at the cut (six started, two stopped): realise, builds, copyPaths,
  // build. Exactly these: one more would be an activity interrupted twice or one already stopped.
  EXPECT_EQ(c.counters.interrupted, 4u);
  EXPECT_EQ(c.tracker.in_flight(), 0u);
}

TEST(ActivityTracker, ActivityHeldByTwoConnectionsSurvivesOneClosing) {
  Collected c;
  auto daemon =
      std::make_unique<LogSession>(c.tracker, c.counters, LogSession::Input::json_log_path);
  auto client =
      std::make_unique<LogSession>(c.tracker, c.counters, LogSession::Input::json_log_path);
  LogRecordParser p;
  auto send = [&](LogSession& s, std::string line) {
    line.resize(line.size() + simdjson::SIMDJSON_PADDING, ' ');
    s.set_stamp(Stamp::now());
    s.line(std::string_view(line.data(), line.size() - simdjson::SIMDJSON_PADDING), line.size());
  };
  std::string start =
      R"({"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv","",1,1],"id":77,"level":3,"text":"","type":105})";
  send(*daemon, start);
  send(*client, start);
  client.reset();  // the client went away; the daemon still builds
  EXPECT_TRUE(c.all<BuildRow>().empty());
  send(*daemon, R"({"action":"result","fields":["hello"],"id":77,"type":101})");
  send(*daemon, R"({"action":"stop","id":77})");
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_EQ(builds[0].log_lines, 1);  // the new owner's lines count
}

TEST(ActivityTracker, RemoteBuildCountedOnceAsRemote) {
  Collected c;
  feed(
      c,
      std::string(
          R"(@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-r.drv","ssh-ng://builder",1,1],"id":1,"level":3,"text":"","type":105}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-r.drv","",1,1],"id":2,"level":3,"text":"","type":105}
@nix {"action":"result","fields":["compiling"],"id":2,"type":101}
@nix {"action":"result","fields":["buildPhase"],"id":2,"type":104}
@nix {"action":"result","fields":["installPhase"],"id":2,"type":104}
@nix {"action":"stop","id":2}
@nix {"action":"stop","id":1}
)"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].machine, "ssh-ng://builder");
  EXPECT_EQ(builds[0].log_lines, 1);
  EXPECT_EQ(builds[0].phases, "buildPhase,installPhase");
  EXPECT_EQ(builds[0].name, "r");
}

TEST(ActivityTracker, FailureReportedAfterTheStopCorrectsTheRow) {
  // Nix >= 2.29 may print "Cannot build" after the build activity stopped.
  Collected c;
  feed(
      c,
      std::string(
          R"(@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-late.drv","",1,1],"id":9,"level":3,"text":"","type":105}
@nix {"action":"stop","id":9}
@nix {"action":"msg","level":0,"msg":"error: Cannot build '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-late.drv'.\n       Reason: builder failed with exit code 2.","raw_msg":"Cannot build '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-late.drv'.\n       Reason: builder failed with exit code 2."}
)"));
  ASSERT_EQ(c.all<BuildRow>().size(), 1u);
  auto later = c.all<BuildFailedLater>();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].drv_path, "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-late.drv");
  EXPECT_EQ(later[0].exit_code, 2);
}

TEST(ActivityTracker, CacheMissWhenTheNextCacheIsAsked) {
  Collected c;
  feed(
      c,
      std::string(
          R"(@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","https://one"],"id":1,"level":4,"text":"","type":109}
@nix {"action":"stop","id":1}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","https://two"],"id":2,"level":4,"text":"","type":109}
@nix {"action":"stop","id":2}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","https://two"],"id":3,"level":0,"text":"","type":108}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","https://two","local"],"id":4,"level":3,"parent":3,"text":"","type":100}
@nix {"action":"start","fields":["https://two/nar/abc.nar.xz"],"id":5,"level":4,"parent":4,"text":"","type":101}
@nix {"action":"result","fields":[500,1000,0,0],"id":5,"type":105}
@nix {"action":"result","fields":[1000,1000,0,0],"id":5,"type":105}
@nix {"action":"stop","id":5}
@nix {"action":"result","fields":[4096,4096,0,0],"id":4,"type":105}
@nix {"action":"stop","id":4}
@nix {"action":"stop","id":3}
)"));
  auto q = c.all<CacheQueryRow>();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].cache, "https://one");
  EXPECT_EQ(q[0].hit, false);
  EXPECT_EQ(q[1].cache, "https://two");
  EXPECT_EQ(q[1].hit, true);
  auto s = c.all<SubstitutionRow>();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].download_bytes, 1000);
  EXPECT_EQ(s[0].nar_bytes, 4096);
  auto t = c.all<TransferRow>();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].bytes, 1000);
}

TEST(ActivityTracker, UnknownTypesAreKept) {
  Collected c;
  feed(c,
       std::string(
           R"(@nix {"action":"start","fields":["x",1],"id":1,"level":0,"text":"future","type":777}
@nix {"action":"result","fields":[1],"id":1,"type":555}
@nix {"action":"stop","id":1}
@nix {"action":"beam","id":1}
@nix {"action":"stop","id":424242}
)"));
  auto acts = c.all<ActivityRow>();
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0].type, 777);
  EXPECT_EQ(acts[0].text, "future");
  EXPECT_EQ(acts[0].fields_json, R"(["x",1])");
  auto unknown = c.all<UnknownRecordRow>();
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].reason, "result-type:555");
  EXPECT_EQ(unknown[1].reason, "action:beam");
  EXPECT_EQ(c.counters.orphans, 1u);
}

TEST(ActivityTracker, PlainStderrLinesAreNotMalformed) {
  Collected c;
  feed(c, "copying 1 paths...\n@nix {\"action\":\"stop\",\"id\":1}\n@nix not json\n");
  EXPECT_EQ(c.counters.plain_lines, 1u);
  EXPECT_EQ(c.counters.malformed[static_cast<size_t>(Malformed::not_json)], 1u);
  EXPECT_EQ(c.counters.records, 1u);
}

namespace {
// Hands one record line to a session, with the padding simdjson reads past the end.
void send(LogSession& s, std::string text) {
  text.append(simdjson::SIMDJSON_PADDING, '\0');
  s.line(std::string_view(text.data(), text.size() - simdjson::SIMDJSON_PADDING), text.size());
}

const std::string build_start =
    R"({"action":"start","fields":["/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-a.drv","",1,1],)"
    R"("id":7,"level":3,"text":"building","type":105})";
}  // namespace

// Regression: the same build arrives on two connections (a nix-daemon worker's stream and its
// client's re-sent copy). The copy's stop came in before the owner's log lines and finished the
// build, so its log lines were lost (seen as a racy end-to-end replay under load).
TEST(ActivityTracker, CopysEarlyStopDoesNotLoseTheOwnersLogLines) {
  Collected c;
  LogSession owner(c.tracker, c.counters, LogSession::Input::json_log_path);
  LogSession copy(c.tracker, c.counters, LogSession::Input::json_log_path);
  const std::string& start = build_start;
  const std::string log_line = R"({"action":"result","fields":["hello"],"id":7,"type":101})";
  const std::string stop = R"({"action":"stop","id":7})";
  send(owner, start);
  send(copy, start);
  send(copy, log_line);
  send(copy, log_line);
  send(copy, stop);  // the copy is ahead
  EXPECT_TRUE(c.all<BuildRow>().empty()) << "a copy's stop must not finish the owner's build";
  send(owner, log_line);
  send(owner, log_line);
  send(owner, stop);
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].log_lines, 2);
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_EQ(c.tracker.in_flight(), 0u);
}

// The owner's connection goes away without its stop after the copy saw the whole build: the build
// ended (the copy says so), it was not interrupted.
TEST(ActivityTracker, OwnerGoneAfterTheCopysStopIsNotInterrupted) {
  Collected c;
  auto copy = std::make_unique<LogSession>(c.tracker, c.counters, LogSession::Input::json_log_path);
  auto owner =
      std::make_unique<LogSession>(c.tracker, c.counters, LogSession::Input::json_log_path);
  const std::string& start = build_start;
  send(*owner, start);
  send(*copy, start);
  send(*copy, R"({"action":"stop","id":7})");
  owner.reset();  // closes the owner's connection
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_EQ(c.counters.interrupted, 0u);
}

// Regression: a cache query and the substitution it led to, on two connections (worker and
// client). The copy runs ahead: its stop of the query does not finish it (the owner's does), and
// its substitution start arrives while the query is still open. The query, finished later by its
// owner, must still learn that it was a hit, not wait ten minutes as "unknown" (seen as a racy
// end-to-end replay under load: no cache query rows yet).
TEST(ActivityTracker, QueryFinishedAfterItsSubstitutionStartedIsAHit) {
  Collected c;
  LogSession owner(c.tracker, c.counters, LogSession::Input::json_log_path);
  LogSession copy(c.tracker, c.counters, LogSession::Input::json_log_path);
  const std::string path = "/nix/store/ywhfjfjh3bk79ysg61kpgi3dy8q72f89-b";
  const std::string query = R"({"action":"start","fields":[")" + path +
                            R"(","file:///cache"],"id":31,"level":4,"text":"querying","type":109})";
  const std::string query_stop = R"({"action":"stop","id":31})";
  const std::string substitute = R"({"action":"start","fields":[")" + path +
                                 R"(","file:///cache"],"id":32,"level":0,"text":"","type":108})";
  send(owner, query);
  send(copy, query);
  send(copy, query_stop);  // the copy is ahead...
  send(copy, substitute);  // ...and starts the substitution while the owner's query is open
  EXPECT_TRUE(c.all<CacheQueryRow>().empty());
  send(owner, query_stop);
  auto queries = c.all<CacheQueryRow>();
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0].hit, std::optional<bool>(true));
  // A query for a path another cache is substituting was a miss.
  const std::string other = R"({"action":"start","fields":[")" + path +
                            R"(","https://other"],"id":33,"level":4,"text":"q","type":109})";
  send(owner, other);
  send(owner, R"({"action":"stop","id":33})");
  queries = c.all<CacheQueryRow>();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[1].hit, std::optional<bool>(false));
}

// Streams shaped by newer Nix's sources (tests/fixtures/nix-logs/from-source: each file names the
// version, source files and lines its records follow).
namespace {
std::string from_source(const std::string& name) {
  return fixture_log("from-source/" + name);
}
}  // namespace

// Nix 2.8 keeps the stops of top-level builds until the command ends (real capture: `a` is a
// top-level target, its stop comes after b was built). The builds activity's counters say when
// each build really ended.
TEST(ActivityTracker, BuildEndsWhenNixsCountersSayNotAtItsLateStopFromNix28) {
  Collected c;
  feed(c, fixture_log("build-success.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  const BuildRow& a = builds[1];
  const BuildRow& b = builds[0];
  ASSERT_TRUE(a.name.starts_with("a-"));
  EXPECT_LE(a.span.end_ms, b.span.start_ms) << "a ended before b (which needs it) started";
  EXPECT_EQ(a.span.outcome, Outcome::success);
}

TEST(ActivityTracker, DependencyFailureIsNotABuilderFailure) {
  Collected c;
  feed(c, from_source("dependency-failure-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].kind, FailureKind::builder);
  EXPECT_TRUE(failures[0].drv_path.ends_with("-bad.drv"));
  EXPECT_EQ(failures[0].exit_code, 3) << "not 99 from the quoted log lines";
  EXPECT_EQ(failures[1].kind, FailureKind::dependency);
  EXPECT_TRUE(failures[1].drv_path.ends_with("-dep.drv"));
  EXPECT_FALSE(failures[1].exit_code);
  // The message after the stop completes the failed row: exit code and kind.
  auto later = c.all<BuildFailedLater>();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(later[0].drv_path.ends_with("-bad.drv"));
  EXPECT_EQ(later[0].exit_code, 3);
  EXPECT_EQ(later[0].failure_kind, FailureKind::builder);
  for (auto& f : failures) EXPECT_FALSE(f.drv_path.ends_with("-other.drv"));
}

TEST(ActivityTracker, RejectedDerivationDoesNotBlameTheRunningBuild) {
  Collected c;
  feed(c, from_source("rejected-platform-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_TRUE(builds[0].name == "innocent");
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_FALSE(builds[0].failure_kind);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].kind, FailureKind::rejected);
  EXPECT_EQ(failures[0].name, "arm");
}

TEST(ActivityTracker, RemoteFailureRecordedOnceAsRemote) {
  Collected c;
  feed(c, from_source("remote-failure-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].machine, "ssh-ng://builder");
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed);
  EXPECT_EQ(builds[0].failure_kind, FailureKind::remote);
  EXPECT_EQ(builds[0].exit_code, 2) << "the remote builder's, not the hook's 1";
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].kind, FailureKind::remote);
  EXPECT_EQ(failures[0].machine, "ssh-ng://builder");
}

TEST(ActivityTracker, TimeoutWithoutDerivationCompletesTheFailedRow) {
  Collected c;
  feed(c, from_source("timeout-late-message-nix-2.34.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed) << "not a success";
  auto later = c.all<BuildFailedLater>();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].failure_kind, FailureKind::timeout);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].kind, FailureKind::timeout);
  EXPECT_EQ(failures[0].name, "slow");
}

TEST(ActivityTracker, OtherBuildsStoppedAfterAFailureAreCancelled) {
  Collected c;
  feed(c, from_source("cancelled-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].name, "fails");
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed);
  EXPECT_EQ(builds[1].name, "other");
  EXPECT_EQ(builds[1].span.outcome, Outcome::cancelled);
}

TEST(ActivityTracker, BuildStoppedByCtrlCIsInterrupted) {
  Collected c;
  feed(c, from_source("interrupted-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::interrupted);
}

TEST(ActivityTracker, BuilderOutputCannotForgeAFailureOfAnotherDerivation) {
  Collected c;
  feed(c, from_source("forged-by-builder-nix-2.35.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  for (auto& b : builds) EXPECT_EQ(b.span.outcome, Outcome::success) << b.name;
  EXPECT_TRUE(c.all<FailureRow>().empty());
  EXPECT_TRUE(c.all<BuildFailedLater>().empty());
}

TEST(ActivityTracker, LateFailureOnlyCorrectsARecentAttempt) {
  Collected c;
  LogSession s(c.tracker, c.counters, LogSession::Input::json_log_path);
  s.set_stamp({1700000000000, 0});
  send(s, build_start);
  send(s, R"({"action":"stop","id":7})");
  // Ten minutes later: not the attempt this message belongs to.
  s.set_stamp({1700000600000, 600000000000});
  send(
      s,
      R"({"action":"msg","level":0,"msg":"x","raw_msg":"Cannot build '/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-a.drv'.\nReason: builder failed with exit code 2."})");
  EXPECT_TRUE(c.all<BuildFailedLater>().empty());
}

TEST(ActivityTracker, DeterminateBuildResultGivesOutcomeKindAndCpu) {
  Collected c;
  feed(c, from_source("determinate-build-result.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_EQ(builds[0].cpu_user_us, 150000);
  EXPECT_EQ(builds[0].cpu_system_us, 20000);
  EXPECT_EQ(builds[1].span.outcome, Outcome::failed);
  EXPECT_EQ(builds[1].failure_kind, FailureKind::timeout);
  EXPECT_FALSE(builds[1].cpu_user_us);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].kind, FailureKind::dependency);
  EXPECT_EQ(failures[0].name, "top");
  EXPECT_TRUE(c.all<UnknownRecordRow>().empty());
}

TEST(ActivityTracker, FetchToStoreKeepsItsStorePath) {
  Collected c;
  feed(c, from_source("fetch-to-store-nix-master.log"));
  auto acts = c.all<ActivityRow>();
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0].type, 113);
  EXPECT_EQ(acts[0].fields_json,
            R"(["/home/u/src",0,"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source"])");
  EXPECT_TRUE(c.all<UnknownRecordRow>().empty());
}

// actFetchTree (112) of Nix 2.28 to master: a `git fetch` is a git-fetch row with its URL. Its stop
// does not say whether the fetch worked: unknown, or interrupted when the stream ends first.
TEST(ActivityTracker, GitFetchIsRecordedWithItsUrl) {
  Collected c;
  std::string text = from_source("git-fetch-nix-2.35.log");
  feed(c, text);
  auto fetches = c.all<GitFetchRow>();
  ASSERT_EQ(fetches.size(), 1u);
  EXPECT_EQ(fetches[0].url, "https://github.com/NixOS/patchelf.git");
  EXPECT_EQ(fetches[0].span.activity_id, 5299989643270u);
  EXPECT_EQ(fetches[0].span.outcome, Outcome::unknown);
  EXPECT_TRUE(c.all<ActivityRow>().empty());
  EXPECT_TRUE(c.all<UnknownRecordRow>().empty());

  Collected cut;
  feed(cut, text.substr(0, text.find("@nix {\"action\":\"stop\"")));
  ASSERT_EQ(cut.all<GitFetchRow>().size(), 1u);
  EXPECT_EQ(cut.all<GitFetchRow>()[0].span.outcome, Outcome::interrupted);
}

// Type 112 with another text (no URL to take) stays a generic activity, as before.
TEST(ActivityTracker, FetchTreeWithoutItsTextStaysAnActivity) {
  Collected c;
  feed(c,
       std::string(
           R"(@nix {"action":"start","id":1,"level":4,"parent":0,"text":"fetching tree","type":112}
@nix {"action":"stop","id":1}
)"));
  EXPECT_TRUE(c.all<GitFetchRow>().empty());
  auto acts = c.all<ActivityRow>();
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0].type, 112);
  EXPECT_EQ(acts[0].text, "fetching tree");
}

TEST(ActivityTracker, QueryThenLocalBuildIsAMissAndPendingQueriesAreFlushed) {
  Collected c;
  feed(
      c,
      std::string(
          R"(@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","https://only"],"id":1,"level":4,"text":"","type":109}
@nix {"action":"stop","id":1}
@nix {"action":"start","fields":["/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-p.drv","",1,1],"id":2,"level":3,"text":"","type":105}
@nix {"action":"stop","id":2}
@nix {"action":"start","fields":["/nix/store/cccccccccccccccccccccccccccccccc-q","https://only"],"id":3,"level":4,"text":"","type":109}
@nix {"action":"stop","id":3}
)"));
  auto q = c.all<CacheQueryRow>();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].store_path, "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p");
  EXPECT_EQ(q[0].hit, false);
  EXPECT_EQ(q[1].store_path, "/nix/store/cccccccccccccccccccccccccccccccc-q");
  EXPECT_EQ(q[1].hit, std::nullopt) << "flushed as unknown when the stream ended";
}

TEST(ActivityTracker, S3CacheQueriedAndSubstitutedUnderTwoNamesIsAHit) {
  Collected c;
  feed(
      c,
      std::string(
          R"(@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","s3://bucket"],"id":1,"level":4,"text":"","type":109}
@nix {"action":"stop","id":1}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p","s3://bucket?region=eu-west-1"],"id":2,"level":0,"text":"","type":108}
@nix {"action":"stop","id":2}
)"));
  auto q = c.all<CacheQueryRow>();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].hit, true);
  auto s = c.all<SubstitutionRow>();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].substituter, "s3://bucket");
}

// Ids are counter + (pid << 32) per process: two writers with the same ids (a recycled pid, a
// container, an ssh-ng:// remote's ids) are different activities; a client relaying its daemon
// worker's ids (the worker's pid in their high half) is the same activity.
TEST(ActivityTracker, ActivityIdentityIsPerWriterProcess) {
  const uint64_t pid = 4242;
  auto start = [&](uint64_t id, const std::string& name) {
    return fmt::format(
        R"({{"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-{}.drv","",1,1],"id":{},"level":3,"text":"","type":105}})",
        name, id);
  };
  auto stop = [](uint64_t id) { return fmt::format(R"({{"action":"stop","id":{}}})", id); };
  uint64_t id = (pid << 32) + 5;
  {
    Collected c;
    // Two `--store ssh-ng://` clients relay their remote daemons' ids; those daemons happen to
    // have the same pid, which is no writer's here.
    LogSession one(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(76), 0});
    LogSession two(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(77), 0});
    send(one, start(id, "first"));
    send(two, start(id, "second"));
    send(one, stop(id));
    send(two, stop(id));
    EXPECT_EQ(c.all<BuildRow>().size(), 2u);
  }
  {
    Collected c;
    LogSession daemon(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(pid), 0});
    LogSession client(c.tracker, c.counters, LogSession::Input::json_log_path,
                      {int64_t(9999), 1000});
    send(daemon, start(id, "shared"));
    send(client, start(id, "shared"));
    send(client, stop(id));
    send(daemon, stop(id));
    EXPECT_EQ(c.all<BuildRow>().size(), 1u);
  }
  {
    Collected c;  // the same pid again later: a new process, its ids are new activities
    {
      LogSession old(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(pid), 0});
      send(old, start(id, "old"));
      send(old, stop(id));
    }
    LogSession recycled(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(pid), 0});
    send(recycled, start(id, "new"));
    send(recycled, stop(id));
    EXPECT_EQ(c.all<BuildRow>().size(), 2u);
  }
}

// Real Nix 2.8 streams of `nix-store -r` from an HTTP binary cache on loopback that fails
// (tests/fixtures/nix-logs/README.md): Nix names a failed download only after the stops of the
// transfer and its substitution, then counts the failed substitution.
namespace {
const TransferRow& transfer_ending(const std::vector<TransferRow>& ts, std::string_view tail) {
  for (auto& t : ts)
    if (t.url.ends_with(tail)) return t;
  throw std::runtime_error(fmt::format("no transfer of *{}", tail));
}
}  // namespace

TEST(ActivityTracker, NarDownloadFailingAfterRetriesIsFailedFromNix28) {
  Collected c;
  feed(c, fixture_log("substitution-http-nar-500.log"));
  auto ts = c.all<TransferRow>();
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(transfer_ending(ts, ".nar.xz").span.outcome, Outcome::failed);
  EXPECT_EQ(transfer_ending(ts, ".narinfo").span.outcome, Outcome::success);
  EXPECT_EQ(transfer_ending(ts, "/nix-cache-info").span.outcome, Outcome::success);
  auto subs = c.all<SubstitutionRow>();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].span.outcome, Outcome::failed);
  EXPECT_TRUE(c.all<BuildRow>().empty());
  EXPECT_TRUE(c.all<FailureRow>().empty());
}

TEST(ActivityTracker, RetriedDownloadThatSucceedsIsASuccessFromNix28) {
  Collected c;
  feed(c, fixture_log("substitution-http-nar-retried.log"));
  auto ts = c.all<TransferRow>();
  ASSERT_EQ(ts.size(), 3u);
  for (auto& t : ts) EXPECT_EQ(t.span.outcome, Outcome::success) << t.url;
  EXPECT_EQ(transfer_ending(ts, ".nar.xz").bytes, 124);
  auto subs = c.all<SubstitutionRow>();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].span.outcome, Outcome::success);
  EXPECT_EQ(subs[0].download_bytes, 124);
}

TEST(ActivityTracker, MissingNarIsAFailedTransferFromNix28) {
  // A 404: "file '<path>' does not exist in binary cache '<cache>'" (relayed), then Nix's own
  // "build of '<path>' failed".
  Collected c;
  feed(c, fixture_log("substitution-http-nar-404.log"));
  auto ts = c.all<TransferRow>();
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(transfer_ending(ts, ".nar.xz").span.outcome, Outcome::failed);
  EXPECT_EQ(transfer_ending(ts, ".narinfo").span.outcome, Outcome::success);
  auto subs = c.all<SubstitutionRow>();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].span.outcome, Outcome::failed);
}

TEST(ActivityTracker, NarinfoServerErrorIsAFailedTransferFromNix28) {
  Collected c;
  feed(c, fixture_log("query-http-narinfo-500.log"));
  auto ts = c.all<TransferRow>();
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(transfer_ending(ts, ".narinfo").span.outcome, Outcome::failed);
  EXPECT_EQ(transfer_ending(ts, "/nix-cache-info").span.outcome, Outcome::success);
  EXPECT_TRUE(c.all<SubstitutionRow>().empty());
}

TEST(ActivityTracker, RelayedLineCannotFailATransferNixsCountersDoNotConfirm) {
  // A builder's `@nix` line re-logged at level 0 names the URL of a transfer that succeeded.
  std::string text = fixture_log("substitution-http-nar-retried.log");
  size_t stop = text.find("{\"action\":\"stop\",\"id\":38929583570952}");
  ASSERT_NE(stop, std::string::npos);
  size_t eol = text.find('\n', stop) + 1;
  std::string url =
      "http://127.0.0.1:44475/nar/"
      "1vgmvfyvffw7k28zfqwvba7nsxkpwbggkgk8mq71fsgdv4147qc2.nar.xz";
  text.insert(eol, "@nix {\"action\":\"msg\",\"level\":0,\"msg\":\"error: unable to download '" +
                       url + "': HTTP error 500\"}\n");
  Collected c;
  feed(c, text);
  for (auto& t : c.all<TransferRow>()) EXPECT_EQ(t.span.outcome, Outcome::success) << t.url;
  ASSERT_EQ(c.all<SubstitutionRow>().size(), 1u);
  EXPECT_EQ(c.all<SubstitutionRow>()[0].span.outcome, Outcome::success);
}

// A client may relay the last of its nix-daemon worker's records after the worker's connection
// was read to its end (the two are read by different threads): for a grace period the gone
// worker's pid still names its activities; after it, ids carrying that pid are a new process's.
TEST(ActivityTracker, AGoneWritersIdsAreItsOwnForAGracePeriod) {
  const uint64_t pid = 5151;
  const uint64_t id = (pid << 32) + 9;
  const std::string start = fmt::format(
      R"({{"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-w.drv","",1,1],"id":{},"level":3,"text":"","type":105}})",
      id);
  const std::string stop = fmt::format(R"({{"action":"stop","id":{}}})", id);
  Collected c;
  {
    LogSession worker(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(pid), 0});
    send(worker, start);
    send(worker, stop);
  }  // the worker hangs up now (Stamp::now())
  Stamp later = Stamp::now();
  later.wall_ms += 1000;
  {
    LogSession client(c.tracker, c.counters, LogSession::Input::json_log_path,
                      {int64_t(6262), 1000});
    client.set_stamp(later);
    send(client, start);  // the client's late copy: the same activity
    send(client, stop);
  }
  EXPECT_EQ(c.all<BuildRow>().size(), 1u);
  later.wall_ms += 60 * 1000;
  {
    LogSession relay(c.tracker, c.counters, LogSession::Input::json_log_path,
                     {int64_t(7373), 1000});
    relay.set_stamp(later);
    send(relay, start);  // a minute on: another process whose ids carry that pid
    send(relay, stop);
  }
  EXPECT_EQ(c.all<BuildRow>().size(), 2u);
}

// Lix 2.95: its lines carry "<3>" under IN_SYSTEMD=1; the builds activity's counters are Nix's,
// but Lix stops the build before the counters change: the update ends the build that stopped.
TEST(ActivityTracker, LixBuildSuccessUnderSystemd) {
  Collected c;
  feed(c, from_source("lix-2.95-build-success-systemd.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].name, "hello-2.12");
  EXPECT_EQ(builds[0].span.outcome, Outcome::success);
  EXPECT_EQ(builds[0].phases, "unpackPhase,configurePhase,buildPhase,installPhase");
  EXPECT_EQ(builds[0].log_lines, 5);
  EXPECT_FALSE(builds[0].exit_code);
  EXPECT_FALSE(builds[0].failure_kind);
  EXPECT_TRUE(c.all<FailureRow>().empty());
}

// Lix words a builder failure as Nix <= 2.28 did, and logs it after every activity stopped: the
// counters fail the stopped build, and the message completes its exit code and kind.
TEST(ActivityTracker, LixBuilderFailureLoggedAfterTheStops) {
  Collected c;
  feed(c, from_source("lix-2.95-build-failure.log"));
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].name, "bad");
  EXPECT_EQ(builds[0].span.outcome, Outcome::failed);
  EXPECT_EQ(builds[0].phases, "buildPhase");
  EXPECT_EQ(builds[0].log_lines, 2);
  auto failures = c.all<FailureRow>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].kind, FailureKind::builder);
  EXPECT_TRUE(failures[0].drv_path.ends_with("-bad.drv"));
  EXPECT_EQ(failures[0].exit_code, 1);
  // The row was written at the stop; the message after it completes exit code and kind.
  auto later = c.all<BuildFailedLater>();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(later[0].drv_path.ends_with("-bad.drv"));
  EXPECT_EQ(later[0].exit_code, 1);
  EXPECT_EQ(later[0].failure_kind, FailureKind::builder);
}

// A build that stopped without Nix's counters saying how is settled as unknown after a minute;
// Nix's own failure message after that (within the late-failure window) still fails it.
TEST(ActivityTracker, NixsLateMessageFailsABuildSettledAsUnknown) {
  const std::string drv = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-slow.drv";
  Collected c;
  LogSession s(c.tracker, c.counters, LogSession::Input::json_log_path);
  Stamp t = Stamp::now();
  auto at = [&](int64_t seconds, const std::string& line) {
    Stamp x = t;
    x.wall_ms += seconds * 1000;
    x.mono_ns += seconds * 1000000000;
    s.set_stamp(x);
    send(s, line);
  };
  at(0, R"({"action":"start","id":1,"level":0,"text":"","type":104})");
  at(0, R"({"action":"result","fields":[0,1,0,0],"id":1,"type":105})");
  at(1, fmt::format(
            R"({{"action":"start","fields":["{}","",1,1],"id":2,"level":3,"text":"","type":105}})",
            drv));
  at(2, R"({"action":"stop","id":2})");  // no counter moved: deferred
  at(70, R"({"action":"result","fields":[0,1,0,0],"id":1,"type":105})");  // settles it
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::unknown);
  at(90,
     fmt::format(
         R"({{"action":"msg","level":0,"msg":"error: builder for '{0}' failed with exit code 2","raw_msg":"builder for '{0}' failed with exit code 2"}})",
         drv));
  auto later = c.all<BuildFailedLater>();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].drv_path, drv);
  EXPECT_EQ(later[0].exit_code, 2);
  EXPECT_EQ(later[0].failure_kind, FailureKind::builder);
}

// Builds waiting for Nix's word are settled oldest first, both when more than 4,096 wait (each
// further stop settles the oldest at once) and when they waited their minute.
TEST(ActivityTracker, DeferredBuildsAreSettledOldestFirst) {
  Collected c;
  LogSession s(c.tracker, c.counters, LogSession::Input::json_log_path);
  Stamp t = Stamp::now();
  auto at = [&](int64_t seconds, const std::string& line) {
    Stamp x = t;
    x.wall_ms += seconds * 1000;
    x.mono_ns += seconds * 1000000000;
    s.set_stamp(x);
    send(s, line);
  };
  auto drv = [](int i) { return fmt::format("/nix/store/{:a>32}-b{}.drv", "", i); };
  constexpr int waiting = 4096, over = 5;
  at(0, R"({"action":"start","id":1,"level":0,"text":"","type":104})");
  at(0, R"({"action":"result","fields":[0,1,0,0],"id":1,"type":105})");
  for (int i = 0; i < waiting + over; ++i) {
    at(1,
       fmt::format(
           R"({{"action":"start","fields":["{}","",1,1],"id":{},"level":3,"text":"","type":105}})",
           drv(i), i + 2));
    at(1, fmt::format(R"({{"action":"stop","id":{}}})", i + 2));  // no counter moved: deferred
  }
  auto builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), static_cast<size_t>(over));
  for (int i = 0; i < over; ++i) {
    EXPECT_EQ(builds[i].drv_path, drv(i));
    EXPECT_EQ(builds[i].span.outcome, Outcome::unknown);
  }
  at(70, R"({"action":"result","fields":[0,1,0,0],"id":1,"type":105})");  // a minute later
  builds = c.all<BuildRow>();
  ASSERT_EQ(builds.size(), static_cast<size_t>(waiting + over));
  for (int i = 0; i < waiting + over; ++i) ASSERT_EQ(builds[i].drv_path, drv(i)) << i;
}

// The builds remembered for late failure messages go once no message can still reach them,
// rather than only when 65,536 newer ones push them out.
TEST(ActivityTracker, RecentBuildsAreForgottenAfterTheLateFailureWindow) {
  Collected c;
  LogSession s(c.tracker, c.counters, LogSession::Input::json_log_path);
  Stamp t = Stamp::now();
  auto at = [&](int64_t seconds, const std::string& line) {
    Stamp x = t;
    x.wall_ms += seconds * 1000;
    x.mono_ns += seconds * 1000000000;
    s.set_stamp(x);
    send(s, line);
  };
  auto drv = [](int i) { return fmt::format("/nix/store/{:a>32}-b{}.drv", "", i); };
  constexpr int n = 100;
  at(0, R"({"action":"start","id":1,"level":0,"text":"","type":104})");
  for (int i = 0; i < n; ++i) {
    at(1,
       fmt::format(
           R"({{"action":"start","fields":["{}","",1,1],"id":{},"level":3,"text":"","type":105}})",
           drv(i), i + 2));
    // Nix 2.8's counters: running while it builds, done before its stop.
    at(1, fmt::format(R"({{"action":"result","fields":[{},{},1,0],"id":1,"type":105}})", i, n));
    at(1, fmt::format(R"({{"action":"result","fields":[{},{},0,0],"id":1,"type":105}})", i + 1, n));
    at(1, fmt::format(R"({{"action":"stop","id":{}}})", i + 2));
  }
  ASSERT_EQ(c.all<BuildRow>().size(), static_cast<size_t>(n));
  EXPECT_EQ(c.tracker.sizes().recent_builds, static_cast<size_t>(n));
  at(200, R"({"action":"result","fields":[100,100,0,0],"id":1,"type":105})");  // still kept
  EXPECT_EQ(c.tracker.sizes().recent_builds, static_cast<size_t>(n));
  at(300, R"({"action":"result","fields":[100,100,0,0],"id":1,"type":105})");
  EXPECT_EQ(c.tracker.sizes().recent_builds, 0u);
  // Nix's failure message for one of them now is one for a build that did not start here.
  at(301,
     fmt::format(
         R"({{"action":"msg","level":0,"msg":"error: builder for '{0}' failed with exit code 2","raw_msg":"builder for '{0}' failed with exit code 2"}})",
         drv(0)));
  EXPECT_TRUE(c.all<BuildFailedLater>().empty());
}

// fetchToStore's result is appended to the activity's fields once, however often it is repeated.
TEST(ActivityTracker, FetchToStoreResultIsKeptOnce) {
  Collected c;
  std::string text = from_source("fetch-to-store-nix-master.log");
  std::string repeated;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos + 1);
    repeated += line;
    if (line.find("\"result\"") != std::string::npos) repeated += line + line;
    pos = end == std::string::npos ? text.size() : end + 1;
  }
  feed(c, repeated);
  auto acts = c.all<ActivityRow>();
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0].fields_json,
            R"(["/home/u/src",0,"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source"])");
}

// A path asked of the same cache every 9 minutes: each query waits its own 10 minutes, so the
// first is unknown by the time the path is substituted half an hour later, not a hit.
TEST(ActivityTracker, EachPendingQueryWaitsItsOwnTenMinutes) {
  const std::string path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-q";
  Collected c;
  LogSession s(c.tracker, c.counters, LogSession::Input::json_log_path);
  Stamp t = Stamp::now();
  auto at = [&](int64_t minutes, const std::string& line) {
    Stamp x = t;
    x.wall_ms += minutes * 60 * 1000;
    x.mono_ns += minutes * 60 * 1000000000LL;
    s.set_stamp(x);
    send(s, line);
  };
  for (int i = 0; i < 4; ++i) {
    at(9 * i,
       fmt::format(
           R"({{"action":"start","fields":["{}","https://c"],"id":{},"level":5,"text":"","type":109}})",
           path, 10 + i));
    at(9 * i, fmt::format(R"({{"action":"stop","id":{}}})", 10 + i));
  }
  at(30,
     fmt::format(
         R"({{"action":"start","fields":["{}","https://c"],"id":20,"level":4,"text":"","type":108}})",
         path));
  at(30, R"({"action":"stop","id":20})");
  auto queries = c.all<CacheQueryRow>();
  ASSERT_EQ(queries.size(), 4u);
  std::sort(queries.begin(), queries.end(),
            [](auto& a, auto& b) { return a.span.start_ms < b.span.start_ms; });
  EXPECT_FALSE(queries[0].hit);     // asked at 0: unknown at 10 minutes
  EXPECT_FALSE(queries[1].hit);     // asked at 9
  EXPECT_FALSE(queries[2].hit);     // asked at 18
  EXPECT_EQ(queries[3].hit, true);  // asked at 27: the substitution at 30 answers it
}

// The client's relayed copy of a build is read before the worker's own start (another thread):
// the copy owns the build, but the worker's counters still say how it ended.
TEST(ActivityTracker, WorkersCountersReachABuildItsClientsCopyOwns) {
  const uint64_t worker_pid = 8181;
  auto id = [&](uint64_t n) { return (worker_pid << 32) + n; };
  const std::string drv = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv";
  Collected c;
  LogSession worker(c.tracker, c.counters, LogSession::Input::json_log_path,
                    {int64_t(worker_pid), 0});
  LogSession client(c.tracker, c.counters, LogSession::Input::json_log_path, {int64_t(9191), 1000});
  auto builds = [&](uint64_t done, uint64_t running, uint64_t failed) {
    return fmt::format(R"({{"action":"result","fields":[{},1,{},{}],"id":{},"type":105}})", done,
                       running, failed, id(1));
  };
  const std::string start_x = fmt::format(
      R"({{"action":"start","fields":["{}","",1,1],"id":{},"level":3,"text":"","type":105}})", drv,
      id(2));
  const std::string stop_x = fmt::format(R"({{"action":"stop","id":{}}})", id(2));
  send(worker,
       fmt::format(R"({{"action":"start","id":{},"level":0,"text":"","type":104}})", id(1)));
  send(worker, builds(0, 0, 0));
  send(client, start_x);  // the relayed copy first: the client owns the build
  send(worker, start_x);
  send(worker, builds(0, 1, 0));
  send(worker, builds(0, 0, 1));  // the worker's counters: it failed
  send(client, stop_x);
  send(worker, stop_x);
  auto rows = c.all<BuildRow>();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].span.outcome, Outcome::failed);
}
