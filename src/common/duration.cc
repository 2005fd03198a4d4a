#include "common/duration.hh"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.hh"

namespace nixmon {

std::chrono::nanoseconds parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return UsageError(
        fmt::format("invalid duration '{}': {} (examples: 90s, 5m, 1h30m)", text, why));
  };
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) throw bad("empty");
  long double total_ns = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == start) throw bad("expected a number");
    std::string number(text.substr(start, i - start));
    if (number == "." || std::count(number.begin(), number.end(), '.') > 1) throw bad("bad number");
    long double value = std::stold(number);
    std::size_t ustart = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.')
      ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    long double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xc2\xb5s")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit.empty())
      throw bad("missing unit");
    else
      throw bad(fmt::format("unknown unit '{}'", unit));
    total_ns += value * scale;
  }
  if (total_ns > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
    throw bad("too large");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total_ns)));
}

std::chrono::milliseconds parse_positive_duration(std::string_view flag, std::string_view text) {
  std::chrono::nanoseconds d;
  try {
    d = parse_duration(text);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("{}: {}", flag, e.what()));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
  if (ms.count() <= 0)
    throw UsageError(fmt::format("{} must be at least 1ms, not '{}'", flag, text));
  return ms;
}

std::string format_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d == nanoseconds(0)) return "0s";
  std::string out;
  auto ns = d.count();
  if (ns < 1'000'000'000 && ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns < 1'000'000'000) return fmt::format("{}ns", ns);
  auto h = ns / 3'600'000'000'000;
  ns %= 3'600'000'000'000;
  auto m = ns / 60'000'000'000;
  ns %= 60'000'000'000;
  double s = static_cast<double>(ns) / 1e9;
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s != 0) out += fmt::format("{}s", s);
  return out;
}

}  // namespace nixmon
