// `nod`, `nod -d N`, `nod --drv S`, `nod --group --sort K`, `nod --bucket B`, `nod --output F`:
// the summary query, whose flags are the top-level app's own.
#include "commands/command.hh"
#include "commands/query-cli.hh"

namespace nixmon::nod::commands {

Added add_summary_flags(CLI::App& app, RawQueryFlags& flags) {
  add_period_flags(app, flags);
  add_text(app, "--drv", flags.drv, "Only derivations whose name contains SUBSTRING");
  add_text(app, "--sort", flags.sort, "With --group: sort by " + sort_key_choices());
  app.add_flag("--group", flags.group, "One row per derivation name (builds)");
  add_text(app, "--bucket", flags.bucket, "Time series by " + bucket_choices());
  add_text(app, "--output", flags.output,
           "table (default), csv, json, or test (Mann-Whitney vs the prior period)");
  add_text(app, "--limit", flags.limit, "At most N rows in grouped tables and regressions");
  return {
      [](const Invocation& in) {
        return run_query_cli(in.nod, make_query_options(QueryCommand::summary, in.top_query));
      },
      [](const Invocation& in) { return make_query_options(QueryCommand::summary, in.top_query); }};
}

}  // namespace nixmon::nod::commands
