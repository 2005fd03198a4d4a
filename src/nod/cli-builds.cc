// `nod builds [--last N] [-d N|-m N|-y N] [--drv S] [--output table|csv|json]`.
#include "nod/cli-query.hh"

namespace nixmon::nod {

int run_builds_cli(const NodOptions& g, const RawQueryFlags& raw) {
  // A query like the others, command "builds": the daemon answers, or the file is read.
  return run_query_cli(g, QueryCommand::builds, raw);
}

}  // namespace nixmon::nod
