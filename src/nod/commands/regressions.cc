// `nod regressions [--recent N] [--history N] [--min-history N] [--alpha P] [--min-effect E]`.
#include "commands/command.hh"
#include "commands/query-cli.hh"

namespace nixmon::nod::commands {

Added add_regressions_command(CLI::App& app) {
  auto flags = std::make_shared<RawQueryFlags>();
  auto* r = app.add_subcommand(
      "regressions", "Derivations whose recent builds are significantly slower than their history");
  add_text(*r, "--recent", flags->recent, "Newest N successful builds form the recent sample (5)");
  add_text(*r, "--history", flags->history, "At most N earlier builds form the history (50)");
  add_text(*r, "--min-history", flags->min_history,
           "Skip derivations with fewer earlier builds (5)");
  add_text(*r, "--alpha", flags->alpha, "Significance level: p must be below it (0.05)");
  add_text(*r, "--min-effect", flags->min_effect, "Minimum rank-biserial effect size, 0..1 (0.5)");
  // The common flags are accepted after the subcommand too: `nod regressions --output json`.
  add_text(*r, "--output", flags->output, "table (default), csv or json");
  add_text(*r, "--drv", flags->drv, "Only derivations whose name contains SUBSTRING");
  add_text(*r, "--limit", flags->limit, "At most N regressions");
  auto query = [flags](const Invocation& in) {
    return make_query_options(QueryCommand::regressions, merge_query_flags(*flags, in.top_query));
  };
  // The same request as a summary, with command "regressions": the daemon runs the test.
  return {[query](const Invocation& in) { return run_query_cli(in.nod, query(in)); }, query};
}

}  // namespace nixmon::nod::commands
