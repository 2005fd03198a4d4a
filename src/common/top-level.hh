#pragma once
// What every main does with an exception that reaches it: one line on stderr,
// "<program>: error: <message>", and the exit status the docs promise: 2 for a usage error (bad
// flag, bad value, a root that is not there), 1 for anything else. Command-line parsing (CLI11)
// stays in each main, before this: CLI11 prints its own message and --help.
#include <functional>
#include <string_view>

namespace nixmon {

inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

// Runs `body` and returns its status, or the status of what it threw (after printing it).
int run_top_level(std::string_view program, const std::function<int()>& body);

}  // namespace nixmon
