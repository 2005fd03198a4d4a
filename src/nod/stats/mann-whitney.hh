#pragma once
// The two-sided Mann-Whitney U test, normal approximation with tie and continuity corrections:
// the convention of SciPy's mannwhitneyu(x, y, method="asymptotic", use_continuity=True), which is
// what users compare against. Pure functions on plain vectors; thread-safe.
#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace nixmon::nod::stats {

struct MannWhitney {
  enum class Verdict {
    tested,    // u1, z and p are set
    too_few,   // one sample is empty: nothing to compare
    all_tied,  // every value in both samples is equal: sigma = 0, no difference to test
  };
  Verdict verdict = Verdict::too_few;
  std::size_t n1 = 0, n2 = 0;
  double u1 = 0;  // the statistic of the first sample (x)
  double u2 = 0;  // n1*n2 - u1
  // Only when verdict == tested; never NaN.
  std::optional<double> z;
  std::optional<double> p;
  // Rank-biserial correlation 2*U1/(n1*n2) - 1 in [-1, 1]; > 0 means x tends to be larger.
  // Set whenever both samples are non-empty (0 when all tied).
  std::optional<double> effect;
  std::optional<double> median_x, median_y;
};

// x is "the current period", y the one it is compared with. Copies and sorts internally.
MannWhitney mann_whitney(std::span<const double> x, std::span<const double> y);

// One line for people: "p = 0.0122 (z = -2.51), x slower/faster ..." or the worded special cases.
std::string describe(const MannWhitney& r, double alpha = 0.05);

}  // namespace nixmon::nod::stats
