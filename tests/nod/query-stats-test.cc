// The statistics of the query side on plain vectors: Mann-Whitney against the reference's check
// values (docs: shared reference mann-whitney.md, tolerance 1e-12), percentiles, the log
// histogram's accuracy, regression detection.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/error.hh"
#include "stats/log-histogram.hh"
#include "stats/mann-whitney.hh"
#include "stats/percentile.hh"
#include "stats/regression.hh"

using namespace nixmon;
using namespace nixmon::nod::stats;

namespace {

struct Check {
  std::vector<double> x, y;
  double u1, z, p;
};

}  // namespace

TEST(MannWhitney, ReferenceCheckValues) {
  const Check checks[] = {
      {{19, 22, 16, 29, 24}, {20, 11, 17, 12}, 17, 1.5921683328090657, 0.11134688653314048},
      {{12, 15, 11, 14, 13}, {18, 21, 17, 20, 19}, 0, -2.5067182457620487, 0.012185780355344818},
      {{30, 30, 31, 32, 35, 35, 40},
       {30, 33, 35, 35, 38, 41, 45, 50},
       14,
       -1.5822244044174218,
       0.11359835105535997},
  };
  for (const auto& c : checks) {
    auto r = mann_whitney(c.x, c.y);
    ASSERT_EQ(r.verdict, MannWhitney::Verdict::tested);
    EXPECT_EQ(r.u1, c.u1);
    EXPECT_EQ(r.u2, static_cast<double>(c.x.size() * c.y.size()) - c.u1);
    EXPECT_NEAR(*r.z, c.z, 1e-12);
    EXPECT_NEAR(*r.p, c.p, 1e-12);
    EXPECT_NEAR(*r.effect, 2 * c.u1 / static_cast<double>(c.x.size() * c.y.size()) - 1, 1e-15);
  }
}

TEST(MannWhitney, MediansAndEffectBesideP) {
  auto r = mann_whitney(std::vector<double>{12, 15, 11, 14, 13},
                        std::vector<double>{18, 21, 17, 20, 19});
  EXPECT_EQ(*r.median_x, 13);
  EXPECT_EQ(*r.median_y, 19);
  EXPECT_EQ(*r.effect, -1);  // every x below every y: "faster now"
  EXPECT_EQ(describe(r), "significantly faster (p = 0.01219 < 0.05)");
}

TEST(MannWhitney, AllTiedIsWordedNeverNaN) {
  auto r = mann_whitney(std::vector<double>{5, 5, 5}, std::vector<double>{5, 5});
  EXPECT_EQ(r.verdict, MannWhitney::Verdict::all_tied);
  EXPECT_FALSE(r.z.has_value());
  EXPECT_FALSE(r.p.has_value());
  EXPECT_EQ(*r.effect, 0);
  EXPECT_EQ(describe(r), "no difference, all values tied");
}

TEST(MannWhitney, EmptySampleIsTooFew) {
  auto r = mann_whitney(std::vector<double>{1, 2}, std::vector<double>{});
  EXPECT_EQ(r.verdict, MannWhitney::Verdict::too_few);
  EXPECT_EQ(describe(r), "not enough data to compare (2 vs 0 samples)");
  // One value each, different: sigma > 0, a (meaningless but defined) p.
  auto one = mann_whitney(std::vector<double>{1}, std::vector<double>{2});
  EXPECT_EQ(one.verdict, MannWhitney::Verdict::tested);
  EXPECT_FALSE(std::isnan(*one.p));
}

TEST(Percentile, LinearBetweenClosestRanks) {
  std::vector<double> v{4, 1, 3, 2};
  EXPECT_EQ(*median(v), 2.5);
  EXPECT_NEAR(*percentile(v, 0.9), 3.7, 1e-12);
  EXPECT_EQ(*percentile(v, 0), 1);
  EXPECT_EQ(*percentile(v, 1), 4);
  EXPECT_FALSE(percentile(std::vector<double>{}, 0.5).has_value());
  std::vector<double> d{10, 20, 30, 40, 100};
  auto dist = distribution(d);
  EXPECT_EQ(dist.count, 5u);
  EXPECT_EQ(dist.total, 200);
  EXPECT_EQ(*dist.mean, 40);
  EXPECT_EQ(*dist.median, 30);
  EXPECT_NEAR(*dist.p90, 76, 1e-12);
  EXPECT_EQ(*dist.max, 100);
}

TEST(LogHistogram, PercentilesWithinFivePercentOfExact) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(9, 1.5);  // ~8 s median, long tail
  std::vector<double> values;
  std::map<int, int64_t> h;
  for (int i = 0; i < 100000; ++i) {
    auto ms = static_cast<int64_t>(dist(rng));
    values.push_back(static_cast<double>(ms));
    ++h[duration_bucket(ms)];
  }
  double max = *std::max_element(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99}) {
    double exact = *percentile(values, q);
    double est = *histogram_percentile(h, q, max);
    EXPECT_NEAR(est / exact, 1.0, 0.05) << "q=" << q;
  }
  EXPECT_EQ(duration_bucket(0), 0);
  EXPECT_EQ(duration_bucket(1), 1);
  EXPECT_LE(bucket_lower_ms(duration_bucket(1000)), 1000);
  EXPECT_GT(bucket_upper_ms(duration_bucket(1000)), 1000);
}

TEST(Regressions, SlowerRecentBuildsAreFoundMostSevereFirst) {
  std::vector<BuildSeries> series;
  // Stable: 20 builds around 100 s.
  BuildSeries stable{"stable", {}};
  for (int i = 0; i < 20; ++i) stable.durations.push_back(100000 + (i % 5) * 1000);
  // Twice as slow in the last 5 builds.
  BuildSeries twice{"twice", {}};
  for (int i = 0; i < 15; ++i) twice.durations.push_back(60000 + (i % 3) * 500);
  for (int i = 0; i < 5; ++i) twice.durations.push_back(120000 + i * 100);
  // Three times as slow.
  BuildSeries thrice{"thrice", {}};
  for (int i = 0; i < 10; ++i) thrice.durations.push_back(10000 + i * 10);
  for (int i = 0; i < 5; ++i) thrice.durations.push_back(30000 + i * 10);
  // Faster now: not a regression.
  BuildSeries faster{"faster", {}};
  for (int i = 0; i < 10; ++i) faster.durations.push_back(50000 + i);
  for (int i = 0; i < 5; ++i) faster.durations.push_back(10000 + i);
  // Too few builds to judge.
  BuildSeries young{"young", {1, 2, 3, 100, 200, 300}};
  series = {stable, twice, thrice, faster, young};

  auto found = find_regressions(series, RegressionOptions{});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "thrice");
  EXPECT_NEAR(found[0].slowdown, 30020.0 / 10045, 1e-9);
  EXPECT_EQ(found[1].name, "twice");
  EXPECT_EQ(found[1].test.n1, 5u);
  EXPECT_EQ(found[1].test.n2, 15u);
  EXPECT_LT(*found[1].test.p, 0.05);
  EXPECT_EQ(*found[1].test.effect, 1);

  // A stricter significance level drops both (with 5 vs 10..15 builds p is ~0.001).
  RegressionOptions strict;
  strict.alpha = 0.0001;
  EXPECT_TRUE(find_regressions(series, strict).empty());
  // A history window of 5 still finds them; min_history 20 judges none.
  RegressionOptions small;
  small.history = 5;
  EXPECT_EQ(find_regressions(series, small).size(), 2u);
  RegressionOptions picky;
  picky.min_history = 20;
  picky.history = 50;
  EXPECT_TRUE(find_regressions(series, picky).empty());
}

TEST(Regressions, OptionsAreChecked) {
  RegressionOptions o;
  o.alpha = 0;
  EXPECT_THROW(validate(o), UsageError);
  o = {};
  o.min_effect = 1.5;
  EXPECT_THROW(validate(o), UsageError);
  o = {};
  o.history = 3;
  EXPECT_THROW(validate(o), UsageError);
  EXPECT_NO_THROW(validate(RegressionOptions{}));
}

TEST(Percentile, FiveNumbersOfASample) {
  using nixmon::nod::stats::five_numbers;
  std::vector<double> v{9, 1, 5, 3, 7};
  auto f = five_numbers(v);
  ASSERT_TRUE(f);
  EXPECT_EQ((std::vector<double>{f->min, f->q1, f->median, f->q3, f->max}),
            (std::vector<double>{1, 3, 5, 7, 9}));
  EXPECT_FALSE(five_numbers(std::vector<double>{}));
}
