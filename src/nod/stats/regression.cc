#include "stats/regression.hh"

#include <algorithm>
#include <span>

#include "common/error.hh"

namespace nixmon::nod::stats {

void validate(const RegressionOptions& o) {
  if (o.recent < 2) throw UsageError("--recent must be at least 2 builds");
  if (o.min_history < 2) throw UsageError("--min-history must be at least 2 builds");
  if (o.history < o.min_history)
    throw UsageError(fmt::format("--history ({}) must be at least --min-history ({})", o.history,
                                 o.min_history));
  if (!(o.alpha > 0 && o.alpha <= 1))
    throw UsageError(fmt::format("--alpha must be in (0, 1], not {}", o.alpha));
  if (!(o.min_effect >= 0 && o.min_effect <= 1))
    throw UsageError(fmt::format("--min-effect must be in [0, 1], not {}", o.min_effect));
}

std::vector<Regression> find_regressions(const std::vector<BuildSeries>& series,
                                         const RegressionOptions& o) {
  std::vector<Regression> found;
  for (const auto& s : series) {
    const auto& d = s.durations;
    if (d.size() < o.recent + o.min_history) continue;
    std::span<const double> all(d);
    auto recent = all.subspan(d.size() - o.recent);
    std::size_t hist_n = std::min(o.history, d.size() - o.recent);
    auto history = all.subspan(d.size() - o.recent - hist_n, hist_n);

    auto t = mann_whitney(recent, history);
    if (t.verdict != MannWhitney::Verdict::tested) continue;
    if (!(*t.p < o.alpha) || !(*t.effect >= o.min_effect)) continue;
    Regression r;
    r.name = s.name;
    r.recent_median = t.median_x.value_or(0);
    r.history_median = t.median_y.value_or(0);
    if (!(r.recent_median > r.history_median))
      continue;  // ranks slower, medians not: not worth a word
    // A history median of 0 (sub-resolution builds) makes the ratio meaningless: use the effect.
    r.slowdown = r.history_median > 0 ? r.recent_median / r.history_median : 0;
    r.builds = d.size();
    r.recent = *five_numbers(recent);  // neither is empty: the test ran
    r.history = *five_numbers(history);
    r.test = t;
    found.push_back(std::move(r));
  }
  std::sort(found.begin(), found.end(), [](const Regression& a, const Regression& b) {
    if (a.slowdown != b.slowdown) return a.slowdown > b.slowdown;
    if (*a.test.effect != *b.test.effect) return *a.test.effect > *b.test.effect;
    if (*a.test.p != *b.test.p) return *a.test.p < *b.test.p;
    return a.name < b.name;
  });
  return found;
}

}  // namespace nixmon::nod::stats
