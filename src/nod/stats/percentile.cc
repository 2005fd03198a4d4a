#include "stats/percentile.hh"

#include <algorithm>
#include <cmath>

namespace nixmon::nod::stats {

std::optional<double> percentile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  double h = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  double frac = h - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

std::optional<double> percentile(std::span<const double> values, double q) {
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return percentile_sorted(v, q);
}

std::optional<double> median(std::span<const double> values) {
  return percentile(values, 0.5);
}

Distribution distribution(std::vector<double>& values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  for (double v : values) d.total += v;
  d.mean = d.total / static_cast<double>(values.size());
  d.median = percentile_sorted(values, 0.5);
  d.p90 = percentile_sorted(values, 0.9);
  d.max = values.back();
  return d;
}

std::optional<FiveNumbers> five_numbers(std::span<const double> values) {
  if (values.empty()) return std::nullopt;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return FiveNumbers{v.front(), *percentile_sorted(v, 0.25), *percentile_sorted(v, 0.5),
                     *percentile_sorted(v, 0.75), v.back()};
}

}  // namespace nixmon::nod::stats
