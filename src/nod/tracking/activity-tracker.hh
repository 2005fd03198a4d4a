#pragma once
// Turns the records of many connections into completed activities.
//
// Activities are tracked by Nix's id within the id space of the process that made it (see
// open_connection), because a `nix` client re-sends the daemon worker's activities with the same
// ids: the first connection to start an id owns it, and results, stops and messages for it from
// other connections are counted as duplicates, not applied twice. An activity is interrupted only
// when the last connection that started it closes. How an activity ended is read from Nix's
// messages, counters and payloads through outcome-inference.hh.
//
// Thread-safety: every public method may be called from any thread (one internal mutex). The sink
// is called with that mutex held and must not block for long (the daemon's sink never blocks).
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ingest/counters.hh"
#include "ingest/log-record.hh"
#include "tracking/bounded-map.hh"
#include "tracking/events.hh"
#include "tracking/outcome-inference.hh"

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
  res_fetch_to_store = 109,  // upstream master, on fetchToStore (113): [storePath]
  res_hash_mismatch = 109,   // Determinate Nix, with a payload
  res_build_result = 110,    // Determinate Nix, with a payload
  res_last_known = 110,
};

// Who writes a connection's records, from the socket's peer credentials (SO_PEERCRED). Unknown
// for `nod ingest` and tests: such writers share one id space, as before.
struct WriterIdentity {
  std::optional<int64_t> pid;
  std::optional<int64_t> uid;
};

class ActivityTracker {
 public:
  // `clock` stamps what the connections around the tracker receive (Stamp::now(clock())).
  ActivityTracker(EventSink sink, Counters& counters, const Clock& clock = system_clock());
  ~ActivityTracker();

  const Clock& clock() const { return clock_; }

  // `writer` scopes the connection's activity ids: Nix makes ids as counter + (pid << 32) per
  // process, so an id is only unique within one writer process. Ids whose high half is another
  // live writer's pid are that writer's activities re-sent (a `nix` client relaying its daemon
  // worker) and are counted once with it.
  ConnectionId open_connection(WriterIdentity writer = {});
  // Activities this connection started and no other connection holds become interrupted; builds
  // whose outcome was still undecided are settled (docs/nod-schema.md, "Outcomes").
  void close_connection(ConnectionId conn, Stamp now);

  // One well-formed record. `raw` is the record's line, kept for records nod does not understand.
  void handle(ConnectionId conn, const LogRecord& rec, Stamp at, std::string_view raw);

  size_t in_flight() const;

  // Entries in the tracker's memory of recent things now: each must stay bounded by count and,
  // where an entry is only read for a while, by age (tests check both).
  struct Sizes {
    size_t active = 0;
    size_t finished = 0;
    size_t recent_builds = 0;
    size_t failures_seen = 0;
    size_t pending_queries = 0;
    size_t recent_substitutions = 0;
    size_t deferred = 0;  // over all connections
    size_t held = 0;      // over all connections
  };
  Sizes sizes() const;

 private:
  struct Activity;
  struct Connection;
  struct PendingQuery;
  struct RecentBuild;
  struct ActKey {
    uint64_t scope = 0;
    uint64_t id = 0;
    bool operator==(const ActKey&) const = default;
  };
  struct ActKeyHash {
    size_t operator()(const ActKey& k) const {
      return std::hash<uint64_t>()(k.id) ^ (std::hash<uint64_t>()(k.scope) * 0x9e3779b97f4a7c15ull);
    }
  };

  ActKey key_of(ConnectionId conn, uint64_t id);
  void start(ConnectionId conn, const LogRecord& rec, Stamp at);
  void stop(ConnectionId conn, const LogRecord& rec, Stamp at);
  void result(ConnectionId conn, const LogRecord& rec, Stamp at, std::string_view raw);
  bool payload_result(ConnectionId conn, const LogRecord& rec, Stamp at);
  void progress(ConnectionId conn, Activity& counter, const LogRecord& rec, Stamp at);
  void message(ConnectionId conn, const LogRecord& rec, Stamp at);
  void apply_failure(ConnectionId conn, const NixMessage& m, bool trusted, const std::string& text,
                     Stamp at);
  void finish(Activity& a, Stamp at, Outcome outcome);
  void emit_build(BuildRow&& row, const ActKey& key, bool by_nix);
  void settle_deferred(Connection& c, std::optional<Outcome> forced, Stamp at, bool all);
  bool transfer_message(ConnectionId conn, const LogRecord& rec, const std::string& text,
                        bool trusted);
  void confirm_transfer_failures(Connection& c, int64_t count);
  void release_held(Connection& c, Stamp at, bool all);
  void expire(Stamp at);
  void forget_closed_writers(Stamp at);
  void emit(Event&& e);
  void emit_query(PendingQuery&& q, std::optional<bool> hit);
  void resolve_queries(const std::string& store_path, const std::string& substituter);
  void queries_missed_by_build(const std::string& drv_path);

  EventSink sink_;
  Counters& counters_;
  const Clock& clock_;
  mutable std::mutex mu_;
  ConnectionId next_conn_ = 1;
  uint64_t next_scope_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> conns_;
  // Writers' scopes by pid: live ones, and for a grace period the ones that hung up, because a
  // client may still relay its nix-daemon worker's records after the worker's connection closed
  // (the two connections are read by different threads). Ended writers expire oldest first.
  struct PidScope {
    uint64_t scope = 0;
    std::optional<int64_t> closed_ms;
  };
  std::unordered_map<int64_t, PidScope> scope_of_pid_;
  std::deque<std::pair<int64_t, int64_t>> closed_pids_;  // (pid, closed_ms), oldest first
  int64_t last_sweep_ms_ = 0;  // expire()'s last pass over the connections
  std::unordered_map<ActKey, Activity, ActKeyHash> active_;
  std::unordered_multimap<std::string, ActKey> builds_by_drv_;  // running builds
  // Ids finished recently: a second connection's late copy of the same activity is a duplicate.
  BoundedMap<ActKey, char, ActKeyHash> finished_;
  // Builds recorded recently, for failure messages that come after the stop.
  BoundedMap<std::string, RecentBuild> recent_builds_;
  // Failure messages seen recently (the client and the daemon both send them), by attempt.
  BoundedMap<std::string, char> failures_seen_;
  // Cache queries waiting to learn whether they were hits, by query activity.
  // By store path name: a build of the derivation of that name answers them too.
  BoundedMap<std::string, std::vector<PendingQuery>> pending_queries_;
  // Substitutions started recently (store path -> substituter): a query that finishes only after
  // its substitution started (its owner's stream lagging behind a copy's) resolves here.
  BoundedMap<std::string, std::string> recent_substitutions_;
};

}  // namespace nixmon::nod
