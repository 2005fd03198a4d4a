#include "common/top-level.hh"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "common/error.hh"

namespace nixmon {

namespace {

void say(std::string_view program, std::string_view message) {
  // One write per message, so it stays whole beside log lines other threads may still write.
  std::string line = fmt::format("{}: error: {}\n", program, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

int run_top_level(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    say(program, e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    say(program, e.what());
    return exit_failure;
  } catch (...) {
    say(program, "an exception of an unknown type");
    return exit_failure;
  }
}

}  // namespace nixmon
