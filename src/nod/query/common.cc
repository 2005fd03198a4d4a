#include "query/common.hh"

#include <fmt/format.h>

#include <algorithm>

#include "common/json-writer.hh"
#include "store/record-store.hh"

namespace nixmon::nod::query {

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> k = [] {
    std::vector<KindInfo> v;
    for (const KindTraits* t : kind_table())
      if (t->activity) v.push_back(*t);
    return v;
  }();
  return k;
}

const KindInfo* find_kind(std::string_view kind) {
  for (const auto& k : kinds())
    if (k.kind == kind) return &k;
  return nullptr;
}

std::string day_of(int64_t ms) {
  return utc_day(ms);
}

std::string utc_time(int64_t ms) {
  int64_t of_day = ms - day_start_ms(utc_day_index(ms));
  int64_t s = of_day / 1000;
  return fmt::format("{} {:02}:{:02}:{:02}", utc_day(ms), s / 3600, s / 60 % 60, s % 60);
}

format::Report newest_rows_report(std::string_view noun, const Period& p, const QueryOptions& o) {
  using format::Raw;
  using format::Report;
  Report r;
  r.heading =
      fmt::format("nod: the newest {} {}{}, newest first", o.last, noun, o.last == 1 ? "" : "s");
  if (p.from_ms) r.heading += ", " + p.label;
  if (o.drv) r.heading += fmt::format(", matching '{}'", *o.drv);
  r.heading += " (times in UTC)";
  r.meta.emplace_back("period", p.label);
  r.meta.emplace_back("drv", o.drv ? Raw(*o.drv) : Raw());
  r.meta.emplace_back("last", o.last);
  return r;
}

namespace {

thread_local std::map<std::pair<std::string, std::string>, std::string>* drv_cache = nullptr;

// "start_ms >= ?2 AND start_ms < ?3" etc. Parameters: ?1 drv, ?2 from, ?3 to (always bound).
std::string row_filter(const KindInfo& k, bool drv) {
  std::string w = "start_ms >= ?2 AND start_ms < ?3";
  if (drv) w += " AND " + drv_condition(k);
  return w;
}

void bind_period(sqlite::Statement& st, const sqlite::Database& db, const KindInfo& k,
                 const Period& p, const std::optional<std::string>& drv) {
  if (drv)
    bind_drv(st, db, k, *drv);
  else
    st.bind_null(1);
  st.bind(2, p.from_ms.value_or(INT64_MIN));
  st.bind(3, p.to_ms);
}

}  // namespace

DrvCache::DrvCache() {
  if (!drv_cache) drv_cache = new std::map<std::pair<std::string, std::string>, std::string>();
}
DrvCache::~DrvCache() {
  delete drv_cache;
  drv_cache = nullptr;
}

std::string drv_condition(const KindInfo& k) {
  if (k.match_column == "name") return "name IN (SELECT value FROM json_each(?1))";
  return fmt::format("instr({}, ?1) > 0", k.match_column);
}

void bind_drv(sqlite::Statement& st, const sqlite::Database& db, const KindInfo& k,
              const std::string& drv) {
  if (k.match_column == "name")
    st.bind(1, matching_names(db, k.kind, drv));
  else
    st.bind(1, drv);
}

const std::string& matching_names(const sqlite::Database& db, std::string_view kind,
                                  const std::string& drv) {
  std::pair<std::string, std::string> key{std::string(kind), drv};
  static thread_local std::string uncached;
  if (drv_cache)
    if (auto it = drv_cache->find(key); it != drv_cache->end()) return it->second;
  // The writer keeps the distinct names: O(names), however many rows carry them.
  auto st = db.prepare("SELECT name FROM names WHERE kind = ?1 AND instr(name, ?2) > 0");
  st.bind(1, kind).bind(2, drv);
  std::string json = "[";
  while (st.step()) {
    if (json.size() > 1) json += ',';
    append_json_string(json, st.column_text(0));
  }
  json += ']';
  if (drv_cache) return (*drv_cache)[key] = std::move(json);
  uncached = std::move(json);
  return uncached;
}

std::vector<AggRow> load_aggregates(const sqlite::Database& db, const Period& p,
                                    const std::optional<std::string>& drv,
                                    std::map<std::string, std::vector<double>>* durations) {
  std::vector<AggRow> out;
  auto read = [&](sqlite::Statement& st) {
    while (st.step()) {
      AggRow r;
      r.kind = st.column_text(0);
      r.key = st.column_text(1);
      r.outcome = st.column_text(2);
      r.count = st.column_int(3);
      r.total_ms = st.column_int(4);
      r.max_ms = st.column_int(5);
      r.download_bytes = st.column_int(6);
      r.download_known = st.column_int(7);
      r.nar_bytes = st.column_int(8);
      r.nar_known = st.column_int(9);
      r.cpu_user_us = st.column_int(10);
      r.cpu_user_known = st.column_int(11);
      r.cpu_system_us = st.column_int(12);
      r.cpu_system_known = st.column_int(13);
      out.push_back(std::move(r));
    }
  };
  if (!drv && !p.from_ms) {
    // All time: the totals the writer keeps (a few dozen rows).
    auto st = db.prepare(R"sql(
      SELECT kind, key, outcome, count, total_ms, max_ms, download_bytes, download_known,
             nar_bytes, nar_known, cpu_user_us, cpu_user_known, cpu_system_us, cpu_system_known
      FROM total_stats ORDER BY kind, key, outcome)sql");
    read(st);
    return out;
  }
  if (!drv) {
    auto st = db.prepare(R"sql(
      SELECT kind, key, outcome, sum(count), sum(total_ms), max(max_ms), sum(download_bytes),
             sum(download_known), sum(nar_bytes), sum(nar_known), sum(cpu_user_us),
             sum(cpu_user_known), sum(cpu_system_us), sum(cpu_system_known)
      FROM daily_stats WHERE day >= ?1 AND day < ?2
      GROUP BY kind, key, outcome ORDER BY kind, key, outcome)sql");
    st.bind(1, p.from_ms ? day_of(*p.from_ms) : std::string("0000-00-00"));
    st.bind(2, day_of(p.to_ms));
    read(st);
    return out;
  }
  // Recount from the matching rows exactly as the writer aggregates them (aggregates.cc), in one
  // pass that also collects the durations for exact percentiles.
  for (const auto& k : kinds()) {
    std::string key = k.key_column.empty() ? "''" : std::string(k.key_column);
    std::string_view outcome = k.outcome_sql;
    std::string_view download = k.download_column.empty() ? "NULL" : k.download_column;
    std::string_view nar = k.nar_column.empty() ? "NULL" : k.nar_column;
    std::string_view cpu = k.cpu ? "cpu_user_us, cpu_system_us" : std::string_view("NULL, NULL");
    auto st = db.prepare(fmt::format("SELECT {}, {}, duration_ms, {}, {}, {} FROM {} WHERE {}", key,
                                     outcome, download, nar, cpu, k.table, row_filter(k, true)));
    bind_period(st, db, k, p, drv);
    std::map<std::pair<std::string, std::string>, AggRow> groups;
    std::vector<double>* kind_durations = durations ? &(*durations)[std::string(k.kind)] : nullptr;
    while (st.step()) {
      AggRow& r = groups[{st.column_text(0), st.column_text(1)}];
      int64_t ms = st.column_int(2);
      ++r.count;
      r.total_ms += ms;
      r.max_ms = std::max(r.max_ms, ms);
      if (!st.is_null(3)) r.download_bytes += st.column_int(3), ++r.download_known;
      if (!st.is_null(4)) r.nar_bytes += st.column_int(4), ++r.nar_known;
      if (!st.is_null(5)) r.cpu_user_us += st.column_int(5), ++r.cpu_user_known;
      if (!st.is_null(6)) r.cpu_system_us += st.column_int(6), ++r.cpu_system_known;
      if (kind_durations) kind_durations->push_back(static_cast<double>(ms));
    }
    for (auto& [ko, r] : groups) {
      r.kind = k.kind;
      r.key = ko.first;
      r.outcome = ko.second;
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<double> load_durations(const sqlite::Database& db, const KindInfo& k, const Period& p,
                                   const std::optional<std::string>& drv,
                                   std::optional<std::string_view> outcome) {
  std::string sql =
      fmt::format("SELECT duration_ms FROM {} WHERE {}", k.table, row_filter(k, drv.has_value()));
  if (outcome) sql += " AND outcome = ?4";
  auto st = db.prepare(sql);
  bind_period(st, db, k, p, drv);
  if (outcome) st.bind(4, *outcome);
  std::vector<double> v;
  while (st.step()) v.push_back(static_cast<double>(st.column_int(0)));
  return v;
}

std::map<std::string, std::map<int, int64_t>> load_histograms(const sqlite::Database& db,
                                                              const Period& p) {
  std::map<std::string, std::map<int, int64_t>> h;
  if (!p.from_ms) {
    // All time: the writer's totals.
    auto st = db.prepare("SELECT kind, bucket, count FROM total_durations");
    while (st.step()) h[st.column_text(0)][static_cast<int>(st.column_int(1))] = st.column_int(2);
    return h;
  }
  auto st =
      db.prepare("SELECT kind, bucket, count FROM daily_durations WHERE day >= ?1 AND day < ?2");
  st.bind(1, p.from_ms ? day_of(*p.from_ms) : std::string("0000-00-00"));
  st.bind(2, day_of(p.to_ms));
  std::string kind;
  std::map<int, int64_t>* current = nullptr;
  while (st.step()) {
    // Rows come in (day, kind, bucket) order: the kind changes every few dozen rows.
    std::string k = st.column_text(0);  // short: no allocation (small-string buffer)
    if (!current || kind != k) {
      kind = std::move(k);
      current = &h[kind];
    }
    (*current)[static_cast<int>(st.column_int(1))] += st.column_int(2);
  }
  return h;
}

}  // namespace nixmon::nod::query
