// `nod rebuild`: recomputes every aggregate nod keeps (daily, all-time, names) from the rows —
// after rows were changed by hand with sqlite3, or to check the aggregates against a recount.
// `nod upgrade`: upgrades an older schema and nothing else (the NixOS module runs it before the
// daemon, so the daemon's socket never waits for an upgrade).
#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "commands/command.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "daemon/options.hh"
#include "query/protocol.hh"
#include "store/aggregates.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

namespace {

// A daemon of an older nod that writes this database would go on inserting rows without keeping
// the tables the upgrade adds (their totals and names would silently fall behind): refuse to
// upgrade or rebuild under it. A daemon of this version may keep running: its writer waits.
void refuse_older_daemon(const NodOptions& g) {
  std::unique_ptr<QueryClient> client;
  try {
    client = std::make_unique<QueryClient>(g.socket);
  } catch (SysError& e) {
    if (no_daemon_answers(e)) return;
    e.add_context("while checking which nod daemon writes the database");
    throw;
  }
  std::string answer = client->request(R"({"request":"status"})");
  simdjson::dom::parser parser;
  simdjson::padded_string padded(answer);
  simdjson::dom::element answer_doc, doc;
  if (parser.parse(padded).get(answer_doc)) throw Error("the daemon's status answer is not JSON");
  // The counters are inside {"ok":true,"result":{...}} (query/protocol.hh).
  if (answer_doc["result"].get(doc))
    throw Error(fmt::format("the daemon on {} gave no status: {}", g.socket, answer));
  std::string_view db;
  if (!doc["db"].get_string().get(db) && std::filesystem::path(db).is_absolute()) {
    // A relative path is the daemon's, relative to its own directory: not comparable here, so
    // such a daemon counts as writing this database.
    std::error_code ec;
    if (std::filesystem::weakly_canonical(std::string(db), ec) !=
        std::filesystem::weakly_canonical(g.db, ec))
      return;  // it writes another database
  }
  int64_t version = 0;
  if (doc["schema_version"].get_int64().get(version)) version = 0;  // too old to say: older
  if (version < schema_version)
    throw Error(fmt::format(
        "the nod daemon answering on {} writes this database with schema version {}, older "
        "than this nod's {}: it would go on writing without the new tables. Stop it first "
        "(or start this nod's daemon instead: it upgrades the database when it starts)",
        g.socket, version, schema_version));
}

}  // namespace

int run_upgrade(const NodOptions& g) {
  log::set_level(log::parse_level(g.log_level));
  if (!std::filesystem::exists(g.db)) {
    fmt::print("no database at {} yet: nothing to upgrade\n", g.db);
    return 0;
  }
  refuse_older_daemon(g);
  auto start = std::chrono::steady_clock::now();
  RecordStore store(g.db);  // refuses newer or foreign databases; upgrades an older one
  if (!store.upgraded()) {
    fmt::print("{} is at schema version {}: nothing to upgrade\n", g.db, schema_version);
    return 0;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("upgraded {} from schema version {} to {}: {} rows {} in {:.1f} s\n", g.db,
             store.upgraded_from(), schema_version, store.upgraded_rows(),
             store.upgrade_recounted() ? "counted" : "kept", seconds);
  return 0;
}

int run_rebuild(const NodOptions& g) {
  log::set_level(log::parse_level(g.log_level));
  if (!std::filesystem::exists(g.db))
    throw Error(fmt::format("database '{}' does not exist: nothing to rebuild", g.db));
  refuse_older_daemon(g);
  auto start = std::chrono::steady_clock::now();
  RecordStore store(g.db);  // refuses newer or foreign databases; upgrades an older one
  int64_t rows = 0;
  if (store.upgrade_recounted()) {
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

namespace commands {

Added add_rebuild_command(CLI::App& app) {
  app.add_subcommand("rebuild",
                     "Recompute the aggregates (daily, all-time, names) from the rows of "
                     "--db; upgrades an older schema");
  return {[](const Invocation& in) { return run_rebuild(in.nod); }, {}};
}

}  // namespace commands

}  // namespace nixmon::nod
