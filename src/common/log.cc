#include "common/log.hh"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "common/error.hh"

namespace nixmon::log {

namespace {
std::atomic<Level> current_level{Level::info};

std::string_view name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}
}  // namespace

void set_level(Level level) {
  current_level = level;
}

Level parse_level(std::string_view n) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (n == name(l)) return l;
  }
  throw UsageError(fmt::format("unknown log level '{}' (use debug, info, warn or error)", n));
}

bool enabled(Level level) {
  return level >= current_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string line = fmt::format("ts={:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z level={} msg=\"",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec, ms, name(level));
  for (char c : message) {
    if (c == '"' || c == '\\') line += '\\';
    if (c == '\n') {
      line += "\\n";
      continue;
    }
    line += c;
  }
  line += "\"\n";
  // One write per line keeps lines whole when threads log at once.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace nixmon::log
