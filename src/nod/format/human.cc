#include "format/human.hh"

#include <fmt/format.h>

#include <cmath>

namespace nixmon::nod::format {

std::string bytes(double n) {
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (std::fabs(n) < 1024) return fmt::format("{:.0f} B", n);
  double v = n / 1024;
  std::size_t u = 0;
  while (std::fabs(v) >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  // 1023.96 KiB would round to "1024.0 KiB": carry into the next unit instead.
  if (std::fabs(v) >= 1023.95 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string duration_ms(double ms) {
  if (ms < 0) return "-" + duration_ms(-ms);
  if (ms < 1000) return fmt::format("{:.0f}ms", ms);
  if (ms < 59950) return fmt::format("{:.1f}s", ms / 1000);
  auto s = static_cast<int64_t>(std::llround(ms / 1000));
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  auto m = static_cast<int64_t>(std::llround(ms / 60000));
  if (m < 24 * 60) return fmt::format("{}h {:02}m", m / 60, m % 60);
  auto h = static_cast<int64_t>(std::llround(ms / 3600000));
  return fmt::format("{}d {:02}h", h / 24, h % 24);
}

std::string count(uint64_t n) {
  std::string digits = fmt::format("{}", n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", fraction * 100);
}

}  // namespace nixmon::nod::format
