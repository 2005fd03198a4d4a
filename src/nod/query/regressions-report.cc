// `nod regressions`: derivations whose newest successful builds are significantly slower than
// their own earlier builds (Mann-Whitney, x = recent), most severe first.
#include <fmt/format.h>

#include "format/human.hh"
#include "query/common.hh"
#include "stats/regression.hh"

namespace nixmon::nod {

using namespace format;

Report regressions_report(const sqlite::Database& db, const QueryOptions& o) {
  const auto& ro = o.regression;
  // Oldest first per name; only the newest recent+history builds of each name are needed, but
  // a window function over the index (name, start_ms) is as costly as reading them all here.
  std::string sql =
      "SELECT name, duration_ms FROM builds WHERE outcome = 'success'" +
      (o.drv ? " AND " + query::drv_condition(*query::find_kind("build")) : std::string()) +
      " ORDER BY name, start_ms, id";
  auto st = db.prepare(sql);
  if (o.drv) query::bind_drv(st, db, *query::find_kind("build"), *o.drv);
  std::vector<stats::BuildSeries> series;
  while (st.step()) {
    std::string name = st.column_text(0);
    if (series.empty() || series.back().name != name) series.push_back({name, {}});
    series.back().durations.push_back(static_cast<double>(st.column_int(1)));
  }
  std::size_t judged = 0;
  for (const auto& s : series)
    if (s.durations.size() >= ro.recent + ro.min_history) ++judged;
  auto found = stats::find_regressions(series, ro);
  if (o.limit && found.size() > static_cast<std::size_t>(*o.limit))
    found.resize(static_cast<std::size_t>(*o.limit));

  Report r;
  r.heading = fmt::format(
      "nod: regressions — newest {} successful builds against up to {} before them; "
      "p < {}, effect >= {}{}",
      ro.recent, ro.history, ro.alpha, ro.min_effect,
      o.drv ? fmt::format(", matching '{}'", *o.drv) : std::string());
  r.meta.emplace_back("derivations", static_cast<int64_t>(series.size()));
  r.meta.emplace_back("judged", static_cast<int64_t>(judged));
  ReportTable t;
  t.name = "regressions";
  t.empty_message = fmt::format(
      "no regressions ({} of {} derivations have enough builds to judge: {} recent + {} earlier)",
      judged, series.size(), ro.recent, ro.min_history);
  t.columns = {{"name", "DERIVATION", Align::left},
               {"slowdown", "SLOWDOWN"},
               {"recent_median_ms", "RECENT MEDIAN"},
               {"history_median_ms", "HISTORY MEDIAN"},
               {"recent", "RECENT"},
               {"history", "HISTORY"},
               {"p", "P"},
               {"effect", "EFFECT"},
               {"distribution", "HISTORY / RECENT", Align::left, true, true}};
  auto spread = [](const stats::FiveNumbers& f) {
    return Spread{f.min, f.q1, f.median, f.q3, f.max};
  };
  for (const auto& g : found) {
    Cell slow = g.slowdown > 0 ? real_cell(g.slowdown, "{:.2f}x") : Cell{unknown, {}};
    t.rows.push_back({text_cell(g.name), slow, duration_cell(g.recent_median),
                      duration_cell(g.history_median), count_cell(static_cast<int64_t>(g.test.n1)),
                      count_cell(static_cast<int64_t>(g.test.n2)), real_cell(g.test.p, "{:.4g}"),
                      real_cell(g.test.effect, "{:+.3f}"),
                      figure_cell(SpreadFigure{spread(g.history), spread(g.recent)})});
  }
  r.tables.push_back(std::move(t));
  return r;
}

}  // namespace nixmon::nod
