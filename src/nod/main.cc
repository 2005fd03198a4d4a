// nod: Nix build and substitution statistics. A thin shell over the nod library: the subcommands
// are in commands/, one file each, listed in command_table().
#include <CLI/CLI.hpp>
#include <vector>

#include "commands/command.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "common/top-level.hh"
#include "common/version.hh"

using namespace nixmon;
using namespace nixmon::nod;

int main(int argc, char** argv) {
  CLI::App app{"nod: Nix build and substitution statistics", "nod"};
  NodOptions global;
  commands::add_global_flags(app, global);
  RawQueryFlags top_query;  // `nod [query flags]`; also what subcommands' flags fall through to
  commands::Run summary = commands::add_summary_flags(app, top_query).run;
  std::vector<std::pair<std::string_view, commands::Run>> subcommands;
  for (const auto& c : commands::command_table()) subcommands.emplace_back(c.name, c.add(app).run);
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
  commands::Invocation invocation{global, top_query};
  return run_top_level("nod", [&] {
    global.clock = clock_from_environment("NOD_NOW_MS");
    for (const auto& [name, run] : subcommands)
      if (app.got_subcommand(std::string(name))) return run(invocation);
    return summary(invocation);
  });
}
