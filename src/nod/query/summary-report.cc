// `nod`, `nod -d N`, `nod --drv S`: one row per activity kind, per substituter, per builder.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "format/human.hh"
#include "query/common.hh"
#include "stats/log-histogram.hh"
#include "stats/percentile.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

using namespace format;
using query::AggRow;

namespace {
// 9999-12-31: "no end" that still formats as a date.
constexpr int64_t far_future_ms = 253402214400000;
}  // namespace

Period period_of(const QueryOptions& o, int64_t now_ms) {
  Period p;
  int64_t today = utc_day_index(now_ms);
  auto n = o.period_days();
  if (!n) {
    p.to_ms = far_future_ms;
    p.label = "all time";
    return p;
  }
  p.to_ms = day_start_ms(today + 1);
  p.from_ms = day_start_ms(today + 1 - *n);
  std::string what =
      o.days     ? fmt::format("{} day{}", *o.days, *o.days == 1 ? "" : "s")
      : o.months ? fmt::format("{} month{} ({} days)", *o.months, *o.months == 1 ? "" : "s", *n)
                 : fmt::format("{} year{} ({} days)", *o.years, *o.years == 1 ? "" : "s", *n);
  p.label = fmt::format("last {} ({} .. {})", what, utc_day(*p.from_ms), utc_day(p.to_ms - 1));
  return p;
}

Period prior_period(const Period& p) {
  Period q;
  int64_t len = p.to_ms - *p.from_ms;
  q.to_ms = *p.from_ms;
  q.from_ms = *p.from_ms - len;
  q.label = fmt::format("{} .. {}", utc_day(*q.from_ms), utc_day(q.to_ms - 1));
  return q;
}

namespace {

struct KindTotals {
  int64_t count = 0, failed = 0, interrupted = 0, cancelled = 0, unknown_outcome = 0, total_ms = 0,
          max_ms = 0;
  int64_t download = 0, download_known = 0, nar = 0, nar_known = 0;
  int64_t cpu_user_us = 0, cpu_user_known = 0, cpu_system_us = 0, cpu_system_known = 0;
  bool has_outcomes = true;  // cache queries have hit/miss instead
  void add(const AggRow& r) {
    count += r.count;
    if (r.outcome == "failed") failed += r.count;
    if (r.outcome == "interrupted") interrupted += r.count;
    if (r.outcome == "cancelled") cancelled += r.count;
    if (r.outcome == "unknown") unknown_outcome += r.count;
    total_ms += r.total_ms;
    max_ms = std::max(max_ms, r.max_ms);
    download += r.download_bytes;
    download_known += r.download_known;
    nar += r.nar_bytes;
    nar_known += r.nar_known;
    cpu_user_us += r.cpu_user_us;
    cpu_user_known += r.cpu_user_known;
    cpu_system_us += r.cpu_system_us;
    cpu_system_known += r.cpu_system_known;
  }
};

std::optional<double> known(int64_t value, int64_t known_count) {
  if (known_count <= 0) return std::nullopt;
  return static_cast<double>(value);
}

// CPU time summed over the builds that reported it (microseconds): shown like a duration, raw in
// microseconds; unknown ("-", null) when no build reported it, never 0.
Cell cpu_cell(int64_t us, int64_t known_count) {
  return microseconds_cell(known_count > 0 ? std::optional<int64_t>(us) : std::nullopt);
}

constexpr std::string_view cpu_note =
    "CPU USER and CPU SYS: CPU time of the builders' processes summed over the builds whose Nix "
    "reported it (Determinate Nix); - where none did.";

}  // namespace

Report summary_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  Period p = period_of(o, now_ms);
  std::map<std::string, std::vector<double>> drv_durations;  // with --drv: from the same pass
  auto aggs = query::load_aggregates(db, p, o.drv, o.drv ? &drv_durations : nullptr);

  Report r;
  r.heading = fmt::format("nod: {}{}", p.label,
                          o.drv ? fmt::format(", matching '{}'", *o.drv) : std::string());
  r.meta.emplace_back("period", p.label);
  r.meta.emplace_back("from", p.from_ms ? Raw(utc_day(*p.from_ms)) : Raw());
  r.meta.emplace_back("to", p.from_ms ? Raw(utc_day(p.to_ms - 1)) : Raw());
  r.meta.emplace_back("drv", o.drv ? Raw(*o.drv) : Raw());

  // Activity kinds.
  ReportTable kinds_table;
  kinds_table.name = "kinds";
  kinds_table.title = "By kind";
  kinds_table.empty_message = "no activities recorded in this period";
  kinds_table.columns = {{"kind", "KIND", Align::left},
                         {"count", "COUNT"},
                         {"failed", "FAILED"},
                         {"interrupted", "INTERRUPTED"},
                         {"cancelled", "CANCELLED"},
                         {"unknown", "UNKNOWN"},
                         {"total_ms", "TOTAL"},
                         {"mean_ms", "MEAN"},
                         {"median_ms", "MEDIAN"},
                         {"p90_ms", "P90"},
                         {"max_ms", "MAX"},
                         {"downloaded_bytes", "DOWNLOADED"},
                         {"nar_bytes", "NAR"}};
  bool approximate = false;
  std::optional<std::map<std::string, std::map<int, int64_t>>> histograms;
  for (const auto& k : query::kinds()) {
    KindTotals t;
    for (const auto& a : aggs)
      if (a.kind == k.kind) t.add(a);
    if (t.count == 0) continue;
    bool outcomes = k.outcomes;
    // Percentiles: exact from the rows when affordable, else from the duration histograms.
    std::optional<double> med, p90;
    std::optional<std::map<int, int64_t>> hist;
    if (!o.drv && t.count > query::exact_percentile_limit) {
      if (!histograms) histograms = query::load_histograms(db, p);  // once, for every kind
      hist = (*histograms)[std::string(k.kind)];
    }
    if (hist && !hist->empty()) {
      med = stats::histogram_percentile(*hist, 0.5, static_cast<double>(t.max_ms));
      p90 = stats::histogram_percentile(*hist, 0.9, static_cast<double>(t.max_ms));
      approximate = true;
    } else {
      auto d = o.drv ? std::move(drv_durations[std::string(k.kind)])
                     : query::load_durations(db, k, p, std::nullopt);
      med = stats::percentile(d, 0.5);
      p90 = stats::percentile(d, 0.9);
    }
    auto approx = [&](Cell c) {
      if (hist && !hist->empty() && c.text != unknown) c.text = "~" + c.text;
      return c;
    };
    bool has_download = !k.download_column.empty();
    bool has_nar = !k.nar_column.empty();
    kinds_table.rows.push_back({
        text_cell(std::string(k.kind)),
        count_cell(t.count),
        outcomes ? count_cell(t.failed) : Cell{unknown, {}},
        outcomes ? count_cell(t.interrupted) : Cell{unknown, {}},
        outcomes ? count_cell(t.cancelled) : Cell{unknown, {}},
        outcomes ? count_cell(t.unknown_outcome) : Cell{unknown, {}},
        duration_cell(static_cast<double>(t.total_ms)),
        duration_cell(static_cast<double>(t.total_ms) / static_cast<double>(t.count)),
        approx(duration_cell(med)),
        approx(duration_cell(p90)),
        duration_cell(static_cast<double>(t.max_ms)),
        has_download ? bytes_cell(known(t.download, t.download_known)) : Cell{unknown, {}},
        has_nar ? bytes_cell(known(t.nar, t.nar_known)) : Cell{unknown, {}},
    });
  }
  r.meta.emplace_back("percentiles", approximate ? "approximate" : "exact");
  r.tables.push_back(std::move(kinds_table));

  // Substituters: substitutions by substituter, cache hits and misses by cache URI.
  struct Sub {
    int64_t count = 0, failed = 0, total_ms = 0, download = 0, download_known = 0, nar = 0,
            nar_known = 0, hits = 0, misses = 0;
  };
  std::map<std::string, Sub> subs;
  for (const auto& a : aggs) {
    if (a.kind == "substitution") {
      Sub& s = subs[a.key];
      s.count += a.count;
      if (a.outcome == "failed") s.failed += a.count;
      s.total_ms += a.total_ms;
      s.download += a.download_bytes;
      s.download_known += a.download_known;
      s.nar += a.nar_bytes;
      s.nar_known += a.nar_known;
    } else if (a.kind == "cache-query") {
      Sub& s = subs[a.key];
      if (a.outcome == "hit") s.hits += a.count;
      if (a.outcome == "miss") s.misses += a.count;
    }
  }
  ReportTable st;
  st.name = "substituters";
  st.title = "By substituter";
  st.empty_message = "no substitutions or cache queries in this period";
  st.columns = {{"substituter", "SUBSTITUTER", Align::left},
                {"substitutions", "SUBSTITUTIONS"},
                {"failed", "FAILED"},
                {"total_ms", "TIME"},
                {"downloaded_bytes", "DOWNLOADED"},
                {"nar_bytes", "NAR"},
                {"throughput_bytes_per_second", "THROUGHPUT"},
                {"hits", "HITS"},
                {"misses", "MISSES"},
                {"hit_ratio", "HIT RATIO"}};
  for (const auto& [name, s] : subs) {
    std::optional<double> throughput;
    if (s.download_known > 0 && s.total_ms > 0)
      throughput = static_cast<double>(s.download) / (static_cast<double>(s.total_ms) / 1000);
    Cell tp = bytes_cell(throughput);
    if (throughput) tp.text += "/s";
    std::optional<double> ratio;
    if (s.hits + s.misses > 0)
      ratio = static_cast<double>(s.hits) / static_cast<double>(s.hits + s.misses);
    st.rows.push_back({text_cell(name.empty() ? std::string("(none)") : name), count_cell(s.count),
                       count_cell(s.failed), duration_cell(static_cast<double>(s.total_ms)),
                       bytes_cell(known(s.download, s.download_known)),
                       bytes_cell(known(s.nar, s.nar_known)), tp, count_cell(s.hits),
                       count_cell(s.misses), ratio_cell(ratio)});
  }
  r.tables.push_back(std::move(st));

  // Builder machines.
  std::map<std::string, KindTotals> machines;
  for (const auto& a : aggs)
    if (a.kind == "build") machines[a.key].add(a);
  ReportTable bt;
  bt.name = "builders";
  bt.title = "By builder";
  bt.empty_message = "no builds in this period";
  bt.columns = {{"machine", "MACHINE", Align::left},
                {"builds", "BUILDS"},
                {"failed", "FAILED"},
                {"total_ms", "TOTAL"},
                {"mean_ms", "MEAN"},
                {"max_ms", "MAX"},
                {"cpu_user_us", "CPU USER"},
                {"cpu_system_us", "CPU SYS"}};
  bool cpu_known = false;
  for (const auto& [m, t] : machines) {
    bt.rows.push_back(
        {text_cell(m), count_cell(t.count), count_cell(t.failed),
         duration_cell(static_cast<double>(t.total_ms)),
         duration_cell(static_cast<double>(t.total_ms) / static_cast<double>(t.count)),
         duration_cell(static_cast<double>(t.max_ms)), cpu_cell(t.cpu_user_us, t.cpu_user_known),
         cpu_cell(t.cpu_system_us, t.cpu_system_known)});
    cpu_known = cpu_known || t.cpu_user_known > 0 || t.cpu_system_known > 0;
  }
  r.tables.push_back(std::move(bt));
  if (cpu_known) r.notes.emplace_back(cpu_note);
  if (approximate)
    r.notes.push_back(
        "~ percentiles estimated from duration histograms (within about 5%); add --drv or a "
        "shorter period for exact values");
  return r;
}

// --group: one row per derivation name (builds).
Report group_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  Period p = period_of(o, now_ms);
  const auto& k = *query::find_kind("build");
  std::string sql =
      "SELECT name, outcome, duration_ms, cpu_user_us, cpu_system_us FROM builds "
      "WHERE start_ms >= ?2 AND start_ms < ?3";
  if (o.drv) sql += " AND " + query::drv_condition(k);
  sql += " ORDER BY name";
  auto st = db.prepare(sql);
  if (o.drv)
    query::bind_drv(st, db, k, *o.drv);
  else
    st.bind_null(1);
  st.bind(2, p.from_ms.value_or(INT64_MIN)).bind(3, p.to_ms);

  struct Group {
    std::string name;
    int64_t failed = 0;
    std::vector<double> durations;
    stats::Distribution d;
    int64_t cpu_user_us = 0, cpu_user_known = 0, cpu_system_us = 0, cpu_system_known = 0;
  };
  std::vector<Group> groups;
  while (st.step()) {
    std::string name = st.column_text(0);
    if (groups.empty() || groups.back().name != name) groups.push_back({name, 0, {}, {}});
    Group& g = groups.back();
    if (st.column_text(1) == "failed") ++g.failed;
    g.durations.push_back(static_cast<double>(st.column_int(2)));
    if (!st.is_null(3)) g.cpu_user_us += st.column_int(3), ++g.cpu_user_known;
    if (!st.is_null(4)) g.cpu_system_us += st.column_int(4), ++g.cpu_system_known;
  }
  for (auto& g : groups) g.d = stats::distribution(g.durations);

  SortKey key = o.sort.value_or(SortKey::total);
  auto val = [key](const Group& g) -> double {
    switch (key) {
      case SortKey::count:
        return static_cast<double>(g.d.count);
      case SortKey::total:
        return g.d.total;
      case SortKey::mean:
        return g.d.mean.value_or(0);
      case SortKey::median:
        return g.d.median.value_or(0);
      case SortKey::p90:
        return g.d.p90.value_or(0);
      case SortKey::max:
        return g.d.max.value_or(0);
      case SortKey::name:
        return 0;
    }
    return 0;
  };
  std::stable_sort(groups.begin(), groups.end(), [&](const Group& a, const Group& b) {
    if (key == SortKey::name) return a.name < b.name;
    double va = val(a), vb = val(b);
    if (va != vb) return va > vb;  // biggest first
    return a.name < b.name;
  });
  if (o.limit && groups.size() > static_cast<std::size_t>(*o.limit))
    groups.resize(static_cast<std::size_t>(*o.limit));

  Report r;
  r.heading =
      fmt::format("nod: builds by derivation, {}{}, sorted by {}", p.label,
                  o.drv ? fmt::format(", matching '{}'", *o.drv) : std::string(), name(key));
  r.meta.emplace_back("period", p.label);
  r.meta.emplace_back("sort", std::string(name(key)));
  ReportTable t;
  t.name = "derivations";
  t.empty_message = "no builds in this period";
  t.columns = {{"name", "DERIVATION", Align::left},
               {"count", "COUNT"},
               {"failed", "FAILED"},
               {"total_ms", "TOTAL"},
               {"mean_ms", "MEAN"},
               {"median_ms", "MEDIAN"},
               {"p90_ms", "P90"},
               {"max_ms", "MAX"},
               {"cpu_user_us", "CPU USER"},
               {"cpu_system_us", "CPU SYS"}};
  bool cpu_known = false;
  for (const auto& g : groups) {
    t.rows.push_back({text_cell(g.name), count_cell(static_cast<int64_t>(g.d.count)),
                      count_cell(g.failed), duration_cell(g.d.total), duration_cell(g.d.mean),
                      duration_cell(g.d.median), duration_cell(g.d.p90), duration_cell(g.d.max),
                      cpu_cell(g.cpu_user_us, g.cpu_user_known),
                      cpu_cell(g.cpu_system_us, g.cpu_system_known)});
    cpu_known = cpu_known || g.cpu_user_known > 0 || g.cpu_system_known > 0;
  }
  r.tables.push_back(std::move(t));
  if (cpu_known) r.notes.emplace_back(cpu_note);
  return r;
}

Report run_query(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  query::DrvCache names;  // --drv's matching names, resolved once for the whole report
  if (o.command == QueryCommand::regressions) return regressions_report(db, o);
  if (o.command == QueryCommand::failures) return failures_report(db, o, now_ms);
  if (o.command == QueryCommand::builds) return builds_report(db, o, now_ms);
  if (o.output == OutputFormat::test) return test_report(db, o, now_ms);
  if (o.bucket) return bucket_report(db, o, now_ms);
  if (o.group) return group_report(db, o, now_ms);
  return summary_report(db, o, now_ms);
}

std::string render(const Report& r, OutputFormat output, const RenderOptions& how) {
  switch (output) {
    case OutputFormat::csv:
      return render_csv(r);
    case OutputFormat::json:
      return render_json(r);
    case OutputFormat::table:
    case OutputFormat::test:
      break;
  }
  return render_text(r, how);
}

}  // namespace nixmon::nod
