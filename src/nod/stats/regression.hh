#pragma once
// Regression detection: derivations whose recent builds are significantly slower than their own
// history. Works on plain vectors (the query layer loads them), so it is tested without SQLite.
// Pure functions; thread-safe.
#include <cstdint>
#include <string>
#include <vector>

#include "stats/mann-whitney.hh"
#include "stats/percentile.hh"

namespace nixmon::nod::stats {

struct RegressionOptions {
  std::size_t recent = 5;       // the newest N successful builds form the "recent" sample
  std::size_t history = 50;     // at most this many builds before them form the history
  std::size_t min_history = 5;  // fewer than this: not judged (too little to know "normal")
  double alpha = 0.05;          // significance: p must be below this
  double min_effect = 0.5;      // rank-biserial effect size must be at least this (0..1)
};

// One derivation's successful builds, oldest first (durations in seconds).
struct BuildSeries {
  std::string name;
  std::vector<double> durations;
};

struct Regression {
  std::string name;
  MannWhitney test;  // x = recent, y = history
  double recent_median = 0;
  double history_median = 0;
  double slowdown = 0;          // recent_median / history_median (> 1); 0 history median: +inf-free
  std::size_t builds = 0;       // all builds seen in the series
  FiveNumbers recent, history;  // the two samples, for a picture of them
};

// The regressions among `series`, most severe first: by slowdown ratio, then effect size, then
// smaller p, then name (so equal inputs always give the same order).
std::vector<Regression> find_regressions(const std::vector<BuildSeries>& series,
                                         const RegressionOptions& options);

// Throws UsageError when an option is out of range (alpha outside (0,1], effect outside [0,1],
// recent 0 or history < min_history...).
void validate(const RegressionOptions& options);

}  // namespace nixmon::nod::stats
