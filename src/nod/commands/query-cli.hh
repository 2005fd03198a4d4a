#pragma once
// What the query commands share (`nod [flags]`, `nod regressions`, `nod clean`, `nod failures`,
// `nod builds`, commands/). Each asks the daemon on --socket and, when no daemon answers, reads the
// database at --db itself (read-only for queries), saying so on stderr. Output goes to stdout; the
// exit status is 0, 1 (failure) or 2 (bad usage).
#include <memory>
#include <string>
#include <string_view>

#include "daemon/options.hh"
#include "query/options.hh"

namespace nixmon::nod {

// Runs one query (summary, regressions, failures, builds): the daemon's report, or the database's
// when no daemon answers, rendered for this terminal.
int run_query_cli(const NodOptions& g, const QueryOptions& o);

// Connects to the daemon; nullopt (and a note on stderr) when nothing answers on the socket.
class QueryClient;
std::unique_ptr<QueryClient> connect_or_say(const NodOptions& g, std::string_view fallback);
// The "result" object of a daemon answer, as JSON text; throws Error with the daemon's message.
std::string result_of(std::string_view answer_line);

}  // namespace nixmon::nod
