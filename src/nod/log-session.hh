#pragma once
// The records of one writer (a socket connection, or one `nod ingest` input): strips the
// optional "@nix " prefix, parses, counts what is malformed, and hands records to the tracker.
//
// Not thread-safe: one session per connection (the tracker behind it is shared and locked).
#include <string_view>

#include "nod/activity-tracker.hh"
#include "nod/counters.hh"
#include "nod/log-record.hh"

namespace nixmon::nod {

class LogSession {
 public:
  enum class Input {
    json_log_path,  // a socket: every line is a record, "@nix " accepted too
    internal_json,  // stderr of --log-format internal-json: only "@nix " lines are records
  };

  // `writer`: the peer credentials of a socket connection (SO_PEERCRED pid and uid); empty for
  // `nod ingest`.
  LogSession(ActivityTracker& tracker, Counters& counters, Input input, WriterIdentity writer = {});
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
