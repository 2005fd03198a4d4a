// `nod regressions [--recent N] [--history N] [--min-history N] [--alpha P] [--min-effect E]`.
#include "nod/cli-query.hh"

namespace nixmon::nod {

int run_regressions_cli(const NodOptions& g, const RawQueryFlags& raw) {
  // The same request as a summary, with command "regressions": the daemon runs the test.
  return run_query_cli(g, QueryCommand::regressions, raw);
}

}  // namespace nixmon::nod
