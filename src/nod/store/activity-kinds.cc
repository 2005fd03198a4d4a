#include "store/activity-kinds.hh"

#include <fmt/format.h>

#include <tuple>
#include <type_traits>
#include <variant>

#include "common/error.hh"

namespace nixmon::nod {

namespace {

// ---- How a value of a row binds to a statement and reads back --------------------------------

void bind_value(sqlite::Statement& st, int i, int64_t v) {
  st.bind(i, v);
}
void bind_value(sqlite::Statement& st, int i, uint64_t v) {
  st.bind(i, static_cast<int64_t>(v));  // Nix's activity ids: bit-for-bit in a signed INTEGER
}
void bind_value(sqlite::Statement& st, int i, const std::string& v) {
  st.bind(i, v);
}
void bind_value(sqlite::Statement& st, int i, const std::optional<int64_t>& v) {
  st.bind(i, v);
}
void bind_value(sqlite::Statement& st, int i, Outcome v) {
  st.bind(i, outcome_name(v));
}
void bind_value(sqlite::Statement& st, int i, FailureKind v) {
  st.bind(i, failure_kind_name(v));
}
void bind_value(sqlite::Statement& st, int i, const std::optional<bool>& v) {
  st.bind(i, v ? std::optional<int64_t>(*v ? 1 : 0) : std::nullopt);
}

void read_value(const sqlite::Statement& st, int i, int64_t& v) {
  v = st.column_int(i);
}
void read_value(const sqlite::Statement& st, int i, uint64_t& v) {
  v = static_cast<uint64_t>(st.column_int(i));
}
void read_value(const sqlite::Statement& st, int i, std::string& v) {
  v = st.column_text(i);
}
void read_value(const sqlite::Statement& st, int i, std::optional<int64_t>& v) {
  v = st.column_opt_int(i);
}
void read_value(const sqlite::Statement& st, int i, Outcome& v) {
  std::string o = st.column_text(i);
  for (Outcome x : {Outcome::success, Outcome::failed, Outcome::cancelled, Outcome::interrupted,
                    Outcome::unknown})
    if (outcome_name(x) == o) {
      v = x;
      return;
    }
  throw Error(fmt::format("unknown outcome '{}' in the database", o));
}
void read_value(const sqlite::Statement& st, int i, FailureKind& v) {
  auto kind = failure_kind_from_name(st.column_text(i));
  if (!kind) throw Error(fmt::format("failures: unknown kind '{}'", st.column_text(i)));
  v = *kind;
}
void read_value(const sqlite::Statement& st, int i, std::optional<bool>& v) {
  if (auto h = st.column_opt_int(i)) v = *h != 0;
}

// ---- Columns ---------------------------------------------------------------------------------

template <class Row>
struct Column {
  std::string_view name;
  std::string_view decl;     // its type and constraints, exactly as in the schema text
  std::string_view comment;  // "-- " lines before it in the schema text ("" = none)
  bool aggregated = false;   // read back for the aggregates (rebuild, upgrade)
  void (*bind)(sqlite::Statement&, int, const Row&) = nullptr;
  void (*read)(const sqlite::Statement&, int, Row&) = nullptr;
};

template <class M>
struct member_of;
template <class R, class T>
struct member_of<T R::*> {
  using row = R;
};

// A column holding the row's member M.
template <auto M>
auto field(std::string_view name, std::string_view decl, bool aggregated = false,
           std::string_view comment = {}) {
  using Row = typename member_of<decltype(M)>::row;
  return Column<Row>{name,
                     decl,
                     comment,
                     aggregated,
                     [](sqlite::Statement& st, int i, const Row& r) { bind_value(st, i, r.*M); },
                     [](const sqlite::Statement& st, int i, Row& r) { read_value(st, i, r.*M); }};
}

// A column holding the member M of the row's Span.
template <class Row, auto M>
Column<Row> span_field(std::string_view name, std::string_view decl, bool aggregated) {
  return Column<Row>{
      name,
      decl,
      {},
      aggregated,
      [](sqlite::Statement& st, int i, const Row& r) { bind_value(st, i, r.span.*M); },
      [](const sqlite::Statement& st, int i, Row& r) { read_value(st, i, r.span.*M); }};
}

constexpr std::string_view checked_outcome =
    "TEXT NOT NULL\n    CHECK (outcome IN ('success', 'failed', 'cancelled', 'interrupted', "
    "'unknown'))";

template <class Row>
Column<Row> activity_id() {
  return span_field<Row, &Span::activity_id>("activity_id", "INTEGER NOT NULL", false);
}

// start_ms, end_ms, duration_ms, outcome: every activity table has them in this order. Older
// tables (cache_queries, activities) have no CHECK on the outcome.
template <class Row>
std::vector<Column<Row>> span_columns(bool checked) {
  return {span_field<Row, &Span::start_ms>("start_ms", "INTEGER NOT NULL", true),
          span_field<Row, &Span::end_ms>("end_ms", "INTEGER NOT NULL", true),
          span_field<Row, &Span::duration_ms>("duration_ms", "INTEGER NOT NULL", true),
          span_field<Row, &Span::outcome>("outcome", checked ? checked_outcome : "TEXT NOT NULL",
                                          true)};
}

template <class Row>
std::vector<Column<Row>> columns(std::initializer_list<std::vector<Column<Row>>> parts) {
  std::vector<Column<Row>> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// One kind: its traits, its columns (after `id INTEGER PRIMARY KEY`, in the table's order), its
// indexes as in the schema text, and what a row adds to the aggregates and metrics.
template <class Row>
struct KindDef {
  using row_type = Row;
  KindTraits traits;
  std::vector<Column<Row>> columns;
  std::string_view indexes;
  RowFacts (*facts)(const Row&);
};

RowFacts span_facts(const Span& s) {
  RowFacts f;
  f.span = &s;
  f.date_ms = s.start_ms;
  f.duration_ms = s.duration_ms;
  f.outcome = outcome_name(s.outcome);
  return f;
}

// ---- The table -------------------------------------------------------------------------------
// Every kind nod records, in the order of the schema text (docs/nod-schema.md). The column
// declarations are the on-disk schema: changing one needs a new schema_version (record-store.cc).

const auto& defs() {
  static const auto table = std::make_tuple(
      KindDef<BuildRow>{
          {.kind = "build",
           .table = "builds",
           .title = "builds",
           .date_column = "start_ms",
           .activity = true,
           .key_column = "machine",
           .match_column = "name",
           .cpu = true,
           .names = true,
           .durations = true,
           .metric_kind = "build"},
          columns<BuildRow>({
              {activity_id<BuildRow>(), field<&BuildRow::drv_path>("drv_path", "TEXT NOT NULL"),
               field<&BuildRow::name>("name", "TEXT NOT NULL", true),
               field<&BuildRow::machine>("machine", "TEXT NOT NULL", true)},
              span_columns<BuildRow>(true),
              {field<&BuildRow::phases>("phases", "TEXT NOT NULL"),
               field<&BuildRow::log_lines>("log_lines", "INTEGER NOT NULL", true),
               field<&BuildRow::exit_code>("exit_code", "INTEGER"),
               Column<BuildRow>{
                   "failure_kind",
                   "TEXT CHECK (failure_kind IS NULL OR (outcome = 'failed' AND failure_kind IN "
                   "(\n    'builder', 'dependency', 'rejected', 'timeout', 'log-limit', "
                   "'hash-mismatch', 'remote')))",
                   "Why it failed, when Nix said; NULL for every other outcome.", false,
                   // NULL unless the build failed (the schema checks it): a kind on another
                   // outcome must not fail the whole batch.
                   [](sqlite::Statement& st, int i, const BuildRow& r) {
                     std::optional<std::string_view> k;
                     if (r.span.outcome == Outcome::failed && r.failure_kind)
                       k = failure_kind_name(*r.failure_kind);
                     st.bind(i, k);
                   },
                   [](const sqlite::Statement& st, int i, BuildRow& r) {
                     if (auto k = st.column_opt_text(i))
                       r.failure_kind = failure_kind_from_name(*k);
                   }},
               field<&BuildRow::cpu_user_us>(
                   "cpu_user_us", "INTEGER",
                   true,
                   "CPU time of the builder's processes, where Nix reports it (Determinate Nix); "
                   "else NULL."),
               field<&BuildRow::cpu_system_us>("cpu_system_us", "INTEGER", true)},
          }),
          "CREATE INDEX IF NOT EXISTS builds_start ON builds (start_ms);\n"
          "-- Covering: --drv, --group and regressions read a name's rows from this index "
          "alone, in order,\n"
          "-- instead of one random table page per row (CPU times for --group: NULL costs a "
          "byte).\n"
          "CREATE INDEX IF NOT EXISTS builds_by_name\n"
          "  ON builds (name, start_ms, duration_ms, outcome, machine, cpu_user_us, "
          "cpu_system_us);\n"
          "CREATE INDEX IF NOT EXISTS builds_drv ON builds (drv_path, end_ms);\n",
          [](const BuildRow& b) {
            RowFacts f = span_facts(b.span);
            f.key = b.machine;
            f.name = b.name;
            f.log_lines = b.log_lines;
            f.cpu_user_us = b.cpu_user_us;
            f.cpu_system_us = b.cpu_system_us;
            return f;
          }},
      KindDef<SubstitutionRow>{
          {.kind = "substitution",
           .table = "substitutions",
           .title = "substitutions",
           .date_column = "start_ms",
           .activity = true,
           .key_column = "substituter",
           .match_column = "name",
           .download_column = "download_bytes",
           .nar_column = "nar_bytes",
           .names = true,
           .durations = true,
           .metric_kind = "substitution"},
          columns<SubstitutionRow>({
              {activity_id<SubstitutionRow>(),
               field<&SubstitutionRow::store_path>("store_path", "TEXT NOT NULL"),
               field<&SubstitutionRow::name>("name", "TEXT NOT NULL", true),
               field<&SubstitutionRow::substituter>("substituter", "TEXT NOT NULL", true)},
              span_columns<SubstitutionRow>(true),
              {field<&SubstitutionRow::download_bytes>("download_bytes", "INTEGER", true),
               field<&SubstitutionRow::nar_bytes>("nar_bytes", "INTEGER", true)},
          }),
          "CREATE INDEX IF NOT EXISTS substitutions_start ON substitutions (start_ms);\n"
          "CREATE INDEX IF NOT EXISTS substitutions_by_name\n"
          "  ON substitutions (name, start_ms, duration_ms, outcome, substituter, "
          "download_bytes, nar_bytes);\n",
          [](const SubstitutionRow& s) {
            RowFacts f = span_facts(s.span);
            f.key = s.substituter;
            f.name = s.name;
            f.download_bytes = s.download_bytes;
            f.nar_bytes = s.nar_bytes;
            return f;
          }},
      KindDef<CacheQueryRow>{
          {.kind = "cache-query",
           .table = "cache_queries",
           .title = "cache queries",
           .date_column = "start_ms",
           .activity = true,
           .key_column = "cache",
           .match_column = "store_path",
           .outcome_sql = "CASE hit WHEN 1 THEN 'hit' WHEN 0 THEN 'miss' ELSE 'unknown' END",
           .outcomes = false,
           .durations = true,
           .metric_kind = "cache-query"},
          columns<CacheQueryRow>({
              {activity_id<CacheQueryRow>(),
               field<&CacheQueryRow::store_path>("store_path", "TEXT NOT NULL"),
               field<&CacheQueryRow::cache>("cache", "TEXT NOT NULL", true)},
              span_columns<CacheQueryRow>(false),
              {field<&CacheQueryRow::hit>("hit", "INTEGER", true)},
          }),
          "CREATE INDEX IF NOT EXISTS cache_queries_start ON cache_queries (start_ms);\n",
          [](const CacheQueryRow& q) {
            RowFacts f = span_facts(q.span);
            f.outcome = q.hit ? (*q.hit ? "hit" : "miss") : "unknown";
            f.key = q.cache;
            return f;
          }},
      KindDef<TransferRow>{
          {.kind = "file-transfer",
           .table = "file_transfers",
           .title = "file transfers",
           .date_column = "start_ms",
           .activity = true,
           .match_column = "url",
           .download_column = "bytes",
           .durations = true,
           .metric_kind = "file-transfer",
           .metric_transferred_bytes = true},
          columns<TransferRow>({
              {activity_id<TransferRow>(), field<&TransferRow::url>("url", "TEXT NOT NULL")},
              span_columns<TransferRow>(true),
              {field<&TransferRow::bytes>("bytes", "INTEGER", true)},
          }),
          "CREATE INDEX IF NOT EXISTS file_transfers_start ON file_transfers (start_ms);\n",
          [](const TransferRow& t) {
            RowFacts f = span_facts(t.span);
            f.download_bytes = t.bytes;
            return f;
          }},
      KindDef<CopyRow>{
          {.kind = "copy",
           .table = "copies",
           .title = "copies",
           .date_column = "start_ms",
           .activity = true,
           .match_column = "store_path",
           .nar_column = "bytes",
           .durations = true,
           .metric_kind = "copy",
           .metric_transferred_bytes = true},
          columns<CopyRow>({
              {activity_id<CopyRow>(), field<&CopyRow::store_path>("store_path", "TEXT NOT NULL"),
               field<&CopyRow::source>("source", "TEXT NOT NULL"),
               field<&CopyRow::destination>("destination", "TEXT NOT NULL")},
              span_columns<CopyRow>(true),
              {field<&CopyRow::bytes>("bytes", "INTEGER", true)},
          }),
          "CREATE INDEX IF NOT EXISTS copies_start ON copies (start_ms);\n",
          [](const CopyRow& c) {
            RowFacts f = span_facts(c.span);
            f.nar_bytes = c.bytes;
            return f;
          }},
      // Any other activity type, also those this nod does not know: aggregated by type, with no
      // durations histogram; one bounded metric label ("other") whatever the type.
      KindDef<ActivityRow>{
          {.kind = "activity",
           .table = "activities",
           .title = "other activities",
           .date_column = "start_ms",
           .metric_kind = "other"},
          columns<ActivityRow>({
              {activity_id<ActivityRow>(),
               field<&ActivityRow::type>("type", "INTEGER NOT NULL", true),
               field<&ActivityRow::text>("text", "TEXT NOT NULL"),
               field<&ActivityRow::fields_json>("fields", "TEXT NOT NULL")},
              span_columns<ActivityRow>(false),
          }),
          "CREATE INDEX IF NOT EXISTS activities_start ON activities (start_ms);\n",
          [](const ActivityRow& a) {
            RowFacts f = span_facts(a.span);
            f.key = fmt::format("{}", a.type);
            return f;
          }},
      KindDef<FailureRow>{
          {.kind = "failure", .table = "failures", .title = "failures", .date_column = "time_ms"},
          columns<FailureRow>({
              {field<&FailureRow::time_ms>("time_ms", "INTEGER NOT NULL", true),
               field<&FailureRow::kind>(
                   "kind",
                   "TEXT NOT NULL CHECK (kind IN (\n    'builder', 'dependency', 'rejected', "
                   "'timeout', 'log-limit', 'hash-mismatch', 'remote'))",
                   true),
               field<&FailureRow::drv_path>("drv_path", "TEXT NOT NULL"),
               field<&FailureRow::name>("name", "TEXT NOT NULL"),
               field<&FailureRow::machine>("machine", "TEXT NOT NULL"),
               field<&FailureRow::exit_code>("exit_code", "INTEGER"),
               field<&FailureRow::message>("message", "TEXT NOT NULL")},
          }),
          "CREATE INDEX IF NOT EXISTS failures_time ON failures (time_ms);\n",
          [](const FailureRow& r) {
            RowFacts f;
            f.date_ms = r.time_ms;
            f.outcome = failure_kind_name(r.kind);
            return f;
          }},
      KindDef<UnknownRecordRow>{
          {.kind = "unknown-record",
           .table = "unknown_records",
           .title = "unknown records",
           .date_column = "time_ms"},
          columns<UnknownRecordRow>({
              {field<&UnknownRecordRow::time_ms>("time_ms", "INTEGER NOT NULL", true),
               field<&UnknownRecordRow::reason>("reason", "TEXT NOT NULL"),
               field<&UnknownRecordRow::raw>("raw", "TEXT NOT NULL")},
          }),
          "CREATE INDEX IF NOT EXISTS unknown_records_time ON unknown_records (time_ms);\n",
          [](const UnknownRecordRow& u) {
            RowFacts f;
            f.date_ms = u.time_ms;
            return f;
          }},
      // Since schema 4. Nix's actFetchTree (112), `git fetch` of a repository.
      KindDef<GitFetchRow>{
          {.kind = "git-fetch",
           .table = "git_fetches",
           .title = "Git fetches",
           .date_column = "start_ms",
           .activity = true,
           .match_column = "url",
           .durations = true,
           .metric_kind = "git-fetch"},
          columns<GitFetchRow>({
              {activity_id<GitFetchRow>(), field<&GitFetchRow::url>("url", "TEXT NOT NULL")},
              span_columns<GitFetchRow>(true),
          }),
          "CREATE INDEX IF NOT EXISTS git_fetches_start ON git_fetches (start_ms);\n",
          [](const GitFetchRow& g) { return span_facts(g.span); }});
  return table;
}

using Defs = std::decay_t<decltype(defs())>;

template <class Row, class Tuple>
struct has_def_in;
template <class Row, class... D>
struct has_def_in<Row, std::tuple<D...>>
    : std::bool_constant<(std::is_same_v<Row, typename D::row_type> || ...)> {};
template <class Row>
constexpr bool has_def = has_def_in<Row, Defs>::value;

template <class F>
void for_each_def(F&& f) {
  std::apply([&](const auto&... d) { (f(d), ...); }, defs());
}

// Calls f(def, row) for a row event; false for other events.
template <class F>
bool visit_row(const Event& e, F&& f) {
  return std::visit(
      [&](const auto& row) {
        using Row = std::decay_t<decltype(row)>;
        if constexpr (has_def<Row>) {
          f(std::get<KindDef<Row>>(defs()), row);
          return true;
        } else {
          return false;
        }
      },
      e);
}

template <class Row>
std::string create_table(const KindDef<Row>& d) {
  std::string sql =
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n  id INTEGER PRIMARY KEY,\n", d.traits.table);
  for (std::size_t i = 0; i < d.columns.size(); ++i) {
    const auto& c = d.columns[i];
    if (!c.comment.empty()) sql += fmt::format("  -- {}\n", c.comment);
    sql += fmt::format("  {} {}{}\n", c.name, c.decl, i + 1 < d.columns.size() ? "," : "");
  }
  return sql + ");\n";
}

template <class Row>
std::string insert_sql(const KindDef<Row>& d) {
  std::string names, params;
  for (const auto& c : d.columns) {
    names += fmt::format("{}{}", names.empty() ? "" : ", ", c.name);
    params += params.empty() ? "?" : ",?";
  }
  return fmt::format("INSERT INTO {} ({}) VALUES ({})", d.traits.table, names, params);
}

}  // namespace

const std::vector<const KindTraits*>& kind_table() {
  static const std::vector<const KindTraits*> all = [] {
    std::vector<const KindTraits*> v;
    for_each_def([&](const auto& d) { v.push_back(&d.traits); });
    return v;
  }();
  return all;
}

const KindTraits* find_kind_traits(std::string_view kind) {
  for (const KindTraits* k : kind_table())
    if (k->kind == kind) return k;
  return nullptr;
}

const KindTraits* kind_of(const Event& e) {
  const KindTraits* k = nullptr;
  visit_row(e, [&](const auto& d, const auto&) { k = &d.traits; });
  return k;
}

std::optional<RowFacts> facts_of(const Event& e) {
  std::optional<RowFacts> f;
  visit_row(e, [&](const auto& d, const auto& row) { f = d.facts(row); });
  return f;
}

std::string kind_tables_sql() {
  std::string sql;
  for_each_def([&](const auto& d) { sql += create_table(d); });
  return sql;
}

std::string kind_indexes_sql() {
  std::string sql;
  for_each_def([&](const auto& d) { sql += d.indexes; });
  return sql;
}

RowInserter::RowInserter(sqlite::Database& db) : by_index_(std::variant_size_v<Event>) {
  for_each_def([&](const auto& d) {
    using Row = typename std::decay_t<decltype(d)>::row_type;
    by_index_[Event(std::in_place_type<Row>).index()] =
        std::make_unique<sqlite::Statement>(db.prepare(insert_sql(d)));
  });
}

RowInserter::~RowInserter() = default;

bool RowInserter::insert(const Event& e) {
  return visit_row(e, [&](const auto& d, const auto& row) {
    sqlite::Statement& st = *by_index_[e.index()];
    int i = 0;
    for (const auto& c : d.columns) c.bind(st, ++i, row);
    st.run();
  });
}

void read_rows(const sqlite::Database& db, const KindTraits& kind,
               const std::function<void(const Event&)>& each) {
  for_each_def([&](const auto& d) {
    if (&d.traits != &kind) return;
    using Row = typename std::decay_t<decltype(d)>::row_type;
    std::vector<const Column<Row>*> read;
    std::string names;
    for (const auto& c : d.columns) {
      if (!c.aggregated) continue;
      read.push_back(&c);
      names += fmt::format("{}{}", names.empty() ? "" : ", ", c.name);
    }
    auto st = db.prepare(fmt::format("SELECT {} FROM {}", names, d.traits.table));
    Event e{std::in_place_type<Row>};
    while (st.step()) {
      Row& row = std::get<Row>(e);
      row = Row{};
      for (std::size_t i = 0; i < read.size(); ++i) read[i]->read(st, static_cast<int>(i), row);
      each(e);
    }
  });
}

}  // namespace nixmon::nod
