#include "exporter/store/store-delta.hh"

#include <algorithm>

namespace nixmon::exporter {

StoreDbMark read_store_db_mark(sqlite::Database& db) {
  StoreDbMark m;
  // max() of an INTEGER PRIMARY KEY and of a rowid is one b-tree descent; count(*) walks the
  // smallest index's leaf pages without decoding rows (the cheapest full check SQLite offers).
  m.max_id = db.query_int("SELECT max(id) FROM ValidPaths").value_or(0);
  m.valid_paths =
      static_cast<std::uint64_t>(db.query_int("SELECT count(*) FROM ValidPaths").value_or(0));
  m.max_ref_rowid = db.query_int("SELECT max(rowid) FROM Refs").value_or(0);
  m.data_version = db.query_int("PRAGMA data_version").value_or(0);
  return m;
}

void write_analysis_runs(MetricSet& out, std::string_view name, std::string_view help,
                         const AnalysisRuns& runs) {
  for (const auto& [key, n] : runs.counts) {
    out.counter(name, help, static_cast<double>(n), {{"kind", key.first}, {"reason", key.second}});
  }
}

bool is_drv_like(std::string_view path) {
  if (path.size() < 4) return false;
  auto tail = path.substr(path.size() - 4);
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return tail[0] == '.' && lower(tail[1]) == 'd' && lower(tail[2]) == 'r' && lower(tail[3]) == 'v';
}

StoreDelta read_store_delta(sqlite::Database& db, const StoreDbMark& since, bool with_refs) {
  StoreDelta d;
  sqlite::Transaction txn(db, /*immediate=*/false);
  d.mark = read_store_db_mark(db);
  {
    auto st = db.prepare(
        "SELECT id, path, registrationTime, narSize, ultimate IS NOT NULL AND ultimate != 0, "
        "deriver FROM ValidPaths WHERE id > ? ORDER BY id");
    st.bind(1, since.max_id);
    while (st.step()) {
      NewValidPath p;
      p.id = st.column_int(0);
      p.path = st.column_text(1);
      p.registration_time = st.column_int(2);
      p.nar_size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, st.column_int(3)));
      p.ultimate = st.column_int(4) != 0;
      p.deriver = st.column_opt_text(5);
      d.paths.push_back(std::move(p));
    }
  }
  if (d.mark.valid_paths != since.valid_paths + d.paths.size()) {
    d.full_reason = analysis_reason::deleted;
  } else if (d.paths.empty()) {
    d.full_reason = analysis_reason::changed_in_place;
  } else {
    // `+referrer`: walk the new rowids only; through IndexReferrer this would visit every old row.
    auto st = db.prepare("SELECT count(*) FROM Refs WHERE rowid > ? AND +referrer <= ?");
    st.bind(1, since.max_ref_rowid);
    st.bind(2, since.max_id);
    if (st.step() && st.column_int(0) != 0) d.full_reason = analysis_reason::reregistered;
  }
  if (!d.full_reason && with_refs) {
    // Through IndexReferrer: only the new paths' rows are visited.
    auto st = db.prepare("SELECT referrer, reference FROM Refs WHERE referrer > ?");
    st.bind(1, since.max_id);
    while (st.step()) d.refs.emplace_back(st.column_int(0), st.column_int(1));
  }
  txn.commit();
  return d;
}

}  // namespace nixmon::exporter
