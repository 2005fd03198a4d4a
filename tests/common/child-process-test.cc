#include "common/child-process.hh"

#include <gtest/gtest.h>
#include <signal.h>

#include "common/error.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace std::chrono_literals;

namespace {
ChildResult sh(const std::string& script, ChildLimits limits = {}) {
  return run_child({"/bin/sh", "-c", script}, limits);
}
// Running or sleeping; a killed process whose parent is gone may stay a zombie here when PID 1
// does not reap, and that is dead enough.
bool alive(pid_t pid) {
  std::string stat;
  try {
    stat = nixmon::test::read_text("/proc/" + std::to_string(pid) + "/stat");
  } catch (...) {
    return false;
  }
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}
}  // namespace

TEST(ChildProcess, CollectsOutputAndStatus) {
  auto r = sh("echo out; echo err >&2; exit 3");
  EXPECT_EQ(r.outcome, ChildResult::Outcome::exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.success());
  EXPECT_TRUE(sh("true").success());
}

TEST(ChildProcess, NoShellMeansArgumentsStayArguments) {
  // echo found on PATH: Nix's build sandbox has coreutils there, and no /bin/echo.
  auto r = run_child({"echo", "$(id)", ";", "--", "-n"}, {});
  EXPECT_EQ(r.out, "$(id) ; -- -n\n");
}

TEST(ChildProcess, TimeoutKillsTheWholeProcessGroup) {
  // The grandchild (as nix's git would be) must not outlive the deadline either.
  nixmon::test::TempDir tmp;
  auto pidfile = (tmp.path() / "pid").string();
  ChildLimits limits;
  limits.timeout = 300ms;
  auto r = sh("sleep 30 & echo $! > " + pidfile + "; wait", limits);
  EXPECT_EQ(r.outcome, ChildResult::Outcome::timed_out);
  pid_t grandchild = std::stoi(nixmon::test::read_text(pidfile));
  for (int i = 0; i < 100 && alive(grandchild); ++i) ::usleep(10'000);  // init reaps it
  EXPECT_FALSE(alive(grandchild));
}

TEST(ChildProcess, TimeoutAlsoHoldsAfterTheChildClosedItsOutput) {
  ChildLimits limits;
  limits.timeout = 300ms;
  auto r = sh("exec >&- 2>&-; sleep 30", limits);
  EXPECT_EQ(r.outcome, ChildResult::Outcome::timed_out);
}

TEST(ChildProcess, GrandchildrenDoNotOutliveASuccessfulChild) {
  nixmon::test::TempDir tmp;
  auto pidfile = (tmp.path() / "pid").string();
  auto r = sh("sleep 30 >/dev/null 2>&1 & echo $! > " + pidfile);
  EXPECT_TRUE(r.success());
  pid_t grandchild = std::stoi(nixmon::test::read_text(pidfile));
  for (int i = 0; i < 100 && alive(grandchild); ++i) ::usleep(10'000);
  EXPECT_FALSE(alive(grandchild));
}

TEST(ChildProcess, OutputPastTheBoundIsRefused) {
  ChildLimits limits;
  limits.max_stdout = 1000;
  auto r = sh("yes", limits);
  EXPECT_EQ(r.outcome, ChildResult::Outcome::output_too_large);
  EXPECT_TRUE(r.out.empty());
  limits.max_stderr = 10;
  r = sh("yes | head -c 100000 >&2", limits);
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.err.size(), 10u);
}

TEST(ChildProcess, CancelDescriptorStopsTheChild) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);  // EOF: cancelled at once
  ChildLimits limits;
  limits.cancel_fd = fds[0];
  auto r = sh("sleep 30", limits);
  EXPECT_EQ(r.outcome, ChildResult::Outcome::cancelled);
  ::close(fds[0]);
}

TEST(ChildProcess, MissingProgramThrows) {
  EXPECT_THROW(run_child({"/nonexistent/nix"}, {}), SysError);
  EXPECT_THROW(run_child({"no-such-program-anywhere"}, {}), SysError);
}
