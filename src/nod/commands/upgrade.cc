// `nod upgrade`: no flags of its own; what it does is run_upgrade (rebuild.cc, beside
// `nod rebuild`, with which it shares the check for an older daemon).
#include "commands/command.hh"

namespace nixmon::nod::commands {

Added add_upgrade_command(CLI::App& app) {
  app.add_subcommand("upgrade",
                     "Upgrade --db from an older schema (no-op when current or absent); "
                     "the daemon also does it when it starts");
  return {[](const Invocation& in) { return run_upgrade(in.nod); }, {}};
}

}  // namespace nixmon::nod::commands
