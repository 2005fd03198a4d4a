// Removing whole UTC days, oldest first (`nod clean`, retention): each day's rows and its
// aggregates in one transaction, so `nod` run meanwhile still equals a recount of the rows.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "store/activity-kinds.hh"
#include "store/aggregates.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

namespace {

constexpr int64_t far_future_ms = 253402214400000;

// Every table with rows, and the column that dates them (as the aggregates do): every kind's.
std::vector<std::pair<std::string_view, std::string_view>> dated_tables() {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const KindTraits* k : kind_table()) out.emplace_back(k->table, k->date_column);
  return out;
}

int64_t cutoff_of(std::optional<int64_t> before_days, int64_t now_ms) {
  if (!before_days) return far_future_ms;
  return day_start_ms(utc_day_index(now_ms) - *before_days);
}

// The oldest dated row before `cutoff` (each min() reads one index entry); nullopt if none.
std::optional<int64_t> oldest_row_before(const sqlite::Database& db, int64_t cutoff) {
  std::optional<int64_t> oldest;
  for (auto [table, column] : dated_tables()) {
    auto st = db.prepare(fmt::format("SELECT min({1}) FROM {0} WHERE {1} < ?", table, column));
    st.bind(1, cutoff);
    if (st.step() && !st.is_null(0)) {
      int64_t v = st.column_int(0);
      oldest = oldest ? std::min(*oldest, v) : v;
    }
  }
  return oldest;
}

}  // namespace

int64_t clean_count(const sqlite::Database& db, std::optional<int64_t> before_days,
                    int64_t now_ms) {
  int64_t cutoff = cutoff_of(before_days, now_ms);
  int64_t n = 0;
  for (auto [table, column] : dated_tables()) {
    auto st = db.prepare(fmt::format("SELECT count(*) FROM {} WHERE {} < ?", table, column));
    st.bind(1, cutoff);
    if (st.step()) n += st.column_int(0);
  }
  return n;
}

CleanStep clean_step(sqlite::Database& db, std::optional<int64_t> before_days, int64_t now_ms,
                     int64_t max_rows) {
  int64_t cutoff = cutoff_of(before_days, now_ms);
  CleanStep step;
  while (step.removed < max_rows) {
    std::optional<int64_t> oldest = oldest_row_before(db, cutoff);
    sqlite::Transaction tx(db);
    if (!oldest) {
      // No rows left: drop aggregates of removed days that had no rows (there should be none),
      // and the names no row carries any more (once per clean: a seek per name).
      drop_aggregates_before(db, utc_day(cutoff));
      prune_names(db);
      tx.commit();
      step.done = true;
      break;
    }
    int64_t day = utc_day_index(*oldest);
    int64_t from = day_start_ms(day), to = std::min(day_start_ms(day + 1), cutoff);
    for (auto [table, column] : dated_tables()) {
      db.prepare(fmt::format("DELETE FROM {} WHERE {} < ?2 AND {} >= ?1", table, column, column))
          .bind(1, from)
          .bind(2, to)
          .run();
      step.removed += db.changes();
    }
    // Rows before 'to' do not exist any more, so "every aggregate before the next day" is exact
    // and also catches aggregate-only days.
    drop_aggregates_before(db, utc_day(to));
    tx.commit();
  }
  return step;
}

int64_t RecordStore::prune(int64_t now_ms, int retain_days) {
  // Nothing old enough (the usual hourly case): no pass over the names (a seek per name).
  if (!oldest_row_before(db_, cutoff_of(retain_days, now_ms))) return 0;
  // Day by day as `nod clean --before-days` does: one transaction per day, rows and aggregates.
  int64_t removed = 0;
  for (;;) {
    CleanStep step = clean_step(db_, retain_days, now_ms, 5000);
    removed += step.removed;
    if (step.done) return removed;
  }
}

}  // namespace nixmon::nod
