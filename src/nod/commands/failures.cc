// `nod failures [--last N] [-d N|-m N|-y N] [--drv S] [--output table|csv|json]`.
#include "commands/command.hh"
#include "commands/query-cli.hh"

namespace nixmon::nod::commands {

Added add_failures_command(CLI::App& app) {
  auto flags = std::make_shared<RawQueryFlags>();
  auto* sub = app.add_subcommand(
      "failures",
      "Recent failures, newest first: time, kind, exit code, machine, derivation, message");
  // The recent-rows views: what nix-output-monitor shows while Nix runs, from the database.
  add_text(*sub, "--last", flags->last, "The newest N failures (20)");
  add_period_flags(*sub, *flags);
  add_text(*sub, "--drv", flags->drv, "Only derivations whose name contains SUBSTRING");
  add_text(*sub, "--output", flags->output, "table (default), csv or json");
  auto query = [flags](const Invocation& in) {
    return make_query_options(QueryCommand::failures, merge_query_flags(*flags, in.top_query));
  };
  // A query like the others, command "failures": the daemon answers, or the file is read.
  return {[query](const Invocation& in) { return run_query_cli(in.nod, query(in)); }, query};
}

}  // namespace nixmon::nod::commands
