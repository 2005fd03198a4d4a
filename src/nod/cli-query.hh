#pragma once
// The query CLI: `nod [flags]`, `nod regressions`, `nod clean`, `nod failures`, `nod builds`. Each
// asks the daemon on --socket and, when no daemon answers, reads the database at --db itself
// (read-only for queries), saying so on stderr. Output goes to stdout; the exit status is 0, 1
// (failure) or 2 (bad usage).
#include <memory>
#include <string>
#include <string_view>

#include "nod/options.hh"
#include "nod/query-options.hh"

namespace nixmon::nod {

int run_query_cli(const NodOptions& g, QueryCommand command, const RawQueryFlags& raw);
int run_regressions_cli(const NodOptions& g, const RawQueryFlags& raw);
int run_clean_cli(const NodOptions& g, const RawQueryFlags& raw);
int run_failures_cli(const NodOptions& g, const RawQueryFlags& raw);
int run_builds_cli(const NodOptions& g, const RawQueryFlags& raw);

// Connects to the daemon; nullopt (and a note on stderr) when nothing answers on the socket.
class QueryClient;
std::unique_ptr<QueryClient> connect_or_say(const NodOptions& g, std::string_view fallback);
// The "result" object of a daemon answer, as JSON text; throws Error with the daemon's message.
std::string result_of(std::string_view answer_line);

}  // namespace nixmon::nod
