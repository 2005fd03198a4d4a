#include "nod/activity-tracker.hh"

#include <gtest/gtest.h>

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
    EXPECT_GE(b.span.duration_ms, 0);
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
  EXPECT_GT(twice.counters.duplicates, 0u);
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
  EXPECT_GE(c.counters.interrupted, 4u);  // realise, builds, copyPaths, build
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
