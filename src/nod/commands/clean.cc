// `nod clean [--before-days N]`: through the daemon in steps (progress on stderr for large
// databases), or directly on the database file when no daemon answers.
#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "commands/command.hh"
#include "commands/query-cli.hh"
#include "common/error.hh"
#include "query/engine.hh"
#include "query/protocol.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

namespace {

// One step removes about this many rows: short transactions, so the record writer never waits
// long for the lock, and progress moves visibly.
constexpr int64_t step_rows = 50000;
// Below this many rows a clean is instant: no progress lines.
constexpr int64_t progress_threshold = 100000;

int run_clean(const NodOptions& g, const QueryOptions& o) {
  int64_t now = g.clock->wall_ms();
  std::string scope =
      o.before_days
          ? fmt::format("events of days before {} (older than {} days)",
                        utc_day(day_start_ms(utc_day_index(now) - *o.before_days)), *o.before_days)
          : std::string("all events");

  std::function<int64_t()> count;
  std::function<CleanStep()> step;
  auto client = connect_or_say(g, "cleaning the database directly at");
  std::optional<sqlite::Database> db;
  std::string args;  // outlives the lambdas below, which hold it by reference
  if (client) {
    args = fmt::format(
        R"("now_ms":{},"max_rows":{}{})", now, step_rows,
        o.before_days ? fmt::format(R"(,"before_days":{})", *o.before_days) : std::string());
    count = [&] {
      auto r = result_of(client->request(fmt::format(R"({{"request":"clean-count",{}}})", args)));
      simdjson::dom::parser p;
      simdjson::padded_string padded(r);
      return int64_t(p.parse(padded)["rows"].get_int64().value());
    };
    step = [&] {
      auto r = result_of(client->request(fmt::format(R"({{"request":"clean-step",{}}})", args)));
      simdjson::dom::parser p;
      simdjson::padded_string padded(r);
      auto doc = p.parse(padded);
      return CleanStep{int64_t(doc["removed"].get_int64().value()),
                       bool(doc["done"].get_bool().value())};
    };
  } else {
    if (!std::filesystem::exists(g.db))
      throw Error(fmt::format("database '{}' does not exist: nothing to clean", g.db));
    open_for_reading(g.db);  // schema check first: never write into a newer or foreign database
    db.emplace(g.db, sqlite::Database::Mode::read_write);
    db->busy_timeout(5000);
    count = [&] { return clean_count(*db, o.before_days, now); };
    step = [&] { return clean_step(*db, o.before_days, now, step_rows); };
  }

  int64_t total = count();
  bool progress = total >= progress_threshold;
  bool tty = ::isatty(STDERR_FILENO);
  int64_t removed = 0;
  for (;;) {
    CleanStep s = step();
    removed += s.removed;
    if (progress && !s.done) {
      double pct =
          total > 0 ? 100.0 * static_cast<double>(removed) / static_cast<double>(total) : 100;
      // On a terminal the line redraws itself; in a log, one line per step.
      fmt::print(stderr, "{}nod clean: removed {} of {} rows ({:.0f}%){}", tty ? "\r" : "", removed,
                 total, std::min(pct, 100.0), tty ? "" : "\n");
    }
    if (s.done) break;
  }
  if (progress && tty) fmt::print(stderr, "\n");
  fmt::print("removed {} row{} ({})\n", removed, removed == 1 ? "" : "s", scope);
  return 0;
}

}  // namespace

namespace commands {

Added add_clean_command(CLI::App& app) {
  auto flags = std::make_shared<RawQueryFlags>();
  auto* sub = app.add_subcommand("clean", "Delete recorded events (all, or older ones)");
  add_text(*sub, "--before-days", flags->before_days,
           "Only events of days before the last N days (UTC)");
  auto query = [flags](const Invocation& in) {
    return make_query_options(QueryCommand::clean, merge_query_flags(*flags, in.top_query));
  };
  return {[query](const Invocation& in) { return run_clean(in.nod, query(in)); }, query};
}

}  // namespace commands

}  // namespace nixmon::nod
