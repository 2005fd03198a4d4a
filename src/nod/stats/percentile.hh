#pragma once
// Order statistics on plain vectors. Percentiles interpolate linearly between the closest ranks
// (NumPy's default "linear" method, and what `percentile_cont` means in SQL), so numbers match the
// tools users check us with.
#include <optional>
#include <span>
#include <vector>

namespace nixmon::nod::stats {

// `sorted` must be ascending; q in [0, 1]. nullopt for an empty sample.
std::optional<double> percentile_sorted(std::span<const double> sorted, double q);

// Sorts a copy.
std::optional<double> percentile(std::span<const double> values, double q);
std::optional<double> median(std::span<const double> values);

// Minimum, quartiles, median and maximum (a box plot's numbers); nullopt for an empty sample.
struct FiveNumbers {
  double min = 0, q1 = 0, median = 0, q3 = 0, max = 0;
};
std::optional<FiveNumbers> five_numbers(std::span<const double> values);

// What a summary line shows for one set of durations.
struct Distribution {
  std::size_t count = 0;
  double total = 0;
  std::optional<double> mean, median, p90, max;
};
// Sorts `values` in place.
Distribution distribution(std::vector<double>& values);

}  // namespace nixmon::nod::stats
