// `nod ingest [FILE|-]`: the daemon's pipeline for one `--log-format internal-json` stream, for
// Nix < 2.30 (no json-log-path) and for replaying captures.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.hh"
#include "common/fd.hh"
#include "common/log.hh"
#include "nod/line-splitter.hh"
#include "nod/log-session.hh"
#include "nod/options.hh"
#include "nod/record-writer.hh"

namespace nixmon::nod {

int run_ingest(const NodOptions& g, const IngestOptions& o) {
  log::set_level(log::parse_level(g.log_level));
  Fd owned;
  int fd = STDIN_FILENO;
  if (o.input != "-") {
    owned.reset(::open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned) throw SysError(fmt::format("cannot open '{}'", o.input));
    fd = owned.get();
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SysError("cannot stat the input");
  bool wait = o.when_full == "wait" || (o.when_full == "auto" && S_ISREG(st.st_mode));

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
    LineSplitter splitter(o.max_line_bytes);
    for (;;) {
      auto buf = splitter.writable();
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw SysError(fmt::format("cannot read '{}'", o.input));
      if (n == 0) break;
      session.set_stamp(Stamp::now());
      splitter.commit(n, session);
    }
    session.set_stamp(Stamp::now());
    splitter.finish(session);
  }  // the session's end records what is still open as interrupted
  writer.close();
  uint64_t malformed = 0;
  for (auto& m : counters.malformed) malformed += m.load();
  log::info(
      "ingested {} records ({} plain lines, {} malformed, {} duplicates): {} events "
      "committed, {} dropped",
      counters.records.load(), counters.plain_lines.load(), malformed, counters.duplicates.load(),
      counters.committed.load(), counters.dropped.load());
  return counters.write_errors.load() && counters.committed.load() < counters.enqueued.load() ? 1
                                                                                              : 0;
}

}  // namespace nixmon::nod
