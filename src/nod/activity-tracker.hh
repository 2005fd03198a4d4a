#pragma once
// Turns the records of many connections into completed activities.
//
// Activities are tracked by Nix's id across all connections, because a `nix` client re-sends the
// daemon worker's activities with the same ids: the first connection to start an id owns it, and
// results, stops and messages for it from other connections are counted as duplicates, not applied
// twice. An activity is interrupted only when the last connection that started it closes.
//
// Thread-safety: every public method may be called from any thread (one internal mutex). The sink
// is called with that mutex held and must not block for long (the daemon's sink never blocks).
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nod/counters.hh"
#include "nod/events.hh"
#include "nod/log-record.hh"

namespace nixmon::nod {

// Where completed activities go. Returns false if the event was dropped (queue full).
using EventSink = std::function<bool(Event&&)>;

using ConnectionId = uint64_t;

// Nix's activity types (logging.hh).
enum ActivityType : int64_t {
  act_unknown = 0,
  act_copy_path = 100,
  act_file_transfer = 101,
  act_realise = 102,
  act_copy_paths = 103,
  act_builds = 104,
  act_build = 105,
  act_optimise_store = 106,
  act_verify_paths = 107,
  act_substitute = 108,
  act_query_path_info = 109,
  act_post_build_hook = 110,
  act_build_waiting = 111,
  act_fetch_tree = 112,
  act_fetch_to_store = 113,
};

// Nix's result types (logging.hh); 109 and 110 differ between upstream and Determinate Nix.
enum ResultType : int64_t {
  res_file_linked = 100,
  res_build_log_line = 101,
  res_untrusted_path = 102,
  res_corrupted_path = 103,
  res_set_phase = 104,
  res_progress = 105,
  res_set_expected = 106,
  res_post_build_log_line = 107,
  res_fetch_status = 108,
  res_last_known = 110,
};

class ActivityTracker {
 public:
  ActivityTracker(EventSink sink, Counters& counters);
  ~ActivityTracker();

  ConnectionId open_connection();
  // Activities this connection started and no other connection holds become interrupted.
  void close_connection(ConnectionId conn, Stamp now);

  // One well-formed record. `raw` is the record's line, kept for records nod does not understand.
  void handle(ConnectionId conn, const LogRecord& rec, Stamp at, std::string_view raw);

  size_t in_flight() const;

 private:
  struct Activity;
  struct PendingQuery;
  struct Connection {
    std::unordered_set<uint64_t> holds;  // activity ids this connection started
  };

  void start(ConnectionId conn, const LogRecord& rec, Stamp at);
  void stop(ConnectionId conn, uint64_t id, Stamp at);
  void result(ConnectionId conn, const LogRecord& rec, Stamp at, std::string_view raw);
  void message(ConnectionId conn, const LogRecord& rec, Stamp at);
  void finish(Activity& a, Stamp at, Outcome outcome);
  void emit(Event&& e);
  void remember_finished(uint64_t id);
  void resolve_queries(const std::string& store_path, const std::string& substituter, Stamp at);
  void emit_query(PendingQuery&& q, std::optional<bool> hit);
  void mark_build_failed(const std::string& drv, std::optional<int64_t> exit_code, Stamp at,
                         ConnectionId conn);
  bool failure_seen(const std::string& key, Stamp at);
  void remember_substitution(const std::string& store_path, const std::string& substituter,
                             Stamp at);

  EventSink sink_;
  Counters& counters_;
  mutable std::mutex mu_;
  ConnectionId next_conn_ = 1;
  std::unordered_map<ConnectionId, Connection> conns_;
  std::unordered_map<uint64_t, Activity> active_;
  std::unordered_multimap<std::string, uint64_t> builds_by_drv_;  // running builds
  // Ids finished recently: a second connection's late copy of the same activity is a duplicate,
  // not a new activity. Bounded FIFO.
  std::unordered_set<uint64_t> finished_;
  std::deque<uint64_t> finished_order_;
  // Builds recorded recently, for failure messages that come after the stop. Bounded FIFO.
  struct RecentBuild {
    uint64_t id = 0;
    int64_t end_ms = 0;
    bool success = false;
  };
  std::unordered_map<std::string, RecentBuild> recent_builds_;  // by drv path
  std::deque<std::string> recent_builds_order_;
  // Failure messages seen recently (the client and the daemon both send them).
  std::unordered_map<std::string, int64_t> failures_seen_;
  std::deque<std::pair<std::string, int64_t>> failures_seen_order_;
  // Cache queries waiting to learn whether they were hits (by store path).
  std::unordered_multimap<std::string, PendingQuery> pending_queries_;
  std::deque<std::pair<std::string, uint64_t>> pending_order_;
  // Substitutions started recently (store path -> substituter, start): a query that finishes only
  // after its substitution started (its owner's stream lagging behind a copy's) resolves here.
  struct RecentSubstitution {
    std::string substituter;
    int64_t start_ms = 0;
  };
  std::unordered_map<std::string, RecentSubstitution> recent_substitutions_;
  std::deque<std::pair<std::string, int64_t>> recent_substitutions_order_;
};

// The failure a level-0 message reports, if it is one (patterns of Nix <= 2.28 and >= 2.29).
struct FailureMatch {
  std::string kind;  // builder, dependency, remote, hash-mismatch
  std::string drv_path;
  std::string machine;
  std::optional<int64_t> exit_code;
};
std::optional<FailureMatch> match_failure(std::string_view message_without_ansi);

}  // namespace nixmon::nod
