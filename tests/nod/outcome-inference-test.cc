#include "tracking/outcome-inference.hh"

#include <gtest/gtest.h>

#include "ingest/log-record.hh"

using namespace nixmon::nod;

namespace {
const std::string bad = "/nix/store/yldikd7jxbxlsk7ryf4mrrfx2faiclsa-bad.drv";
}

TEST(OutcomeMessages, Nix28Builder) {
  auto m = classify_message(
      strip_ansi("builder for '\x1b[35;1m" + bad + "\x1b[0m' failed with exit code 3"), true);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, FailureKind::builder);
  EXPECT_EQ(m->drv_path, bad);
  EXPECT_EQ(m->exit_code, 3);
}

// Nix >= 2.29 words every failure "Cannot build"; the Reason line says which kind
// (derivation-building-goal.cc at 2.35.0: 179-187, 289-330, 1158-1185).
TEST(OutcomeMessages, CannotBuildReasons) {
  auto reason = [](std::string r) {
    return classify_message("Cannot build '" + bad + "'.\nReason: " + r, true);
  };
  auto b = reason("builder failed with exit code 42.\nOutput paths:\n  /nix/store/x-bad");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->kind, FailureKind::builder);
  EXPECT_EQ(b->exit_code, 42);
  auto sig = reason("builder failed due to signal 9 (Killed).");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->kind, FailureKind::builder);
  EXPECT_FALSE(sig->exit_code);
  EXPECT_EQ(reason("1 dependency failed.")->kind, FailureKind::dependency);
  EXPECT_EQ(reason("3 dependencies failed.")->kind, FailureKind::dependency);
  EXPECT_FALSE(reason("1 dependency failed.")->exit_code);
  EXPECT_EQ(reason("platform mismatch\nRequired system: 'aarch64-linux'")->kind,
            FailureKind::rejected);
  EXPECT_EQ(reason("missing system features\nRequired features: {kvm}")->kind,
            FailureKind::rejected);
  EXPECT_EQ(reason("local builds are disabled (max-jobs = 0)")->kind, FailureKind::rejected);
}

// The failure message quotes up to 25 log lines: a quoted Nix error names another derivation and
// another exit code, and must not be read.
TEST(OutcomeMessages, QuotedLogLinesAreNotRead) {
  std::string text = "Cannot build '" + bad +
                     "'.\nReason: builder failed with exit code 3.\nLast 2 log lines:\n"
                     "> error: Cannot build '/nix/store/cccccccccccccccccccccccccccccccc-o.drv'.\n"
                     ">        Reason: builder failed with exit code 99.\n";
  auto m = classify_message(text, true);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->drv_path, bad);
  EXPECT_EQ(m->exit_code, 3);
  // Text that merely contains a failure is none: a message must start with Nix's wording.
  EXPECT_FALSE(classify_message("note: builder for '" + bad + "' failed with exit code 1", true));
  EXPECT_FALSE(classify_message("some tool said: Cannot build '" + bad + "'.", false));
}

TEST(OutcomeMessages, RelayedLinesCarryTheErrorPrefix) {
  auto m = classify_message(
      "error: Cannot build '" + bad + "'.\n       Reason: builder failed with exit code 7.", false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->exit_code, 7);
}

// build-remote.cc (2.35.0, 350-353): the remote's own message follows "failed: ".
TEST(OutcomeMessages, RemoteTakesTheRemoteBuildersExitCode) {
  auto r = classify_message("build of '" + bad + "' on 'ssh-ng://b1' failed: Cannot build '" + bad +
                                "'.\nReason: builder failed with exit code 2.",
                            true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, FailureKind::remote);
  EXPECT_EQ(r->machine, "ssh-ng://b1");
  EXPECT_EQ(r->exit_code, 2);
  auto other =
      classify_message("build of '" + bad + "' on 'ssh://b' failed: connection refused", true);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->exit_code);
}

TEST(OutcomeMessages, HashMismatchAndOldDependencyWording) {
  auto h = classify_message("hash mismatch in fixed-output derivation '" + bad +
                                "':\n  specified: sha256-AAAA\n     got:    sha256-BBBB",
                            true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->kind, FailureKind::hash_mismatch);
  auto d = classify_message("1 dependencies of derivation '" + bad + "' failed to build", true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, FailureKind::dependency);
  EXPECT_FALSE(classify_message("warning: you did not specify '--add-root'", false));
}

// Timeouts and log limits by version: worker.cc's "<goal name> timed out after N seconds[ of
// silence]" with the goal names of 2.29 (derivation-goal.cc 34-56), 2.30-2.32
// (derivation-building-goal.cc 46) and 2.33 (35); goal.cc's TimedOut since 2.34 names none.
TEST(OutcomeMessages, TimeoutsAndLogLimits) {
  auto t229 = classify_message(
      "building of '" + bad + "^out' from .drv file timed out after 10 seconds of silence", true);
  ASSERT_TRUE(t229);
  EXPECT_EQ(t229->kind, FailureKind::timeout);
  EXPECT_EQ(t229->drv_path, bad);
  auto t230 = classify_message(
      "building of '" + bad + "' from in-memory derivation timed out after 5 seconds", true);
  ASSERT_TRUE(t230);
  EXPECT_EQ(t230->drv_path, bad);
  auto t233 = classify_message("building derivation '" + bad + "' timed out after 5 seconds", true);
  ASSERT_TRUE(t233);
  EXPECT_EQ(t233->kind, FailureKind::timeout);
  auto t234 = classify_message("timed out after 10 seconds", true);
  ASSERT_TRUE(t234);
  EXPECT_EQ(t234->kind, FailureKind::timeout);
  EXPECT_TRUE(t234->drv_path.empty());
  auto log = classify_message(
      "building derivation '" + bad + "' killed after writing more than 1024 bytes of log output",
      true);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->kind, FailureKind::log_limit);
  EXPECT_EQ(log->drv_path, bad);
  auto stop = classify_message("error: interrupted by the user", false);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->what, NixMessage::What::interrupted);
}

TEST(OutcomeProgress, RunningAndCountersMoveTogether) {
  // A build failed: running drops with failed (Nix 2.8 capture: [0,2,1,0] -> [0,1,0,1]).
  auto f = progress_step({0, 2, 1, 0}, {0, 1, 0, 1});
  EXPECT_EQ(f.ended_failed, 1);
  EXPECT_EQ(f.ended_ok, 0);
  EXPECT_EQ(f.failed_unstarted, 0);
  // A rejected derivation: failed rises, nothing that ran ended.
  auto r = progress_step({0, 2, 1, 0}, {0, 2, 1, 1});
  EXPECT_EQ(r.ended_failed, 0);
  EXPECT_EQ(r.failed_unstarted, 1);
  auto ok = progress_step({0, 2, 1, 0}, {1, 2, 0, 0});
  EXPECT_EQ(ok.ended_ok, 1);
}

TEST(OutcomePayloads, DeterminateBuildResult) {
  auto p = parse_build_result(
      R"({"cpuSystem":20000,"cpuUser":150000,"path":{"drvPath":"aaaa-ok.drv","outputs":["*"]},)"
      R"("startTime":1700000000,"status":"Built","stopTime":1700000001,"success":true,"timesBuilt":1})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, "Built");
  EXPECT_TRUE(p->success);
  EXPECT_EQ(p->cpu_user_us, 150000);
  EXPECT_EQ(p->cpu_system_us, 20000);
  EXPECT_EQ(p->drv_name, "aaaa-ok.drv");
  EXPECT_EQ(p->times_built, 1);
  auto s = parse_build_result(R"({"path":"bbbb-x","status":"Substituted","success":true})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->store_name, "bbbb-x");
  EXPECT_FALSE(s->cpu_user_us);
  EXPECT_FALSE(parse_build_result("[1,2]"));
  EXPECT_FALSE(parse_build_result("{\"status\":1}"));
  EXPECT_EQ(build_status_meaning("TimedOut")->kind, FailureKind::timeout);
  EXPECT_EQ(build_status_meaning("DependencyFailed")->kind, FailureKind::dependency);
  EXPECT_EQ(build_status_meaning("InputRejected")->kind, FailureKind::rejected);
  EXPECT_EQ(build_status_meaning("LogLimitExceeded")->kind, FailureKind::log_limit);
  EXPECT_EQ(build_status_meaning("HashMismatch")->kind, FailureKind::hash_mismatch);
  EXPECT_EQ(build_status_meaning("Cancelled")->outcome, Outcome::cancelled);
  EXPECT_EQ(build_status_meaning("Substituted")->outcome, Outcome::success);
  EXPECT_FALSE(build_status_meaning("SomethingNew"));
  EXPECT_EQ(parse_hash_mismatch(R"({"got":"x","storePath":"/nix/store/a-src.drv","wanted":"y"})"),
            "/nix/store/a-src.drv");
}

// s3-binary-cache-store.cc at 2.33.0, 442-453: substitutions keep region/profile/scheme/endpoint.
TEST(OutcomeCaches, S3CacheNamedTheSameInQueriesAndSubstitutions) {
  EXPECT_EQ(normalise_cache_uri("s3://bucket?region=eu-west-1&profile=p"), "s3://bucket");
  EXPECT_EQ(normalise_cache_uri("s3://bucket"), "s3://bucket");
  EXPECT_EQ(normalise_cache_uri("https://cache.nixos.org?priority=40"),
            "https://cache.nixos.org?priority=40");
}

// filetransfer.cc: "unable to %s '%s': HTTP error %d ('%s')" at 2.8.0 (lines 441-448), "HTTP
// error %d%s" at 2.28.0 (516) and 2.35.0 (893); retries warn "%s; retrying in %d ms" (2.8.0:
// 467-469) with " (attempt %d/%d)" since 2.35.0 (962-969). http-binary-cache-store.cc: "file
// '%s' does not exist in binary cache '%s'" (2.28.0: 161, 2.35.0: 289).
TEST(OutcomeTransfers, FailedTransferNamesItsUrl) {
  const std::string nar = "http://127.0.0.1:41861/nar/1vgm.nar.xz";
  // Nix 2.8, relayed by the substitution goal's printError (no raw_msg).
  EXPECT_EQ(failed_transfer_url(
                "error: unable to download '" + nar + "': HTTP error 500 ('Internal Server Error')",
                false),
            nar);
  EXPECT_EQ(failed_transfer_url("unable to download '" + nar + "': HTTP error 404", true), nar);
  EXPECT_EQ(failed_transfer_url("unable to upload '" + nar + "': Couldn't connect (7) x", true),
            nar);
  EXPECT_EQ(failed_transfer_url("file 'nar/1vgm.nar.xz' does not exist in binary cache "
                                "'http://127.0.0.1:41861'",
                                false),
            nar);
  // Retries go on; the transfer may still succeed.
  EXPECT_FALSE(failed_transfer_url("error: unable to download '" + nar +
                                       "': HTTP error 500 ('Internal Server Error'); retrying "
                                       "in 261 ms",
                                   false));
  EXPECT_FALSE(failed_transfer_url(
      "unable to download '" + nar + "': HTTP error 500; retrying in 250 ms (attempt 1/5)", true));
  // Only at the start of the message, not quoted inside another.
  EXPECT_FALSE(failed_transfer_url("builder said: unable to download '" + nar + "': 404", true));
  EXPECT_FALSE(failed_transfer_url("warning: unable to download '" + nar + "': 404", false));
}

// entry-points.cc: "build of %s failed" (2.8.0: 46, 2.28.0: 46, 2.35.0: 43).
TEST(OutcomeTransfers, FailedGoalPaths) {
  EXPECT_EQ(failed_goal_paths("build of '/nix/store/a-x', '/nix/store/b-y' failed", true),
            (std::vector<std::string>{"/nix/store/a-x", "/nix/store/b-y"}));
  EXPECT_TRUE(
      failed_goal_paths("build of '/nix/store/a.drv' on 'ssh://m' failed: x", true).empty());
  EXPECT_TRUE(failed_goal_paths("build of '/nix/store/a-x' failed later", true).empty());
}

// A remote failure is read for the remote's own message once, not recursively: a line of
// 20,000 nested "build of ... on ... failed: " overflowed the stack of the thread reading it.
TEST(OutcomeMessages, NestedRemoteFailuresAreReadOnceNotRecursively) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "build of '/nix/store/a.drv' on 'ssh://b' failed: ";
  auto m = classify_message(text, true);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, FailureKind::remote);
  EXPECT_EQ(m->drv_path, "/nix/store/a.drv");
  EXPECT_FALSE(m->exit_code);
}

// Numbers from the stream that no Nix sends: they move nothing, and nothing overflows.
TEST(OutcomeProgress, ImpossibleCountersAndNegativeCpuTimesAreIgnored) {
  Progress before{0, 1, 1, 0};
  EXPECT_EQ(progress_step(before, {INT64_MIN, 1, 0, 0}).ended_ok, 0);
  EXPECT_EQ(progress_step({INT64_MIN, 0, 1, INT64_MIN}, {INT64_MAX, 0, 0, INT64_MAX}).ended_ok, 0);
  EXPECT_EQ(progress_step(before, {1, 1, 0, 0}).ended_ok, 1);  // a real one still counts
  auto p = parse_build_result(
      R"({"path":"aaaa-x.drv","status":"Built","success":true,"cpuUser":-5,"cpuSystem":7})");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->cpu_user_us);
  EXPECT_EQ(p->cpu_system_us, 7);
}
