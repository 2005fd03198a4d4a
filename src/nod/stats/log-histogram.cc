#include "stats/log-histogram.hh"

#include <algorithm>
#include <cmath>

namespace nixmon::nod::stats {

int duration_bucket(int64_t ms) {
  if (ms <= 0) return 0;
  return static_cast<int>(std::floor(buckets_per_doubling * std::log2(static_cast<double>(ms)))) +
         1;
}

double bucket_lower_ms(int b) {
  if (b <= 0) return 0;
  return std::exp2(static_cast<double>(b - 1) / buckets_per_doubling);
}

double bucket_upper_ms(int b) {
  if (b <= 0) return 1;  // bucket 0 holds 0 ms; bucket 1 starts at 1 ms
  return std::exp2(static_cast<double>(b) / buckets_per_doubling);
}

std::optional<double> histogram_percentile(const std::map<int, int64_t>& counts, double q,
                                           std::optional<double> max_ms) {
  int64_t total = 0;
  for (auto& [b, c] : counts) total += c;
  if (total <= 0) return std::nullopt;
  // The rank (0-based, fractional) the linear method would read.
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total - 1);
  int64_t seen = 0;
  for (auto& [b, c] : counts) {
    if (c <= 0) continue;
    if (rank < static_cast<double>(seen + c)) {
      if (b == 0) return 0.0;
      // Spread the bucket's c values evenly (in log space) over [lower, upper).
      double pos = (rank - static_cast<double>(seen) + 0.5) / static_cast<double>(c);
      double lo = bucket_lower_ms(b), hi = bucket_upper_ms(b);
      double v = lo * std::pow(hi / lo, pos);
      if (max_ms) v = std::min(v, *max_ms);
      return v;
    }
    seen += c;
  }
  return max_ms;
}

}  // namespace nixmon::nod::stats
