// `nod rebuild`: recomputes every aggregate nod keeps (daily, all-time, names) from the rows —
// after rows were changed by hand with sqlite3, or to check the aggregates against a recount.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/error.hh"
#include "common/log.hh"
#include "nod/aggregates.hh"
#include "nod/options.hh"
#include "nod/record-store.hh"

namespace nixmon::nod {

int run_rebuild(const NodOptions& g) {
  log::set_level(log::parse_level(g.log_level));
  if (!std::filesystem::exists(g.db))
    throw Error(fmt::format("database '{}' does not exist: nothing to rebuild", g.db));
  auto start = std::chrono::steady_clock::now();
  RecordStore store(g.db);  // refuses newer or foreign databases; upgrades an older one
  int64_t rows = 0;
  if (store.upgraded()) {
    rows = store.upgraded_rows();  // the upgrade just rebuilt everything
  } else {
    // One transaction: the writer of a running daemon waits (it retries while the database is
    // busy), and queries see either the old aggregates or the new ones.
    bool tty = ::isatty(STDERR_FILENO);
    sqlite::Transaction tx(store.db());
    rows = rebuild_aggregates(store.db(), [tty](int64_t n) {
      fmt::print(stderr, "{}nod rebuild: {} rows counted{}", tty ? "\r" : "", n, tty ? "" : "\n");
    });
    tx.commit();
    if (tty) fmt::print(stderr, "\n");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto days = store.db().query_int("SELECT count(DISTINCT day) FROM daily_stats").value_or(0);
  auto names = store.db().query_int("SELECT count(*) FROM names").value_or(0);
  fmt::print("rebuilt the aggregates of {} row{} in {:.1f} s: {} day{}, {} name{}\n", rows,
             rows == 1 ? "" : "s", seconds, days, days == 1 ? "" : "s", names,
             names == 1 ? "" : "s");
  return 0;
}

}  // namespace nixmon::nod
