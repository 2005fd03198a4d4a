#pragma once
// Runs a program to completion without a shell, with a deadline and a bound on what it may print:
// what a collector needs to call an external tool (nix) off the scrape path without ever hanging.
//
// The child runs in its own process group, with an empty signal mask, stdin from /dev/null and no
// descriptor of ours but its stdout and stderr pipes. On timeout, on output past the bound, or
// when the cancel descriptor becomes readable, the whole group is killed (SIGKILL) and reaped:
// nothing is left behind. Thread-safe: each call is independent.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace nixmon {

struct ChildLimits {
  std::chrono::milliseconds timeout{60'000};
  std::size_t max_stdout = 4 << 20;
  std::size_t max_stderr = 64 << 10;  // past it, stderr is truncated, not an error
  int cancel_fd = -1;                 // readable -> kill the child and return `cancelled`
};

struct ChildResult {
  enum class Outcome { exited, signaled, timed_out, output_too_large, cancelled };
  Outcome outcome = Outcome::exited;
  int exit_code = 0;  // for `exited`
  int signal = 0;     // for `signaled`
  std::string out;
  std::string err;  // at most max_stderr bytes

  bool success() const { return outcome == Outcome::exited && exit_code == 0; }
  // "exit status 1", "killed by signal 9", "timed out after 5s", ... for log lines.
  std::string describe(std::chrono::milliseconds timeout) const;
};

// `argv[0]` is looked up in PATH when it has no slash. Throws SysError when the program cannot be
// started at all (not found, not executable, no pipes/processes left).
ChildResult run_child(const std::vector<std::string>& argv, const ChildLimits& limits);

}  // namespace nixmon
