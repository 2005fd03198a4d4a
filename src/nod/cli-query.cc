// `nod`, `nod -d N`, `nod --drv S`, `nod --group --sort K`, `nod --bucket B`, `nod --output F`.
#include "nod/cli-query.hh"

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
#include "nod/query-engine.hh"
#include "nod/query-protocol.hh"
#include "nod/record-store.hh"

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

std::string result_of(std::string_view answer) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(answer);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) throw Error("the daemon's answer is not JSON");
  bool ok = false;
  if (doc["ok"].get_bool().get(ok)) throw Error("the daemon's answer has no \"ok\"");
  if (!ok) {
    std::string_view msg = "unknown error";
    if (doc["error"].get_string().get(msg)) msg = "an error without a message";
    throw Error(fmt::format("the daemon says: {}", msg));
  }
  simdjson::dom::element result;
  if (doc["result"].get(result)) throw Error("the daemon's answer has no \"result\"");
  return simdjson::to_string(result);
}

namespace {

std::string string_of(const std::string& result_json, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(result_json);
  std::string_view v;
  if (parser.parse(padded)[key].get_string().get(v))
    throw Error(fmt::format("the daemon's answer has no \"{}\"", key));
  return std::string(v);
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

}  // namespace

int run_query_cli(const NodOptions& g, QueryCommand command, const RawQueryFlags& raw) {
  QueryOptions o = make_query_options(command, raw);
  // Colour only for people at a terminal, and never when NO_COLOR is set (no-color.org).
  const char* no_colour = std::getenv("NO_COLOR");
  o.colour = (o.output == OutputFormat::table || o.output == OutputFormat::test) &&
             ::isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
  // Pictures (bars, spreads) in tables for people only; CSV, JSON and the test's tables have none.
  if (o.output == OutputFormat::table) {
    o.pictures = glyphs_of_environment();
    o.width = terminal_width();
  }
  int64_t now = g.clock->wall_ms();

  std::string output;
  if (auto client = connect_or_say(g, "reading the database read-only at")) {
    std::string request = to_json(o);
    // {"command":...} -> {"request":"query","now_ms":N,"command":...}
    request = fmt::format(R"({{"request":"query","now_ms":{},{})", now, request.substr(1));
    output = string_of(result_of(client->request(request)), "output");
  } else {
    auto db = open_direct(g);
    output = render(run_query(db, o, now), o);
  }
  std::fwrite(output.data(), 1, output.size(), stdout);
  return 0;
}

}  // namespace nixmon::nod
