// `nod builds`: the builds nod recorded last, newest first — what nix-output-monitor shows while
// Nix runs, kept: when each ended, its outcome (and why it failed, when Nix said), how long it
// took, its exit code, where it ran, and its CPU time where Nix reports it.
#include <fmt/format.h>

#include "format/human.hh"
#include "query/common.hh"

namespace nixmon::nod {

using namespace format;

Report builds_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  Period p = period_of(o, now_ms);
  const auto& k = *query::find_kind("build");
  // Newest = recorded last: the writer inserts a build at its stop, so the row id follows the
  // order of the stops and the newest N are the last N ids, read backwards without a sort
  // (end_ms has no index; an upgrade keeps ids). No period condition for all time: a range on
  // start_ms, even an unbounded one, would make SQLite read every row through builds_start and
  // sort them (0.24 s instead of 4 ms on 1M rows).
  std::string sql =
      "SELECT end_ms, name, outcome, failure_kind, duration_ms, exit_code, machine, cpu_user_us, "
      "cpu_system_us, drv_path FROM builds";
  std::string where;
  if (o.drv) where = query::drv_condition(k);  // ?1
  if (p.from_ms)
    where += std::string(where.empty() ? "" : " AND ") + "start_ms >= ?2 AND start_ms < ?3";
  if (!where.empty()) sql += " WHERE " + where;
  sql += " ORDER BY id DESC LIMIT ?4";
  auto st = db.prepare(sql);
  if (o.drv) query::bind_drv(st, db, k, *o.drv);
  if (p.from_ms) st.bind(2, *p.from_ms).bind(3, p.to_ms);
  st.bind(4, o.last);

  Report r = query::newest_rows_report("build", p, o);
  ReportTable t;
  t.name = "builds";
  t.empty_message = "no builds recorded in this period";
  t.columns = {{"end_ms", "END", Align::left},      {"name", "DERIVATION", Align::left},
               {"outcome", "OUTCOME", Align::left}, {"failure_kind", "", Align::left, false},
               {"duration_ms", "DURATION"},         {"exit_code", "EXIT"},
               {"machine", "MACHINE", Align::left}, {"cpu_user_us", "CPU USER"},
               {"cpu_system_us", "CPU SYS"},        {"drv_path", "", Align::left, false}};
  bool cpu_known = false;
  while (st.step()) {
    int64_t end = st.column_int(0);
    std::string outcome = st.column_text(2);
    auto kind = st.column_opt_text(3);
    // "failed (timeout)" for people; outcome and failure_kind apart for machines.
    Cell outcome_cell{kind ? fmt::format("{} ({})", outcome, *kind) : outcome, outcome};
    auto user = st.column_opt_int(7), system = st.column_opt_int(8);
    cpu_known = cpu_known || user || system;
    t.rows.push_back({Cell{query::utc_time(end), end}, text_cell(st.column_text(1)), outcome_cell,
                      text_cell(kind), duration_cell(static_cast<double>(st.column_int(4))),
                      int_cell(st.column_opt_int(5)), text_cell(st.column_text(6)),
                      microseconds_cell(user), microseconds_cell(system),
                      text_cell(st.column_text(9))});
  }
  r.tables.push_back(std::move(t));
  if (cpu_known)
    r.notes.emplace_back(
        "CPU USER and CPU SYS: CPU time of the builder's processes, where Nix reports it "
        "(Determinate Nix); - where it did not.");
  return r;
}

}  // namespace nixmon::nod
