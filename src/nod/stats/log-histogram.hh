#pragma once
// A log-scale duration histogram: 8 buckets per doubling, so a percentile read from it is within
// about 4.4% of the exact value. The daemon keeps one per day and kind (table daily_durations) so
// all-time medians and p90s cost O(days x buckets), not O(rows). Pure functions; thread-safe.
#include <cstdint>
#include <map>
#include <optional>

namespace nixmon::nod::stats {

inline constexpr int buckets_per_doubling = 8;

// Bucket of a duration in milliseconds: 0 for <= 0 ms, else floor(8 * log2(ms)) + 1.
int duration_bucket(int64_t ms);
// The bucket's range [lower, upper) in milliseconds.
double bucket_lower_ms(int bucket);
double bucket_upper_ms(int bucket);

// The q-quantile (linear between closest ranks, like percentile_sorted) estimated from bucket
// counts, interpolating geometrically inside the bucket and clamped to the known maximum.
std::optional<double> histogram_percentile(const std::map<int, int64_t>& counts, double q,
                                           std::optional<double> max_ms = std::nullopt);

}  // namespace nixmon::nod::stats
