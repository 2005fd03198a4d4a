#pragma once
// nod's subcommands, one file each in commands/ (`nod daemon`, `nod ingest`, `nod clean`, ...),
// listed in one table (command-table.cc) in the order `nod --help` shows them. Each file declares
// its subcommand with its own flags and says what running it does; main.cc parses the command
// line and runs the one that was given, or the summary query (`nod [flags]`, summary.cc).
//
// Exit status: run returns it (0, or 1 for a failure the command reports itself); UsageError
// (exit 2) and Error (exit 1) are mapped by main.
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daemon/options.hh"
#include "query/options.hh"

namespace nixmon::nod::commands {

// What every command is run with, besides its own flags.
struct Invocation {
  const NodOptions& nod;  // --socket, --db, --log-level
  // The query flags given to `nod` itself. CLI11 hands a flag a subcommand does not know to the
  // top level (fallthrough), so `nod failures --sort count` lands here: the query commands read
  // their own flags over these (merge_query_flags) and refuse what does not apply to them.
  const RawQueryFlags& top_query;
};

using Run = std::function<int(const Invocation&)>;

// What adding a command gives: the functions that hold its flags' values.
struct Added {
  Run run;
  // Only for the query commands (`nod` itself, clean, regressions, failures, builds): the query
  // their flags ask for, checked (UsageError), as run executes it. Tests check the flags with it.
  std::function<QueryOptions(const Invocation&)> query;
};

struct CommandEntry {
  std::string_view name;
  // Adds the subcommand and its flags to `app`.
  Added (*add)(CLI::App& app);
};

// The subcommands, in the order of `nod --help`.
std::span<const CommandEntry> command_table();

// --socket, --db, --log-level on the top-level app (subcommands fall through to them).
void add_global_flags(CLI::App& app, NodOptions& o);
// `nod [flags]`: the summary query's flags on the top-level app itself (summary.cc).
Added add_summary_flags(CLI::App& app, RawQueryFlags& flags);

// A flag's value as given, so that "-3", "0", "year" and "" reach make_query_options' messages.
// CLI11 2.7 (nixpkgs) assigns an empty value to a std::optional as "absent", where 2.1 (Debian 12)
// assigns ""; taking the text through a function keeps "given, empty" apart from "not given" in
// both.
CLI::Option* add_text(CLI::App& app, const std::string& flags, std::optional<std::string>& to,
                      const std::string& description);
// -d, -m, -y: the period flags of the summary, `nod failures` and `nod builds`.
void add_period_flags(CLI::App& app, RawQueryFlags& flags);
// A query subcommand's own flags over the top level's (see Invocation::top_query).
RawQueryFlags merge_query_flags(const RawQueryFlags& own, const RawQueryFlags& top);

}  // namespace nixmon::nod::commands
