// `nod`, `nod -d N`, `nod --drv S`, `nod --group --sort K`, `nod --bucket B`, `nod --output F`.
#include "commands/query-cli.hh"

#include <fmt/format.h>
#include <langinfo.h>
#include <simdjson.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/error.hh"
#include "common/json-writer.hh"
#include "format/report-wire.hh"
#include "query/engine.hh"
#include "query/protocol.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

std::unique_ptr<QueryClient> connect_or_say(const NodOptions& g, std::string_view fallback) {
  try {
    return std::make_unique<QueryClient>(g.socket);
  } catch (const SysError& e) {
    // A socket this user may not use (EACCES) is a daemon out of reach: the database itself is
    // what such a user can read, as when none answers. Other errors (EMFILE, ...) are errors.
    if (!no_daemon_answers(e) && !e.is(EACCES)) throw;
    fmt::print(stderr, "nod: no daemon answers on {} ({}); {} {}\n", g.socket,
               std::strerror(e.error_number()), fallback, g.db);
    return nullptr;
  }
}

namespace {

// The "result" of an answer line, parsed by `parser`; throws Error with the daemon's message.
simdjson::dom::element result_element(simdjson::dom::parser& parser, std::string_view answer) {
  simdjson::dom::element doc;
  if (parser.parse(answer.data(), answer.size()).get(doc))
    throw Error("the daemon's answer is not JSON");
  bool ok = false;
  if (doc["ok"].get_bool().get(ok)) throw Error("the daemon's answer has no \"ok\"");
  if (!ok) {
    std::string_view msg = "unknown error";
    if (doc["error"].get_string().get(msg)) msg = "an error without a message";
    throw Error(fmt::format("the daemon says: {}", msg));
  }
  simdjson::dom::element result;
  if (doc["result"].get(result)) throw Error("the daemon's answer has no \"result\"");
  return result;
}

}  // namespace

std::string result_of(std::string_view answer) {
  simdjson::dom::parser parser;
  return simdjson::to_string(result_element(parser, answer));
}

namespace {

// The report of a "query" answer (format/report-wire.hh).
format::Report report_of(std::string_view answer) {
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  if (result_element(parser, answer)["report"].get(report))
    throw Error("the daemon's answer has no \"report\"");
  return format::read_report(report);
}

// Opens the database for a query without a daemon, with a clear word when it is missing.
sqlite::Database open_direct(const NodOptions& g) {
  if (!std::filesystem::exists(g.db))
    throw Error(
        fmt::format("database '{}' does not exist (start `nod daemon`, or give --db / "
                    "NOD_DB)",
                    g.db));
  try {
    return open_for_reading(g.db);
  } catch (const sqlite::SqliteError& e) {
    // A WAL database is read through its -shm file, which a reader creates when it is absent (no
    // nod has it open): a user who may read the database but not write its directory cannot.
    // With no -shm there is no writer either, so the file may be read as it is, without locks.
    if (std::filesystem::exists(g.db + "-shm")) throw;
    std::error_code ec;
    if (std::filesystem::file_size(g.db + "-wal", ec) > 0 && !ec)
      fmt::print(stderr,
                 "nod: {}-wal holds commits of a nod that did not shut down cleanly; they are "
                 "not read until a nod daemon opens the database again\n",
                 g.db);
    return open_for_reading(g.db, sqlite::Database::Mode::immutable);
  }
}

// Which glyphs the user's terminal shows: Unicode when the locale's character set is UTF-8 (the C
// library resolves LC_ALL, LC_CTYPE and LANG), ASCII otherwise and under NO_COLOR (asked for plain
// output). Whether stdout is a terminal does not matter: the tables are UTF-8 text either way
// (names, headings), and a pipe into `less` or a file shows what the terminal would.
format::Glyphs glyphs_of_environment() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return format::Glyphs::ascii;
  if (!std::setlocale(LC_CTYPE, "")) return format::Glyphs::ascii;  // unknown locale: C
  std::string_view codeset = ::nl_langinfo(CODESET);
  bool utf8 = codeset == "UTF-8" || codeset == "utf8";
  std::setlocale(LC_CTYPE, "C");  // nothing else may depend on the user's locale
  return utf8 ? format::Glyphs::unicode : format::Glyphs::ascii;
}

// The terminal's columns, 0 when stdout is not a terminal (pictures then keep their full size).
std::size_t terminal_width() {
  struct winsize ws {};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) return ws.ws_col;
  return 0;
}

// How this user's terminal shows tables; the daemon never knows.
format::RenderOptions render_options_of_environment(OutputFormat output) {
  format::RenderOptions how;
  // Colour only for people at a terminal, and never when NO_COLOR is set (no-color.org).
  const char* no_colour = std::getenv("NO_COLOR");
  how.colour = (output == OutputFormat::table || output == OutputFormat::test) &&
               ::isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
  // Pictures (bars, spreads) in tables for people only; CSV, JSON and the test's tables have none.
  if (output == OutputFormat::table) {
    how.pictures = glyphs_of_environment();
    how.width = terminal_width();
  }
  return how;
}

}  // namespace

int run_query_cli(const NodOptions& g, const QueryOptions& o) {
  int64_t now = g.clock->wall_ms();

  format::Report report;
  if (auto client = connect_or_say(g, "reading the database read-only at")) {
    // {"request":"query","now_ms":N,"command":...}: the options through the JSON writer.
    JsonWriter request;
    request.begin_object().field("request", "query").field("now_ms", now);
    write_query_options(request, o);
    request.end_object();
    report = report_of(client->request(request.str()));
  } else {
    auto db = open_direct(g);
    report = run_query(db, o, now);
  }
  std::string output = render(report, o.output, render_options_of_environment(o.output));
  std::fwrite(output.data(), 1, output.size(), stdout);
  return 0;
}

}  // namespace nixmon::nod
