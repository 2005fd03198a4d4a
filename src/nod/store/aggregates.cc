#include "store/aggregates.hh"

#include <fmt/format.h>

#include "common/error.hh"
#include "stats/log-histogram.hh"
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

void Aggregator::duration(const Span& s, std::string_view kind) {
  ++durations_[{utc_day(s.start_ms), kind, stats::duration_bucket(s.duration_ms)}];
}

void Aggregator::Value::add_cpu(const BuildRow& b, int sign) {
  if (b.cpu_user_us) cpu_user_us += sign * *b.cpu_user_us, cpu_user_known += sign;
  if (b.cpu_system_us) cpu_system_us += sign * *b.cpu_system_us, cpu_system_known += sign;
}

void Aggregator::add(const Event& ev) {
  if (auto* b = std::get_if<BuildRow>(&ev)) {
    Value& v = count(b->span, "build", outcome_name(b->span.outcome), b->machine);
    v.log_lines += b->log_lines;
    v.add_cpu(*b, 1);
    duration(b->span, "build");
    names_.emplace("build", b->name);
  } else if (auto* s = std::get_if<SubstitutionRow>(&ev)) {
    Value& v = count(s->span, "substitution", outcome_name(s->span.outcome), s->substituter);
    if (s->download_bytes) v.download_bytes += *s->download_bytes, ++v.download_known;
    if (s->nar_bytes) v.nar_bytes += *s->nar_bytes, ++v.nar_known;
    duration(s->span, "substitution");
    names_.emplace("substitution", s->name);
  } else if (auto* q = std::get_if<CacheQueryRow>(&ev)) {
    count(q->span, "cache-query", q->hit ? (*q->hit ? "hit" : "miss") : "unknown", q->cache);
    duration(q->span, "cache-query");
  } else if (auto* t = std::get_if<TransferRow>(&ev)) {
    Value& v = count(t->span, "file-transfer", outcome_name(t->span.outcome), "");
    if (t->bytes) v.download_bytes += *t->bytes, ++v.download_known;
    duration(t->span, "file-transfer");
  } else if (auto* c = std::get_if<CopyRow>(&ev)) {
    Value& v = count(c->span, "copy", outcome_name(c->span.outcome), "");
    if (c->bytes) v.nar_bytes += *c->bytes, ++v.nar_known;
    duration(c->span, "copy");
  } else if (auto* a = std::get_if<ActivityRow>(&ev)) {
    count(a->span, "activity", outcome_name(a->span.outcome), fmt::format("{}", a->type));
  } else if (auto* f = std::get_if<FailureRow>(&ev)) {
    count(Span{0, f->time_ms, f->time_ms, 0, Outcome::failed}, "failure",
          failure_kind_name(f->kind), "");
  } else if (auto* u = std::get_if<UnknownRecordRow>(&ev)) {
    count(Span{0, u->time_ms, u->time_ms, 0, Outcome::success}, "unknown-record", "", "");
  }
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
  db.exec(R"sql(
    DELETE FROM names WHERE kind = 'build'
      AND NOT EXISTS (SELECT 1 FROM builds WHERE builds.name = names.name);
    DELETE FROM names WHERE kind = 'substitution'
      AND NOT EXISTS (SELECT 1 FROM substitutions s WHERE s.name = names.name))sql");
}

namespace {

Outcome outcome_of(const sqlite::Statement& st, int column) {
  std::string o = st.column_text(column);
  for (Outcome v : {Outcome::success, Outcome::failed, Outcome::cancelled, Outcome::interrupted,
                    Outcome::unknown})
    if (outcome_name(v) == o) return v;
  throw Error(fmt::format("unknown outcome '{}' in the database", o));
}

// The columns every activity table has, in this order, first in each SELECT below.
constexpr std::string_view span_columns = "start_ms, end_ms, duration_ms, outcome";
Span span_of(const sqlite::Statement& st) {
  return Span{0, st.column_int(0), st.column_int(1), st.column_int(2), outcome_of(st, 3)};
}

std::optional<int64_t> optional_int(const sqlite::Statement& st, int column) {
  if (st.is_null(column)) return std::nullopt;
  return st.column_int(column);
}

}  // namespace

int64_t rebuild_aggregates(sqlite::Database& db, const std::function<void(int64_t)>& progress) {
  db.exec(
      "DELETE FROM daily_stats; DELETE FROM daily_durations; DELETE FROM total_stats; "
      "DELETE FROM total_durations; DELETE FROM names");
  Aggregator agg;
  int64_t rows = 0;
  // Each table's rows become the events the writer would have had (only the columns the
  // aggregates use), so a rebuild counts exactly as the writer does.
  auto each = [&](std::string_view sql, auto&& to_event) {
    auto st = db.prepare(sql);
    while (st.step()) {
      agg.add(to_event(st));
      if (++rows % 1000000 == 0 && progress) progress(rows);
    }
  };
  each(fmt::format("SELECT {}, name, machine, log_lines, cpu_user_us, cpu_system_us FROM builds",
                   span_columns),
       [](const sqlite::Statement& st) -> Event {
         BuildRow b;
         b.span = span_of(st);
         b.name = st.column_text(4);
         b.machine = st.column_text(5);
         b.log_lines = st.column_int(6);
         b.cpu_user_us = optional_int(st, 7);
         b.cpu_system_us = optional_int(st, 8);
         return b;
       });
  each(fmt::format("SELECT {}, name, substituter, download_bytes, nar_bytes FROM substitutions",
                   span_columns),
       [](const sqlite::Statement& st) -> Event {
         SubstitutionRow s;
         s.span = span_of(st);
         s.name = st.column_text(4);
         s.substituter = st.column_text(5);
         s.download_bytes = optional_int(st, 6);
         s.nar_bytes = optional_int(st, 7);
         return s;
       });
  each(fmt::format("SELECT {}, cache, hit FROM cache_queries", span_columns),
       [](const sqlite::Statement& st) -> Event {
         CacheQueryRow q;
         q.span = span_of(st);
         q.cache = st.column_text(4);
         if (auto h = optional_int(st, 5)) q.hit = *h != 0;
         return q;
       });
  each(fmt::format("SELECT {}, bytes FROM file_transfers", span_columns),
       [](const sqlite::Statement& st) -> Event {
         TransferRow t;
         t.span = span_of(st);
         t.bytes = optional_int(st, 4);
         return t;
       });
  each(fmt::format("SELECT {}, bytes FROM copies", span_columns),
       [](const sqlite::Statement& st) -> Event {
         CopyRow c;
         c.span = span_of(st);
         c.bytes = optional_int(st, 4);
         return c;
       });
  each(fmt::format("SELECT {}, type FROM activities", span_columns),
       [](const sqlite::Statement& st) -> Event {
         ActivityRow a;
         a.span = span_of(st);
         a.type = st.column_int(4);
         return a;
       });
  each("SELECT time_ms, kind FROM failures", [](const sqlite::Statement& st) -> Event {
    FailureRow f;
    f.time_ms = st.column_int(0);
    auto kind = failure_kind_from_name(st.column_text(1));
    if (!kind) throw Error(fmt::format("failures: unknown kind '{}'", st.column_text(1)));
    f.kind = *kind;
    return f;
  });
  each("SELECT time_ms FROM unknown_records", [](const sqlite::Statement& st) -> Event {
    UnknownRecordRow u;
    u.time_ms = st.column_int(0);
    return u;
  });
  agg.write(db);
  if (progress) progress(rows);
  return rows;
}

}  // namespace nixmon::nod
