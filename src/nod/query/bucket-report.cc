// `nod --bucket day|week|month`: a time series per activity kind, from the daily aggregates
// (O(days)) or, with --drv, recounted from the rows.
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <map>
#include <tuple>

#include "format/human.hh"
#include "query/common.hh"
#include "stats/log-histogram.hh"
#include "stats/percentile.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

using namespace format;

namespace {

int64_t parse_day(const std::string& s) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (std::sscanf(s.c_str(), "%d-%u-%u", &y, &m, &d) != 3) return 0;
  return days_from_civil(y, m, d);
}

std::string bucket_label(Bucket b, int64_t day) {
  std::string date = utc_day(day * ms_per_day);
  switch (b) {
    case Bucket::day:
      return date;
    case Bucket::month:
      return date.substr(0, 7);
    case Bucket::week: {
      // ISO 8601: weeks start on Monday; the week belongs to the year of its Thursday.
      int64_t weekday = ((day % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday: Monday = 0
      int64_t thursday = day - weekday + 3;
      std::string tdate = utc_day(thursday * ms_per_day);
      int year = std::stoi(tdate.substr(0, 4));
      int64_t jan1 = days_from_civil(year, 1, 1);
      int64_t week = (thursday - jan1) / 7 + 1;
      return fmt::format("{}-W{:02}", year, week);
    }
  }
  return date;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Report bucket_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  Period p = period_of(o, now_ms);
  struct Acc {
    int64_t count = 0, failed = 0, total_ms = 0, max_ms = 0, download = 0, download_known = 0;
    std::map<int, int64_t> histogram;  // without --drv: the median is read from it
    std::vector<double> durations;     // with --drv: the exact median
  };
  // (bucket label, kind order) -> totals; labels sort chronologically as text.
  std::map<std::pair<std::string, std::size_t>, Acc> series;
  auto kind_index = [](const std::string& kind) -> std::size_t {
    const auto& ks = query::kinds();
    for (std::size_t i = 0; i < ks.size(); ++i)
      if (ks[i].kind == kind) return i;
    return ks.size();
  };
  auto add = [&](int64_t day, const std::string& kind, const std::string& outcome, int64_t count,
                 int64_t total, int64_t max, int64_t dl, int64_t dlk) {
    std::size_t ki = kind_index(kind);
    if (ki >= query::kinds().size()) return;  // failures, unknown records: not activities
    Acc& a = series[{bucket_label(*o.bucket, day), ki}];
    a.count += count;
    if (outcome == "failed") a.failed += count;
    a.total_ms += total;
    a.max_ms = std::max(a.max_ms, max);
    a.download += dl;
    a.download_known += dlk;
  };

  if (!o.drv) {
    auto st = db.prepare(R"sql(
      SELECT day, kind, outcome, sum(count), sum(total_ms), max(max_ms), sum(download_bytes),
             sum(download_known)
      FROM daily_stats WHERE day >= ?1 AND day < ?2 GROUP BY day, kind, outcome)sql");
    st.bind(1, p.from_ms ? utc_day(*p.from_ms) : std::string("0000-00-00"));
    st.bind(2, utc_day(p.to_ms));
    while (st.step())
      add(parse_day(st.column_text(0)), st.column_text(1), st.column_text(2), st.column_int(3),
          st.column_int(4), st.column_int(5), st.column_int(6), st.column_int(7));
  } else {
    for (const auto& k : query::kinds()) {
      std::string bytes = k.download_column.empty()
                              ? std::string("0, 0")
                              : fmt::format("coalesce(sum({0}),0), count({0})", k.download_column);
      std::string outcome = k.outcomes ? "outcome" : "''";
      // Floor division for days (rows before 1970 are not expected, but stay correct).
      auto st = db.prepare(fmt::format(
          "SELECT (start_ms - ((start_ms % 86400000) + 86400000) % 86400000) / 86400000 AS day, "
          "{0} AS o, count(*), sum(duration_ms), max(duration_ms), {1} FROM {2} "
          "WHERE start_ms >= ?2 AND start_ms < ?3 AND {3} GROUP BY 1, 2",
          outcome, bytes, k.table, query::drv_condition(k)));
      query::bind_drv(st, db, k, *o.drv);
      st.bind(2, p.from_ms.value_or(INT64_MIN)).bind(3, p.to_ms);
      while (st.step())
        add(st.column_int(0), std::string(k.kind), st.column_text(1), st.column_int(2),
            st.column_int(3), st.column_int(4), st.column_int(5), st.column_int(6));
    }
  }
  // Medians: exact from the rows up to query::exact_percentile_limit activities (and always with
  // --drv, whose rows are found by name), else from the daily duration histograms (O(days x
  // buckets), like the counts) — as the summary does.
  int64_t activities = 0;
  for (const auto& [key, a] : series) activities += a.count;
  bool exact = o.drv || activities <= query::exact_percentile_limit;
  if (exact) {
    for (const auto& k : query::kinds()) {
      auto d = db.prepare(fmt::format(
          "SELECT (start_ms - ((start_ms % 86400000) + 86400000) % 86400000) / 86400000, "
          "duration_ms FROM {} WHERE start_ms >= ?2 AND start_ms < ?3 AND {}",
          k.table, o.drv ? query::drv_condition(k) : std::string("?1 IS NULL")));
      if (o.drv) query::bind_drv(d, db, k, *o.drv);
      d.bind(2, p.from_ms.value_or(INT64_MIN)).bind(3, p.to_ms);
      std::size_t ki = kind_index(std::string(k.kind));
      while (d.step()) {
        auto it = series.find({bucket_label(*o.bucket, d.column_int(0)), ki});
        if (it != series.end())
          it->second.durations.push_back(static_cast<double>(d.column_int(1)));
      }
    }
  } else {
    auto h = db.prepare(
        "SELECT day, kind, bucket, count FROM daily_durations WHERE day >= ?1 AND day < ?2");
    h.bind(1, p.from_ms ? utc_day(*p.from_ms) : std::string("0000-00-00"));
    h.bind(2, utc_day(p.to_ms));
    while (h.step()) {
      std::size_t ki = kind_index(h.column_text(1));
      if (ki >= query::kinds().size()) continue;
      auto it = series.find({bucket_label(*o.bucket, parse_day(h.column_text(0))), ki});
      if (it == series.end()) continue;  // durations without counts: nothing to show them beside
      it->second.histogram[static_cast<int>(h.column_int(2))] += h.column_int(3);
    }
  }

  Report r;
  r.heading = fmt::format("nod: by {}, {}{}", name(*o.bucket), p.label,
                          o.drv ? fmt::format(", matching '{}'", *o.drv) : std::string());
  r.meta.emplace_back("period", p.label);
  r.meta.emplace_back("bucket", std::string(name(*o.bucket)));
  r.meta.emplace_back("percentiles", exact ? "exact" : "approximate");
  ReportTable t;
  t.name = "buckets";
  t.empty_message = "no activities recorded in this period";
  t.columns = {{"bucket", upper(name(*o.bucket)), Align::left},
               {"kind", "KIND", Align::left},
               {"count", "COUNT"},
               {"count_bar", "", Align::left, true, true},
               {"failed", "FAILED"},
               {"total_ms", "TOTAL"},
               {"mean_ms", "MEAN"},
               {"median_ms", "MEDIAN"},
               {"median_bar", "", Align::left, true, true},
               {"max_ms", "MAX"},
               {"downloaded_bytes", "DOWNLOADED"}};
  for (const auto& [key, a] : series) {
    const auto& k = query::kinds()[key.second];
    bool outcomes = k.outcomes;
    bool dl = !k.download_column.empty();
    // Unknown when nothing measured it (an aggregate without its histogram): "-", never 0.
    std::optional<double> median;
    Cell median_text{unknown, {}};
    if (exact) {
      median = stats::median(a.durations);
      median_text = duration_cell(median);
    } else if (!a.histogram.empty()) {
      median = stats::histogram_percentile(a.histogram, 0.5, static_cast<double>(a.max_ms));
      median_text = duration_cell(median);
      if (median) median_text.text = "~" + median_text.text;
    }
    // Each kind's bars against its own largest: a build's minutes dwarf a cache query's ms.
    std::string scale(k.kind);
    t.rows.push_back({text_cell(key.first), text_cell(std::string(k.kind)), count_cell(a.count),
                      figure_cell(BarFigure{static_cast<double>(a.count), scale}),
                      outcomes ? count_cell(a.failed) : Cell{unknown, {}},
                      duration_cell(static_cast<double>(a.total_ms)),
                      duration_cell(static_cast<double>(a.total_ms) / static_cast<double>(a.count)),
                      median_text, figure_cell(BarFigure{median, scale}),
                      duration_cell(static_cast<double>(a.max_ms)),
                      dl && a.download_known > 0 ? bytes_cell(static_cast<double>(a.download))
                                                 : Cell{unknown, {}}});
  }
  if (!exact && !t.rows.empty())
    r.notes.emplace_back(
        "~ medians estimated from duration histograms (within about 5%); add --drv or a "
        "shorter period for exact ones");
  r.tables.push_back(std::move(t));
  return r;
}

}  // namespace nixmon::nod
