#include "stats/mann-whitney.hh"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "stats/percentile.hh"

namespace nixmon::nod::stats {

MannWhitney mann_whitney(std::span<const double> x, std::span<const double> y) {
  MannWhitney r;
  r.n1 = x.size();
  r.n2 = y.size();
  r.median_x = median(x);
  r.median_y = median(y);
  if (x.empty() || y.empty()) return r;

  // Pool with a tag for the sample, sort, rank; tied values share the mean of their ranks.
  struct Item {
    double v;
    bool from_x;
  };
  std::vector<Item> pool;
  pool.reserve(x.size() + y.size());
  for (double v : x) pool.push_back({v, true});
  for (double v : y) pool.push_back({v, false});
  std::sort(pool.begin(), pool.end(), [](const Item& a, const Item& b) { return a.v < b.v; });

  const double n1 = static_cast<double>(r.n1), n2 = static_cast<double>(r.n2);
  const double n = n1 + n2;
  double r1 = 0;    // rank sum of x
  double ties = 0;  // sum of t^3 - t over tie groups
  for (std::size_t i = 0; i < pool.size();) {
    std::size_t j = i;
    std::size_t in_x = 0;
    while (j < pool.size() && pool[j].v == pool[i].v) {
      in_x += pool[j].from_x;
      ++j;
    }
    double t = static_cast<double>(j - i);
    // Ranks i+1 .. j, mean (i+1+j)/2.
    double mean_rank = (static_cast<double>(i) + 1 + static_cast<double>(j)) / 2;
    r1 += mean_rank * static_cast<double>(in_x);
    ties += t * t * t - t;
    i = j;
  }
  r.u1 = r1 - n1 * (n1 + 1) / 2;
  r.u2 = n1 * n2 - r.u1;
  r.effect = 2 * r.u1 / (n1 * n2) - 1;

  const double mu = n1 * n2 / 2;
  // N = 1 cannot happen here (both samples non-empty), so N(N-1) > 0.
  double var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)));
  if (!(var > 0)) {
    // Every value tied: U1 = mu exactly, the statistic is undefined. Say so; no NaN.
    r.verdict = MannWhitney::Verdict::all_tied;
    r.effect = 0;
    return r;
  }
  double sigma = std::sqrt(var);
  double d = r.u1 - mu;
  if (d != 0) d -= 0.5 * (d > 0 ? 1 : -1);
  double z = d / sigma;
  r.z = z;
  r.p = std::clamp(std::erfc(std::fabs(z) / std::sqrt(2.0)), 0.0, 1.0);
  r.verdict = MannWhitney::Verdict::tested;
  return r;
}

std::string describe(const MannWhitney& r, double alpha) {
  switch (r.verdict) {
    case MannWhitney::Verdict::too_few:
      return fmt::format("not enough data to compare ({} vs {} samples)", r.n1, r.n2);
    case MannWhitney::Verdict::all_tied:
      return "no difference, all values tied";
    case MannWhitney::Verdict::tested:
      break;
  }
  bool significant = *r.p < alpha;
  std::string direction = *r.effect > 0 ? "slower" : (*r.effect < 0 ? "faster" : "no change");
  if (!significant) return fmt::format("no significant difference (p = {:.4g} >= {})", *r.p, alpha);
  return fmt::format("significantly {} (p = {:.4g} < {})", direction, *r.p, alpha);
}

}  // namespace nixmon::nod::stats
