// `nod ingest [FILE|-]`: one `--log-format internal-json` stream, for Nix < 2.30 (no
// json-log-path) and for replaying captures. When a nod daemon answers on --socket (and writes
// this database), the records go to it as one more writer connection, marked as a replay
// (query/protocol.hh): its de-duplication, `nod status` and /metrics see them, and the database
// has one writer. Otherwise the daemon's pipeline runs here and writes --db itself.
#include <fcntl.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "commands/command.hh"
#include "commands/query-cli.hh"
#include "common/error.hh"
#include "common/fd.hh"
#include "common/log.hh"
#include "daemon/options.hh"
#include "ingest/line-splitter.hh"
#include "query/protocol.hh"
#include "store/created-file.hh"
#include "store/record-writer.hh"
#include "tracking/log-session.hh"

namespace nixmon::nod {

namespace {

// What one input held, for the closing line and the "no record at all" error.
struct Tally {
  uint64_t records = 0, plain_lines = 0, malformed = 0;
};

// Reads `fd` to its end through a LineSplitter into `handler`; `before_commit` runs after each
// read (stamps, flow control).
template <typename Handler, typename BeforeCommit>
void read_lines(int fd, const IngestOptions& o, Handler& handler, BeforeCommit before_commit) {
  LineSplitter splitter(o.max_line_bytes);
  for (;;) {
    auto buf = splitter.writable();
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SysError("cannot read '{}'", o.input);
    if (n == 0) break;
    before_commit();
    splitter.commit(n, handler);
  }
  before_commit();
  splitter.finish(handler);
}

// The daemon that should take this stream, with its status connection; nullptr (and why, on
// stderr) when the database is to be written here.
std::unique_ptr<QueryClient> daemon_for(const NodOptions& g) {
  std::unique_ptr<QueryClient> client;
  try {
    client = std::make_unique<QueryClient>(g.socket);
  } catch (const SysError& e) {
    // A socket this user may not use (EACCES) is a daemon out of reach: the database is written
    // here, as when none answers. Other errors (EMFILE, ...) are errors.
    if (!no_daemon_answers(e) && !e.is(EACCES)) throw;
    fmt::print(stderr, "nod ingest: no daemon answers on {} ({}); writing the database {} itself\n",
               g.socket, std::strerror(e.error_number()), g.db);
    return nullptr;
  }
  std::string result = result_of(client->request(R"({"request":"status"})"));
  simdjson::dom::parser parser;
  simdjson::padded_string padded(result);
  simdjson::dom::element doc;
  std::string_view db;
  if (parser.parse(padded).get(doc) || doc["db"].get_string().get(db))
    throw Error(fmt::format("the daemon on {} did not say which database it writes", g.socket));
  // A daemon's relative path is relative to its own directory: not comparable, so taken as ours.
  // Without --db / NOD_DB the user means "where the records go", which is the daemon.
  if (g.db_given && std::filesystem::path(db).is_absolute()) {
    std::error_code ec;
    if (std::filesystem::weakly_canonical(std::string(db), ec) !=
        std::filesystem::weakly_canonical(g.db, ec)) {
      fmt::print(stderr, "nod ingest: the daemon on {} writes {}, not {}; writing {} itself\n",
                 g.socket, db, g.db, g.db);
      return nullptr;
    }
  }
  // A daemon with --writers would read and drop our records: say so instead.
  simdjson::dom::array writers;
  if (!doc["writer_uids"].get(writers) && writers.size() > 0) {
    bool allowed = false;
    for (auto uid : writers)
      if (uint64_t u; !uid.get_uint64().get(u) && u == ::getuid()) allowed = true;
    if (!allowed)
      throw Error(fmt::format(
          "the daemon on {} takes records only from the users of its --writers, and uid {} is "
          "not one of them: run nod ingest as one of them",
          g.socket, ::getuid()));
  }
  fmt::print(stderr, "nod ingest: sending the records to the daemon on {} (database {})\n",
             g.socket, db);
  return client;
}

// What the daemon wrote on the replay connection `fd` until it closed it: empty when it took the
// records (it never answers a writer), one {"ok":false,...} line when it refused them. `error`:
// the errno the connection ended with (the daemon closed it with records unread), or 0.
std::string read_until_closed(int fd, int& error) {
  std::string said;
  char buf[1024];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    error = n < 0 ? errno : 0;
    if (n <= 0 || said.size() > 65536) return said;
    said.append(buf, n);
  }
}

[[noreturn]] void refused(const std::string& socket, std::string_view said) {
  std::string why = "it answered with something other than an error";
  try {
    result_of(said.substr(0, said.find('\n')));
  } catch (const Error& e) {
    why = e.what();
  }
  throw Error(fmt::format("the daemon on '{}' did not take the records ({}); none were recorded",
                          socket, why));
}

// Sends the stream's records (without their prefix) to the daemon as a writer connection, and
// waits until the daemon has read them all: a daemon that refuses the replay (over its
// --max-connections) closes the connection with an error line, and that is a failure here, not
// a silent loss.
Tally ingest_through_daemon(const NodOptions& g, const IngestOptions& o, int in, bool wait,
                            QueryClient& status) {
  Fd out(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out) throw SysError("cannot create a Unix socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, g.socket.c_str(), g.socket.size() + 1);  // QueryClient checked it
  if (::connect(out.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw SysError("cannot connect to the daemon on '{}'", g.socket);

  struct Forward {
    Tally tally;
    // These records are another process's, replayed: without the replay line the daemon would
    // key them as this process's own activities (by its pid), and the same capture sent twice
    // would be counted twice.
    std::string pending = fmt::format("{}\n", replay_magic_line);
    void line(std::string_view l, size_t) {
      if (size_t prefix = record_prefix_length(l)) {
        l.remove_prefix(prefix);
        pending.append(l).push_back('\n');
        ++tally.records;
      } else {
        ++tally.plain_lines;
      }
    }
    void too_long() { ++tally.malformed; }
  } forward;

  // With --when-full wait, keep the daemon's queue at most half full: it drops (it never makes
  // Nix wait), so a replay faster than its disk would otherwise lose events.
  auto room = [&] {
    for (;;) {
      simdjson::dom::parser p;
      simdjson::padded_string padded(result_of(status.request(R"({"request":"status"})")));
      simdjson::dom::element queue;
      if (p.parse(padded)["queue"].get(queue)) return;
      uint64_t depth = 0, capacity = 0;
      if (queue["depth"].get_uint64().get(depth) || queue["capacity"].get_uint64().get(capacity) ||
          depth * 2 <= capacity)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  size_t since_check = 0;
  auto send_pending = [&] {
    std::string_view data = forward.pending;
    since_check += data.size();
    while (!data.empty()) {
      ssize_t n = ::send(out.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        int ignored = 0;
        if (std::string said = read_until_closed(out.get(), ignored); !said.empty())
          refused(g.socket, said);
        throw SysError(err, "cannot send records to the daemon on '{}'", g.socket);
      }
      data.remove_prefix(n);
    }
    forward.pending.clear();
    if (wait && since_check >= (1 << 20)) {
      since_check = 0;
      room();
    }
  };
  read_lines(in, o, forward, send_pending);
  send_pending();
  // The daemon closes its side once it has read our end: until then the records may still sit in
  // the socket's buffer, taken by nobody yet.
  if (::shutdown(out.get(), SHUT_WR) != 0)
    throw SysError("cannot finish the replay to the daemon on '{}'", g.socket);
  int error = 0;
  if (std::string said = read_until_closed(out.get(), error); !said.empty())
    refused(g.socket, said);
  if (error)
    throw SysError(error, "the daemon on '{}' closed the connection before reading every record",
                   g.socket);
  return forward.tally;
}

Tally ingest_directly(const NodOptions& g, const IngestOptions& o, int in, bool wait,
                      CreatedDatabase& created) {
  Counters counters;
  RecordWriter writer(
      {.db_path = g.db, .queue_capacity = o.queue_size, .retain_days = o.retain_days}, counters);
  {
    ActivityTracker tracker(
        [&writer, wait](Event&& e) {
          return wait ? writer.submit_wait(std::move(e)) : writer.submit(std::move(e));
        },
        counters);
    LogSession session(tracker, counters, LogSession::Input::internal_json);
    read_lines(in, o, session, [&session] { session.set_stamp(Stamp::now()); });
  }  // the session's end records what is still open as interrupted
  writer.close();
  Tally t;
  t.records = counters.records.load();
  t.plain_lines = counters.plain_lines.load();
  for (auto& m : counters.malformed) t.malformed += m.load();
  if (t.records > 0) created.keep();
  log::info(
      "ingested {} records ({} plain lines, {} malformed, {} duplicates): {} events "
      "committed, {} dropped",
      t.records, t.plain_lines, t.malformed, counters.duplicates.load(), counters.committed.load(),
      counters.dropped.load());
  if (counters.write_errors.load() && counters.committed.load() < counters.enqueued.load())
    throw Error(fmt::format("{} events could not be written to '{}'",
                            counters.enqueued.load() - counters.committed.load(), g.db));
  return t;
}

}  // namespace

int run_ingest(const NodOptions& g, const IngestOptions& o) {
  log::set_level(log::parse_level(g.log_level));
  Fd owned;
  int fd = STDIN_FILENO;
  if (o.input != "-") {
    owned.reset(::open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned) throw SysError("cannot open '{}'", o.input);
    fd = owned.get();
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SysError("cannot stat the input");
  bool wait = o.when_full == "wait" || (o.when_full == "auto" && S_ISREG(st.st_mode));

  Tally t;
  if (auto client = daemon_for(g)) {
    t = ingest_through_daemon(g, o, fd, wait, *client);
    if (t.records)
      log::info("sent {} records ({} plain lines, {} too long) to the daemon on {}", t.records,
                t.plain_lines, t.malformed, g.socket);
  } else {
    CreatedDatabase created(g.db);  // not left behind when the input held no record
    t = ingest_directly(g, o, fd, wait, created);
  }
  if (t.records == 0)
    throw Error(fmt::format(
        "no Nix log record in {} ({} other lines): records are the lines Nix writes with "
        "--log-format internal-json, starting with \"@nix \"; was that flag given, and stderr "
        "(2>&1) piped?",
        o.input == "-" ? "standard input" : "'" + o.input + "'", t.plain_lines + t.malformed));
  return 0;
}

namespace commands {

Added add_ingest_command(CLI::App& app) {
  auto o = std::make_shared<IngestOptions>();
  auto* sub = app.add_subcommand(
      "ingest",
      "Record a --log-format internal-json stream (Nix < 2.30): nix build --log-format "
      "internal-json ... 2>&1 >/dev/null | nod ingest");
  sub->add_option("input", o->input, "A file of Nix's stderr, or - for standard input")
      ->capture_default_str();
  sub->add_option("--retain-days", o->retain_days, "As for the daemon")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--queue-size", o->queue_size, "As for the daemon")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-line-bytes", o->max_line_bytes, "As for the daemon")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->capture_default_str();
  sub->add_option("--when-full", o->when_full,
                  "drop (never make Nix wait), wait (lose nothing), or auto: wait for regular "
                  "files, drop for pipes")
      ->check(CLI::IsMember({"auto", "drop", "wait"}))
      ->capture_default_str();
  return {[o](const Invocation& in) { return run_ingest(in.nod, *o); }, {}};
}

}  // namespace commands

}  // namespace nixmon::nod
