#include "store/aggregates.hh"

#include <fmt/format.h>

#include "common/error.hh"
#include "stats/log-histogram.hh"
#include "store/activity-kinds.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

Aggregator::Value& Aggregator::count(const Span& s, std::string_view kind, std::string_view outcome,
                                     std::string_view key) {
  Value& v =
      stats_[Key{utc_day(s.start_ms), std::string(kind), std::string(outcome), std::string(key)}];
  ++v.count;
  v.total_ms += s.duration_ms;
  v.max_ms = std::max(v.max_ms, s.duration_ms);
  return v;
}

void Aggregator::Value::add_cpu(const BuildRow& b, int sign) {
  if (b.cpu_user_us) cpu_user_us += sign * *b.cpu_user_us, cpu_user_known += sign;
  if (b.cpu_system_us) cpu_system_us += sign * *b.cpu_system_us, cpu_system_known += sign;
}

void Aggregator::add(const Event& ev) {
  // What a row adds is its kind's entry's to say (activity-kinds.cc).
  const KindTraits* kind = kind_of(ev);
  if (!kind) return;  // a correction, not a row
  RowFacts f = *facts_of(ev);
  Value& v = stats_[Key{utc_day(f.date_ms), std::string(kind->kind), std::string(f.outcome),
                        std::move(f.key)}];
  ++v.count;
  v.total_ms += f.duration_ms;
  v.max_ms = std::max(v.max_ms, f.duration_ms);
  v.log_lines += f.log_lines;
  if (f.download_bytes) v.download_bytes += *f.download_bytes, ++v.download_known;
  if (f.nar_bytes) v.nar_bytes += *f.nar_bytes, ++v.nar_known;
  if (f.cpu_user_us) v.cpu_user_us += *f.cpu_user_us, ++v.cpu_user_known;
  if (f.cpu_system_us) v.cpu_system_us += *f.cpu_system_us, ++v.cpu_system_known;
  if (kind->durations)
    ++durations_[{utc_day(f.date_ms), kind->kind, stats::duration_bucket(f.duration_ms)}];
  if (kind->names) names_.emplace(kind->kind, f.name);
}

void Aggregator::move_build_to_failed(const BuildRow& was) {
  const Span& span = was.span;
  Value& plus = count(span, "build", "failed", was.machine);
  plus.log_lines += was.log_lines;
  plus.add_cpu(was, 1);
  std::string from(outcome_name(span.outcome));
  Value& minus = stats_[Key{utc_day(span.start_ms), "build", from, was.machine}];
  minus.count -= 1;
  minus.total_ms -= span.duration_ms;
  minus.log_lines -= was.log_lines;
  minus.add_cpu(was, -1);
  // The durations histogram is not keyed by outcome: unchanged.
  corrected_.emplace_back(from, was.machine, utc_day_index(span.start_ms));
}

void Aggregator::write(sqlite::Database& db) {
  // Daily rows, and the same sums without the day for the all-time totals.
  constexpr std::string_view columns =
      "count, total_ms, max_ms, log_lines, download_bytes, download_known, nar_bytes, nar_known, "
      "cpu_user_us, cpu_user_known, cpu_system_us, cpu_system_known";
  constexpr std::string_view sums = R"sql(
      count = count + excluded.count,
      total_ms = total_ms + excluded.total_ms,
      max_ms = max(max_ms, excluded.max_ms),
      log_lines = log_lines + excluded.log_lines,
      download_bytes = download_bytes + excluded.download_bytes,
      download_known = download_known + excluded.download_known,
      nar_bytes = nar_bytes + excluded.nar_bytes,
      nar_known = nar_known + excluded.nar_known,
      cpu_user_us = cpu_user_us + excluded.cpu_user_us,
      cpu_user_known = cpu_user_known + excluded.cpu_user_known,
      cpu_system_us = cpu_system_us + excluded.cpu_system_us,
      cpu_system_known = cpu_system_known + excluded.cpu_system_known)sql";
  auto daily =
      db.prepare(fmt::format("INSERT INTO daily_stats (day, kind, outcome, key, {}) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT (day, kind, outcome, key) DO UPDATE SET {}",
                             columns, sums));
  auto total =
      db.prepare(fmt::format("INSERT INTO total_stats (kind, outcome, key, {}) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT (kind, outcome, key) DO UPDATE SET {}",
                             columns, sums));
  auto bind_value = [](sqlite::Statement& st, int first, const Value& v) {
    st.bind(first, v.count).bind(first + 1, v.total_ms);
    st.bind(first + 2, std::max<int64_t>(v.max_ms, 0)).bind(first + 3, v.log_lines);
    st.bind(first + 4, v.download_bytes).bind(first + 5, v.download_known);
    st.bind(first + 6, v.nar_bytes).bind(first + 7, v.nar_known);
    st.bind(first + 8, v.cpu_user_us).bind(first + 9, v.cpu_user_known);
    st.bind(first + 10, v.cpu_system_us).bind(first + 11, v.cpu_system_known);
  };
  std::map<std::tuple<std::string_view, std::string_view, std::string_view>, Value> totals;
  for (auto& [k, v] : stats_) {
    daily.bind(1, k.day).bind(2, k.kind).bind(3, k.outcome).bind(4, k.key);
    bind_value(daily, 5, v);
    daily.run();
    Value& t = totals[{k.kind, k.outcome, k.key}];
    t.count += v.count;
    t.total_ms += v.total_ms;
    t.max_ms = std::max(t.max_ms, v.max_ms);
    t.log_lines += v.log_lines;
    t.download_bytes += v.download_bytes;
    t.download_known += v.download_known;
    t.nar_bytes += v.nar_bytes;
    t.nar_known += v.nar_known;
    t.cpu_user_us += v.cpu_user_us;
    t.cpu_user_known += v.cpu_user_known;
    t.cpu_system_us += v.cpu_system_us;
    t.cpu_system_known += v.cpu_system_known;
  }
  for (auto& [k, v] : totals) {
    total.bind(1, std::get<0>(k)).bind(2, std::get<1>(k)).bind(3, std::get<2>(k));
    bind_value(total, 4, v);
    total.run();
  }

  auto daily_duration = db.prepare(
      "INSERT INTO daily_durations (day, kind, bucket, count) VALUES (?,?,?,?) "
      "ON CONFLICT (day, kind, bucket) DO UPDATE SET count = count + excluded.count");
  std::map<std::pair<std::string_view, int>, int64_t> total_buckets;
  for (auto& [k, n] : durations_) {
    auto& [day, kind, bucket] = k;
    daily_duration.bind(1, day).bind(2, kind).bind(3, bucket).bind(4, n).run();
    total_buckets[{kind, bucket}] += n;
  }
  auto total_duration = db.prepare(
      "INSERT INTO total_durations (kind, bucket, count) VALUES (?,?,?) "
      "ON CONFLICT (kind, bucket) DO UPDATE SET count = count + excluded.count");
  for (auto& [k, n] : total_buckets)
    total_duration.bind(1, k.first).bind(2, k.second).bind(3, n).run();

  auto name = db.prepare("INSERT OR IGNORE INTO names (kind, name) VALUES (?, ?)");
  for (auto& [kind, n] : names_) name.bind(1, kind).bind(2, n).run();

  if (!corrected_.empty()) {
    // A row left these aggregates: their maxima can only be recomputed (from the rows for a day,
    // from the days for all time).
    auto day_max = db.prepare(R"sql(
      UPDATE daily_stats SET max_ms = coalesce((
        SELECT max(duration_ms) FROM builds
        WHERE start_ms >= ?1 AND start_ms < ?1 + 86400000 AND outcome = ?4
          AND machine = ?2), 0)
      WHERE day = ?3 AND kind = 'build' AND outcome = ?4 AND key = ?2)sql");
    auto total_max = db.prepare(R"sql(
      UPDATE total_stats SET max_ms = coalesce((
        SELECT max(max_ms) FROM daily_stats
        WHERE kind = 'build' AND outcome = ?2 AND key = ?1 AND count > 0), 0)
      WHERE kind = 'build' AND outcome = ?2 AND key = ?1)sql");
    for (auto& [outcome, machine, day] : corrected_) {
      day_max.bind(1, day_start_ms(day)).bind(2, machine).bind(3, utc_day(day_start_ms(day)));
      day_max.bind(4, outcome).run();
      total_max.bind(1, machine).bind(2, outcome).run();
    }
    // Aggregates that a correction emptied are removed, so they equal a recount (no zero rows).
    db.exec("DELETE FROM daily_stats WHERE count = 0");
    db.exec("DELETE FROM total_stats WHERE count = 0");
  }
  stats_.clear();
  durations_.clear();
  names_.clear();
  corrected_.clear();
}

void drop_aggregates_before(sqlite::Database& db, const std::string& day) {
  db.prepare(R"sql(
    UPDATE total_stats AS t SET
      count = t.count - d.count, total_ms = t.total_ms - d.total_ms,
      log_lines = t.log_lines - d.log_lines,
      download_bytes = t.download_bytes - d.download_bytes,
      download_known = t.download_known - d.download_known,
      nar_bytes = t.nar_bytes - d.nar_bytes, nar_known = t.nar_known - d.nar_known,
      cpu_user_us = t.cpu_user_us - d.cpu_user_us,
      cpu_user_known = t.cpu_user_known - d.cpu_user_known,
      cpu_system_us = t.cpu_system_us - d.cpu_system_us,
      cpu_system_known = t.cpu_system_known - d.cpu_system_known
    FROM (SELECT kind, outcome, key, sum(count) AS count, sum(total_ms) AS total_ms,
                 sum(log_lines) AS log_lines, sum(download_bytes) AS download_bytes,
                 sum(download_known) AS download_known, sum(nar_bytes) AS nar_bytes,
                 sum(nar_known) AS nar_known, sum(cpu_user_us) AS cpu_user_us,
                 sum(cpu_user_known) AS cpu_user_known, sum(cpu_system_us) AS cpu_system_us,
                 sum(cpu_system_known) AS cpu_system_known
          FROM daily_stats WHERE day < ?1 GROUP BY kind, outcome, key) AS d
    WHERE t.kind = d.kind AND t.outcome = d.outcome AND t.key = d.key)sql")
      .bind(1, day)
      .run();
  db.prepare(R"sql(
    UPDATE total_durations AS t SET count = t.count - d.count
    FROM (SELECT kind, bucket, sum(count) AS count FROM daily_durations WHERE day < ?1
          GROUP BY kind, bucket) AS d
    WHERE t.kind = d.kind AND t.bucket = d.bucket)sql")
      .bind(1, day)
      .run();
  db.prepare("DELETE FROM daily_durations WHERE day < ?").bind(1, day).run();
  db.exec("DELETE FROM total_durations WHERE count = 0");
  db.prepare("DELETE FROM daily_stats WHERE day < ?").bind(1, day).run();
  if (db.changes() == 0) return;
  db.exec("DELETE FROM total_stats WHERE count = 0");
  // A maximum cannot be subtracted: the days left say what it is now (a few thousand rows).
  db.exec(R"sql(
    UPDATE total_stats AS t SET max_ms = d.max_ms
    FROM (SELECT kind, outcome, key, max(max_ms) AS max_ms FROM daily_stats
          GROUP BY kind, outcome, key) AS d
    WHERE t.kind = d.kind AND t.outcome = d.outcome AND t.key = d.key)sql");
}

void prune_names(sqlite::Database& db) {
  for (const KindTraits* k : kind_table())
    if (k->names)
      db.prepare(fmt::format("DELETE FROM names WHERE kind = ?1 AND NOT EXISTS (SELECT 1 FROM {} r "
                             "WHERE r.name = names.name)",
                             k->table))
          .bind(1, k->kind)
          .run();
}

int64_t rebuild_aggregates(sqlite::Database& db, const std::function<void(int64_t)>& progress) {
  db.exec(
      "DELETE FROM daily_stats; DELETE FROM daily_durations; DELETE FROM total_stats; "
      "DELETE FROM total_durations; DELETE FROM names");
  Aggregator agg;
  int64_t rows = 0;
  // Each table's rows become the events the writer would have had (only the columns the
  // aggregates use), so a rebuild counts exactly as the writer does.
  for (const KindTraits* k : kind_table())
    read_rows(db, *k, [&](const Event& e) {
      agg.add(e);
      if (++rows % 1000000 == 0 && progress) progress(rows);
    });
  agg.write(db);
  if (progress) progress(rows);
  return rows;
}

}  // namespace nixmon::nod
