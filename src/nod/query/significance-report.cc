// `nod --output test`: the Mann-Whitney U test of this period's durations against the prior
// period of the same length, per activity kind (successful activities only: a failure's duration
// says nothing about how long the work takes).
#include <fmt/format.h>

#include "format/human.hh"
#include "query/common.hh"
#include "stats/mann-whitney.hh"

namespace nixmon::nod {

using namespace format;

Report test_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  QueryOptions opts = o;
  // Without -d/-m/-y the period is one bucket (the original Rust nod's `--bucket day --output
  // test` compares today with yesterday), or a week.
  if (!opts.period_days()) {
    int64_t days = 7;
    if (opts.bucket == Bucket::day) days = 1;
    if (opts.bucket == Bucket::month) days = 30;
    opts.days = days;
  }
  Period now = period_of(opts, now_ms);
  Period before = prior_period(now);

  Report r;
  r.heading =
      fmt::format("nod: Mann-Whitney U test, {} against the {} before ({}){}", now.label,
                  fmt::format("{} day{}", *opts.period_days(), *opts.period_days() == 1 ? "" : "s"),
                  before.label, o.drv ? fmt::format(", matching '{}'", *o.drv) : std::string());
  r.meta.emplace_back("period", now.label);
  r.meta.emplace_back("prior_period", before.label);
  ReportTable t;
  t.name = "tests";
  t.empty_message = "no successful activities in either period";
  t.columns = {{"kind", "KIND", Align::left},
               {"n_now", "N NOW"},
               {"n_before", "N BEFORE"},
               {"median_now_ms", "MEDIAN NOW"},
               {"median_before_ms", "MEDIAN BEFORE"},
               {"u", "U"},
               {"z", "Z"},
               {"p", "P"},
               {"effect", "EFFECT"},
               {"result", "RESULT", Align::left}};
  for (const auto& k : query::kinds()) {
    auto x = query::load_durations(db, k, now, o.drv, "success");
    auto y = query::load_durations(db, k, before, o.drv, "success");
    if (x.empty() && y.empty()) continue;
    auto mw = stats::mann_whitney(x, y);
    bool tested = mw.verdict == stats::MannWhitney::Verdict::tested;
    t.rows.push_back({text_cell(std::string(k.kind)), count_cell(static_cast<int64_t>(mw.n1)),
                      count_cell(static_cast<int64_t>(mw.n2)), duration_cell(mw.median_x),
                      duration_cell(mw.median_y),
                      mw.n1 && mw.n2 ? real_cell(mw.u1, "{:g}") : Cell{unknown, {}},
                      real_cell(mw.z, "{:.3f}"), real_cell(mw.p, "{:.4g}"),
                      real_cell(mw.effect, "{:+.3f}"), text_cell(stats::describe(mw))});
    (void)tested;
  }
  r.tables.push_back(std::move(t));
  r.notes.push_back(
      "EFFECT is the rank-biserial correlation 2U/(n1 n2) - 1: +1 every activity is slower now, "
      "-1 every one is faster; p < 0.05 is called significant.");
  return r;
}

}  // namespace nixmon::nod
