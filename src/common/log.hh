#pragma once
// Line-oriented logging to stderr in logfmt ("ts=... level=warn msg=\"...\""), what journald and
// Loki read well. Thread-safe: each line is written with one write(2).
#include <fmt/format.h>

#include <string_view>

namespace nixmon::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
// "debug", "info", "warn", "error"; throws UsageError otherwise.
Level parse_level(std::string_view name);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace nixmon::log
