// nod: Nix build and substitution statistics. A thin shell over the nod library.
#include <CLI/CLI.hpp>

#include "common/error.hh"
#include "common/log.hh"
#include "common/top-level.hh"
#include "common/version.hh"
#include "nod/cli-query.hh"
#include "nod/options.hh"
#include "nod/query-options.hh"

using namespace nixmon;
using namespace nixmon::nod;

int main(int argc, char** argv) {
  CLI::App app{"nod: Nix build and substitution statistics", "nod"};
  NodOptions global;
  DaemonOptions daemon;
  IngestOptions ingest;
  add_global_flags(app, global);
  auto* daemon_cmd = add_daemon_command(app, daemon);
  auto* ingest_cmd = add_ingest_command(app, ingest);
  auto* status_cmd = add_status_command(app);
  auto* rebuild_cmd = add_rebuild_command(app);
  auto* upgrade_cmd = add_upgrade_command(app);
  RawQueryFlags query;  // `nod [query flags]`, `nod clean`, `nod regressions` (cli-query.hh)
  auto query_cmds = add_query_flags(app, query);
  app.set_version_flag("--version", std::string(version));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (help and --version go to stdout with code 0), but its codes for
    // usage errors (105 for extra arguments, 109 for a bad value, ...) are its own: every usage
    // error of every subcommand exits 2, as documented and as UsageError below.
    return app.exit(e) == 0 ? 0 : 2;
  }
  global.db_given = app.get_option("--db")->count() > 0;  // counts NOD_DB too
  return run_top_level("nod", [&] {
    global.clock = clock_from_environment("NOD_NOW_MS");
    if (*daemon_cmd) return run_daemon(global, daemon);
    if (*ingest_cmd) return run_ingest(global, ingest);
    if (*status_cmd) return run_status(global);
    if (*rebuild_cmd) return run_rebuild(global);
    if (*upgrade_cmd) return run_upgrade(global);
    if (*query_cmds.clean) return run_clean_cli(global, query);
    if (*query_cmds.regressions) return run_regressions_cli(global, query);
    if (*query_cmds.failures) return run_failures_cli(global, query);
    if (*query_cmds.builds) return run_builds_cli(global, query);
    return run_query_cli(global, QueryCommand::summary, query);
  });
}
