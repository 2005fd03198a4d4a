#pragma once
// The records of one writer (a socket connection, or one `nod ingest` input): strips the
// optional "@nix " prefix (record_prefix_length), parses, counts what is malformed, and hands
// records to the tracker.
//
// Not thread-safe: one session per connection (the tracker behind it is shared and locked).
#include <string_view>

#include "ingest/counters.hh"
#include "ingest/log-record.hh"
#include "tracking/activity-tracker.hh"

namespace nixmon::nod {

// The length of the prefix that marks `line` as a record of Nix's internal-json stderr, 0 when it
// has none: "@nix ", or "<N>@nix " with N a syslog priority digit. The latter is what Lix (every
// version) and Nix before 2.28 write when IN_SYSTEMD=1 (as under a systemd unit): their JSON
// logger writes "@nix ..." as an error-level message through the plain logger, which then puts
// the priority "<3>" in front (Lix lix/libutil/logging.cc, 2.93 to 2.95: JSONLogger::write logs
// at lvlError through the previous logger, SimpleLogger::log prefixes "<c>" when IN_SYSTEMD=1,
// lvlError giving '3'; real Nix 2.8 does the same, tests/e2e/test_nod_pipeline.py). Nix 2.28 and
// later write the JSON logger's lines to the file descriptor directly (src/libutil/logging.cc).
size_t record_prefix_length(std::string_view line);

class LogSession {
 public:
  enum class Input {
    json_log_path,  // a socket: every line is a record, a record prefix accepted too
    internal_json,  // stderr of --log-format internal-json: only prefixed lines are records
  };

  // `writer`: the peer credentials of a socket connection (SO_PEERCRED pid and uid); empty for
  // `nod ingest`.
  LogSession(ActivityTracker& tracker, Counters& counters, Input input, WriterIdentity writer = {});
  // Takes over `opened`, a connection already opened on `tracker` (the socket server opens it
  // when it accepts the connection, socket-server.cc).
  LogSession(ActivityTracker& tracker, Counters& counters, Input input, ConnectionId opened);
  // Activities only this session held become interrupted.
  ~LogSession();
  LogSession(const LogSession&) = delete;
  LogSession& operator=(const LogSession&) = delete;

  // Stamp of the bytes about to be handed in (they arrived together, in one read).
  void set_stamp(Stamp s) { stamp_ = s; }
  // LineSplitter's handler interface.
  void line(std::string_view line, size_t capacity);
  void too_long();

 private:
  ActivityTracker& tracker_;
  Counters& counters_;
  Input input_;
  ConnectionId conn_;
  LogRecordParser parser_;
  Stamp stamp_;
};

}  // namespace nixmon::nod
