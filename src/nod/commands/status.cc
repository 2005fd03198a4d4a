// `nod status`: the daemon's counters through the query protocol (docs/nod-protocol.md).
#include <fmt/format.h>

#include <cstdio>

#include "commands/command.hh"
#include "query/protocol.hh"

namespace nixmon::nod {

namespace {

int run_status(const NodOptions& g) {
  QueryClient client(g.socket);
  std::string answer = client.request(R"({"request":"status"})");
  fmt::print("{}\n", answer);
  return answer.starts_with(R"({"ok":true)") ? 0 : 1;
}

}  // namespace

namespace commands {

Added add_status_command(CLI::App& app) {
  app.add_subcommand("status",
                     "Ask the daemon for its counters (records, drops, queue depth) as JSON");
  return {[](const Invocation& in) { return run_status(in.nod); }, {}};
}

}  // namespace commands

}  // namespace nixmon::nod
