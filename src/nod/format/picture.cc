#include "format/picture.hh"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nixmon::nod::format {

std::string bar(std::optional<double> value, double max, std::size_t width, Glyphs g) {
  if (!value || !std::isfinite(*value)) return "-";
  if (!(*value > 0) || !(max > 0) || width == 0) return "";
  double fraction = std::min(*value / max, 1.0);
  if (g == Glyphs::ascii) {
    auto cells = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(width)));
    return std::string(std::max<std::size_t>(cells, 1), '#');
  }
  // Eighths of a cell: █ is 8/8, ▏ 1/8.
  static constexpr const char* partial[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  auto eighths = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(width * 8)));
  eighths = std::max<std::size_t>(eighths, 1);
  std::string out;
  for (std::size_t i = 0; i < eighths / 8; ++i) out += "█";
  out += partial[eighths % 8];
  return out;
}

std::string spread(const Spread& s, double lo, double hi, std::size_t width, Glyphs g) {
  width = std::max<std::size_t>(width, 1);
  auto at = [&](double x) -> std::size_t {
    if (!(hi > lo)) return (width - 1) / 2;
    double f = std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
    return static_cast<std::size_t>(std::llround(f * static_cast<double>(width - 1)));
  };
  bool u = g == Glyphs::unicode;
  std::vector<const char*> cells(width, " ");
  std::size_t pmin = at(s.min), pq1 = at(s.q1), pmed = at(s.median), pq3 = at(s.q3),
              pmax = at(s.max);
  for (std::size_t i = pmin; i <= pmax; ++i) cells[i] = u ? "─" : "-";
  cells[pmin] = u ? "├" : "|";
  cells[pmax] = u ? "┤" : "|";
  for (std::size_t i = pq1; i <= pq3; ++i) cells[i] = u ? "█" : "=";
  cells[pq1] = "[";
  cells[pq3] = "]";
  cells[pmed] = u ? "│" : "|";
  std::string out;
  for (const char* c : cells) out += c;
  return out;
}

}  // namespace nixmon::nod::format
