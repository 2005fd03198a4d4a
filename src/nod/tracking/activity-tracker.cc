#include "tracking/activity-tracker.hh"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <variant>

#include "common/json-writer.hh"
#include "common/store-path.hh"
#include "tracking/outcome-inference.hh"

namespace nixmon::nod {

namespace {
// Bounds of the tracker's memory, whatever the stream does.
constexpr size_t max_finished_ids = 1 << 16;
constexpr size_t max_recent_builds = 1 << 16;
constexpr size_t max_pending_queries = 100000;
constexpr size_t max_deferred_builds = 4096;
constexpr int64_t pending_query_max_age_ms = 10 * 60 * 1000;
constexpr size_t max_queries_per_name = 64;  // one path asked of every cache, repeatedly
// How long a writer that hung up still owns its pid's ids: its client may relay the last of them
// after the writer's own connection was read to the end (another thread). Longer would take more
// of a recycled pid's ids for the old process's.
constexpr int64_t closed_writer_grace_ms = 30 * 1000;
// The client and the daemon send the same failure message within moments of each other.
constexpr int64_t failure_dedup_window_ms = 60 * 1000;
// A failure message after its build's stop belongs to that attempt only this long after it
// (Nix >= 2.30 logs it after the stop, a client at the end of its build command).
constexpr int64_t late_failure_window_ms = 2 * 60 * 1000;
// A build that stopped without Nix's counters saying how waits this long (stream time) for the
// message that says so (an interruption, a failure), then is settled as cancelled or unknown.
constexpr int64_t deferred_max_age_ms = 60 * 1000;
constexpr size_t max_message_bytes = 4096;
// Nix names a failed download only after the transfer's stop (and its substitution's): stopped
// transfers and substitutions wait this long (stream time) for that message.
constexpr int64_t held_max_age_ms = 60 * 1000;
constexpr size_t max_held = 4096;

// Sums of numbers from the stream: stop at the largest value rather than overflow.
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t out;
  return __builtin_add_overflow(a, b, &out) ? (b > 0 ? INT64_MAX : INT64_MIN) : out;
}

int64_t duration_ms(Stamp from, Stamp to) {
  return std::max<int64_t>(0, (to.mono_ns - from.mono_ns) / 1000000);
}

std::string fields_json(const LogRecord& rec, std::optional<std::string_view> extra = {}) {
  JsonWriter w;
  w.begin_array();
  for (const Field& f : rec.fields) {
    if (auto* n = std::get_if<int64_t>(&f)) {
      w.value(*n);
    } else if (auto* s = std::get_if<std::string_view>(&f)) {
      w.value(*s);
    } else {
      w.null();
    }
  }
  if (extra) w.value(*extra);
  w.end_array();
  return w.take();
}

bool is_local_machine(std::string_view m) {
  return m.empty() || m == "local";
}

}  // namespace

struct ActivityTracker::Activity {
  ActKey key;
  int64_t type = 0;
  Stamp start;
  ConnectionId owner = 0;
  std::vector<ConnectionId> holders;
  // A copy's stop seen on a connection that does not own the activity: the owner's own records
  // may still be on their way, so that stop does not finish it; if the owner then goes away
  // without one, the activity ended here, not interrupted.
  std::optional<Stamp> stopped_elsewhere;
  std::optional<uint64_t> parent;
  std::string text;
  std::string fields_json;    // generic activities only
  bool fetched_path = false;  // fetchToStore: its result already appended to the fields
  // build
  std::string drv_path;
  std::string machine;
  std::vector<std::string> phases;
  int64_t log_lines = 0;
  bool failed = false;             // Nix said so (counter, its own message, a payload)
  std::optional<Outcome> decided;  // by a payload or counter, when not plain failed
  std::optional<Stamp> ended;  // when Nix's counters said it ended (its stop may come much later)
  std::optional<int64_t> exit_code;
  std::optional<FailureKind> kind;  // what Nix's messages say, applied if it failed
  std::optional<int64_t> cpu_user_us, cpu_system_us;
  bool failure_reported = false;   // a FailureRow was emitted for this attempt
  std::optional<ActKey> alias_of;  // the local half of a remote build: results go to the remote one
  // substitute, copyPath, fileTransfer, queryPathInfo
  std::string store_path;
  std::string source;  // substituter, cache, copy source, or URL
  std::string destination;
  std::optional<ActKey> substitution;  // the substitute this copyPath / fileTransfer belongs to
  std::optional<int64_t> bytes_done;
  std::optional<int64_t> bytes_expected;
  std::optional<int64_t> download_bytes;
  std::optional<int64_t> nar_bytes;
  // builds (104) / copyPaths (103): Nix's counters, last values seen
  Progress counts;
};

struct ActivityTracker::Connection {
  WriterIdentity writer;
  uint64_t scope = 0;        // its own ids
  uint64_t relay_scope = 0;  // ids of processes that are not writers here (ssh-ng remote)
  std::unordered_set<ActKey, ActKeyHash> holds;  // activities this connection started
  bool has_build_counters = false;  // a builds activity reported progress: outcomes are knowable
  bool failure_seen = false;        // a build failed in this writer's session
  bool interrupted = false;         // "interrupted by the user"
  int64_t pool_ok = 0, pool_failed = 0;  // counter ends not pinned on one build
  int64_t unstarted_failures = 0;        // failures that never started a build, not yet named
  std::string last_kindless_failure;     // drv of the latest failed build without a kind
  struct Deferred {
    BuildRow row;
    ActKey key;
    int64_t stored_ms = 0;
  };
  // Builds that stopped without Nix saying how they ended, oldest first. A deque: once
  // max_deferred_builds wait, every further stop settles the oldest, and a vector's erase at the
  // front moved the other 4,095 rows each time (5.4% of nod's CPU under the ingest benchmark,
  // docs/benchmarks.md).
  std::deque<Deferred> deferred;
  // Transfers and substitutions that stopped, waiting for a message that says they failed.
  struct Held {
    std::variant<TransferRow, SubstitutionRow> row;
    ActKey key;
    std::optional<ActKey> substitution;  // a transfer's
    int64_t stored_ms = 0;
    bool failed = false;
    bool suspect = false;  // a relayed line named it: Nix's copyPaths counter must confirm
  };
  std::deque<Held> held;      // oldest first; a deque for the same reason as `deferred`
  int64_t copy_failures = 0;  // copyPaths failures no message named yet
};

struct ActivityTracker::PendingQuery {
  CacheQueryRow row;
  ConnectionId conn = 0;
};

struct ActivityTracker::RecentBuild {
  ActKey key;
  int64_t end_ms = 0;
  Outcome outcome = Outcome::success;
  bool by_nix = false;     // the outcome came from Nix's counters or payloads, not by default
  bool completed = false;  // a late message already completed or corrected it
  bool remote = false;
};

ActivityTracker::ActivityTracker(EventSink sink, Counters& counters, const Clock& clock)
    : sink_(std::move(sink)),
      counters_(counters),
      clock_(clock),
      finished_(max_finished_ids),
      recent_builds_(max_recent_builds),
      failures_seen_(max_recent_builds),
      pending_queries_(max_pending_queries),
      recent_substitutions_(max_pending_queries) {}

ActivityTracker::~ActivityTracker() = default;

ConnectionId ActivityTracker::open_connection(WriterIdentity writer) {
  std::lock_guard lock(mu_);
  ConnectionId id = next_conn_++;
  auto c = std::make_unique<Connection>();
  c->writer = writer;
  if (writer.pid) {
    // A new scope per connection: a recycled pid starts a new id space.
    c->scope = next_scope_++;
    c->relay_scope = next_scope_++;
    scope_of_pid_[*writer.pid] = {c->scope, std::nullopt};
  }
  conns_[id] = std::move(c);
  return id;
}

ActivityTracker::ActKey ActivityTracker::key_of(ConnectionId conn, uint64_t id) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || !it->second->writer.pid) return {0, id};
  Connection& c = *it->second;
  auto origin = static_cast<int64_t>(id >> 32);
  if (origin == *c.writer.pid) return {c.scope, id};
  // Another process's id: a live writer with that pid is the process it came from (a daemon
  // worker whose client relays it); otherwise it is relayed from elsewhere (a remote daemon).
  if (auto s = scope_of_pid_.find(origin); s != scope_of_pid_.end()) return {s->second.scope, id};
  return {c.relay_scope, id};
}

size_t ActivityTracker::in_flight() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

ActivityTracker::Sizes ActivityTracker::sizes() const {
  std::lock_guard lock(mu_);
  Sizes out{.active = active_.size(),
            .finished = finished_.size(),
            .recent_builds = recent_builds_.size(),
            .failures_seen = failures_seen_.size(),
            .pending_queries = pending_queries_.size(),
            .recent_substitutions = recent_substitutions_.size()};
  for (auto& [id, c] : conns_) {
    out.deferred += c->deferred.size();
    out.held += c->held.size();
  }
  return out;
}

void ActivityTracker::emit(Event&& e) {
  sink_(std::move(e));
}

void ActivityTracker::close_connection(ConnectionId conn, Stamp now) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  std::vector<ActKey> keys(c.holds.begin(), c.holds.end());
  // Children were started after their parents: finishing newest first lets a copyPath hand its
  // bytes to its substitution before that is recorded. Ids grow with time within one process.
  std::sort(keys.begin(), keys.end(), [](auto& a, auto& b) { return a.id > b.id; });
  for (const ActKey& key : keys) {
    auto a = active_.find(key);
    if (a == active_.end()) continue;
    auto& holders = a->second.holders;
    holders.erase(std::remove(holders.begin(), holders.end(), conn), holders.end());
    if (holders.empty()) {
      if (auto stopped = a->second.stopped_elsewhere) {
        finish(a->second, *stopped, a->second.failed ? Outcome::failed : Outcome::success);
        continue;
      }
      counters_.interrupted.fetch_add(1, std::memory_order_relaxed);
      finish(a->second, now, Outcome::interrupted);
    } else if (a->second.owner == conn) {
      a->second.owner = holders.front();
    }
  }
  settle_deferred(c, std::nullopt, now, true);
  release_held(c, now, true);
  // Queries this writer asked that nothing answered: their result is unknown, not lost.
  for (auto& entry : pending_queries_) {
    std::erase_if(entry.value, [&](PendingQuery& q) {
      if (q.conn != conn) return false;
      emit_query(std::move(q), std::nullopt);
      return true;
    });
  }
  pending_queries_.remove_if([](auto& e) { return e.value.empty(); }, [](auto&&) {});
  if (c.writer.pid) {
    auto s = scope_of_pid_.find(*c.writer.pid);
    if (s != scope_of_pid_.end() && s->second.scope == c.scope) {
      s->second.closed_ms = now.wall_ms;
      closed_pids_.emplace_back(*c.writer.pid, now.wall_ms);
    }
    forget_closed_writers(now);  // also here: an idle daemon polled by queries sees no record
  }
  conns_.erase(it);
}

void ActivityTracker::handle(ConnectionId conn, const LogRecord& rec, Stamp at,
                             std::string_view raw) {
  std::lock_guard lock(mu_);
  if (!conns_.count(conn)) return;
  expire(at);
  switch (rec.action) {
    case Action::start:
      start(conn, rec, at);
      break;
    case Action::stop:
      stop(conn, rec, at);
      break;
    case Action::result:
      result(conn, rec, at, raw);
      break;
    case Action::msg:
      message(conn, rec, at);
      break;
    case Action::unknown:
      counters_.unknown_records.fetch_add(1, std::memory_order_relaxed);
      emit(UnknownRecordRow{at.wall_ms, fmt::format("action:{}", rec.action_name),
                            std::string(raw.substr(0, max_message_bytes))});
      break;
  }
}

// A writer gone for longer than the grace period: its pid's ids are a new process's (recycled).
void ActivityTracker::forget_closed_writers(Stamp at) {
  while (!closed_pids_.empty() &&
         closed_pids_.front().second < at.wall_ms - closed_writer_grace_ms) {
    auto [pid, closed_ms] = closed_pids_.front();
    closed_pids_.pop_front();
    auto s = scope_of_pid_.find(pid);
    if (s != scope_of_pid_.end() && s->second.closed_ms == closed_ms) scope_of_pid_.erase(s);
  }
}

void ActivityTracker::expire(Stamp at) {
  // Queries nothing answered for long, and builds nothing explained: settle them now rather than
  // at the writer's end, which may be days away for a long-lived process.
  // An entry is dated by its oldest query: only the queries that waited their 10 minutes go;
  // younger ones of the same name stay, dated by the oldest of them.
  int64_t cutoff = at.wall_ms - pending_query_max_age_ms;
  std::vector<std::pair<std::string, std::vector<PendingQuery>>> younger;
  pending_queries_.expire(cutoff, [&](auto&& e) {
    std::vector<PendingQuery> keep;
    for (auto& q : e.value) {
      if (q.row.span.end_ms < cutoff)
        emit_query(std::move(q), std::nullopt);
      else
        keep.push_back(std::move(q));
    }
    if (!keep.empty()) younger.emplace_back(e.key, std::move(keep));
  });
  for (auto& [name, keep] : younger) {
    int64_t oldest = keep.front().row.span.end_ms;
    if (auto pushed_out = pending_queries_.put(name, std::move(keep), oldest))
      for (auto& q : pushed_out->value) emit_query(std::move(q), std::nullopt);
  }
  recent_substitutions_.expire(at.wall_ms - pending_query_max_age_ms, [](auto&&) {});
  failures_seen_.expire(at.wall_ms - failure_dedup_window_ms, [](auto&&) {});
  // A recent build is only read within the late-failure window after its end (message()). Kept
  // until pushed out by count, the map held up to 65,536 builds (an estimated ~250 bytes each
  // with the drv path and the list and hash nodes: ~16 MiB) on a host that builds many
  // derivations, and was still filling after the 30-minute soak of docs/robustness.md
  // ("Endurance"), at ~13 builds/s. By age it holds a few minutes' builds:
  // twice the window, as records read by different threads may be stamped slightly out of
  // order, and an entry must not go while a record that may still read it is on its way.
  recent_builds_.expire(at.wall_ms - 2 * late_failure_window_ms, [](auto&&) {});
  forget_closed_writers(at);
  // Every connection's waiting rows, at most once a second of stream time: this runs for every
  // record, and a daemon may serve hundreds of writers.
  if (at.wall_ms - last_sweep_ms_ < 1000) return;
  last_sweep_ms_ = at.wall_ms;
  for (auto& [id, c] : conns_) {
    if (!c->deferred.empty() && c->deferred.front().stored_ms < at.wall_ms - deferred_max_age_ms)
      settle_deferred(*c, std::nullopt, at, false);
    if (!c->held.empty() && c->held.front().stored_ms < at.wall_ms - held_max_age_ms)
      release_held(*c, at, false);
  }
}

void ActivityTracker::start(ConnectionId conn, const LogRecord& rec, Stamp at) {
  ActKey key = key_of(conn, rec.id);
  auto& holds = conns_[conn]->holds;
  if (auto it = active_.find(key); it != active_.end()) {
    // The same activity from a second connection (client and daemon): hold it, apply nothing.
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    auto& h = it->second.holders;
    if (std::find(h.begin(), h.end(), conn) == h.end()) {
      h.push_back(conn);
      holds.insert(key);
    }
    return;
  }
  if (finished_.contains(key)) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Activity a;
  a.key = key;
  a.type = rec.type;
  a.start = at;
  a.owner = conn;
  a.holders.push_back(conn);
  a.parent = rec.parent;
  auto parent = [&]() -> Activity* {
    if (!rec.parent) return nullptr;
    auto p = active_.find(key_of(conn, *rec.parent));
    return p == active_.end() ? nullptr : &p->second;
  };
  switch (rec.type) {
    case act_build: {
      a.drv_path = std::string(rec.string_field(0).value_or(""));
      std::string_view machine = rec.string_field(1).value_or("");
      if (machine.empty() && rec.machine) machine = *rec.machine;
      a.machine = is_local_machine(machine) ? "local" : std::string(machine);
      if (a.machine == "local") {
        // A remote build shows up twice: the build with the remote machine, then the forwarded
        // one with machine "" and a new id. Count it once, as the remote one.
        auto [b, e] = builds_by_drv_.equal_range(a.drv_path);
        for (; b != e; ++b) {
          auto r = active_.find(b->second);
          if (r != active_.end() && r->second.machine != "local" && !r->second.alias_of) {
            a.alias_of = r->first;
            break;
          }
        }
      }
      if (!a.alias_of) {
        builds_by_drv_.emplace(a.drv_path, key);
        queries_missed_by_build(a.drv_path);
      }
      break;
    }
    case act_substitute:
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = normalise_cache_uri(rec.string_field(1).value_or(""));
      resolve_queries(a.store_path, a.source);
      recent_substitutions_.put(a.store_path, a.source, at.wall_ms);
      break;
    case act_copy_path: {
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = std::string(rec.string_field(1).value_or(""));
      a.destination = std::string(rec.string_field(2).value_or(""));
      // Part of a substitution? By parent when Nix sends one (>= 2.18), else by store path.
      if (rec.parent) {
        if (Activity* p = parent(); p && p->type == act_substitute) a.substitution = p->key;
      } else {
        for (auto& [k, other] : active_) {
          if (other.type == act_substitute && other.store_path == a.store_path) {
            a.substitution = k;
            break;
          }
        }
      }
      break;
    }
    case act_file_transfer: {
      a.source = std::string(rec.string_field(0).value_or(""));
      if (rec.parent) {
        if (Activity* p = parent()) {
          if (p->type == act_substitute) a.substitution = p->key;
          if (p->type == act_copy_path) a.substitution = p->substitution;
        }
      } else if (a.source.find("/nar/") != std::string::npos) {
        // No parent (Nix < 2.18): a .nar download belongs to the one running substitution
        // from the cache it is fetched from, if there is exactly one.
        std::optional<ActKey> found;
        int count = 0;
        for (auto& [k, other] : active_) {
          if (other.type == act_substitute && !other.source.empty() &&
              a.source.compare(0, other.source.size(), other.source) == 0) {
            found = k;
            ++count;
          }
        }
        if (count == 1) a.substitution = found;
      }
      break;
    }
    case act_query_path_info:
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = normalise_cache_uri(rec.string_field(1).value_or(""));
      break;
    default:
      a.text = std::string(rec.text);
      a.fields_json = fields_json(rec);
      break;
  }
  holds.insert(key);
  active_.emplace(key, std::move(a));
}

void ActivityTracker::stop(ConnectionId conn, const LogRecord& rec, Stamp at) {
  ActKey key = key_of(conn, rec.id);
  auto it = active_.find(key);
  if (it == active_.end()) {
    (finished_.contains(key) ? counters_.duplicates : counters_.orphans)
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Activity& a = it->second;
  auto& h = a.holders;
  if (std::find(h.begin(), h.end(), conn) == h.end()) {
    counters_.orphans.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (conn != a.owner) {
    // Only the owner's results are applied, so only its stop may finish: finishing on a faster
    // copy's stop loses the owner's log lines and phases still in flight (a race seen between a
    // nix-daemon worker's stream and its client's).
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    h.erase(std::remove(h.begin(), h.end(), conn), h.end());
    if (auto c = conns_.find(conn); c != conns_.end()) c->second->holds.erase(a.key);
    if (!a.stopped_elsewhere) a.stopped_elsewhere = at;
    return;
  }
  finish(a, at, a.failed ? Outcome::failed : Outcome::success);
}

void ActivityTracker::result(ConnectionId conn, const LogRecord& rec, Stamp at,
                             std::string_view raw) {
  ActKey key = key_of(conn, rec.id);
  auto it = active_.find(key);
  if (it != active_.end() && it->second.owner != conn) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (rec.has_payload) {
    // Determinate Nix's payload results: read those nod knows, keep the rest raw.
    if (it == active_.end() && finished_.contains(key)) {
      counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (payload_result(conn, rec, at)) return;
    counters_.unknown_records.fetch_add(1, std::memory_order_relaxed);
    emit(UnknownRecordRow{at.wall_ms, fmt::format("result-type:{}", rec.type),
                          std::string(raw.substr(0, max_message_bytes))});
    return;
  }
  bool known_type = rec.type >= res_file_linked && rec.type <= res_last_known;
  // 109 with fields is upstream's fetchToStore (on activity 113); 110 has fields nowhere.
  bool fetch_to_store = rec.type == res_fetch_to_store && it != active_.end() &&
                        it->second.type == act_fetch_to_store;
  if (!known_type || (rec.type >= res_fetch_to_store && !fetch_to_store)) {
    if (it == active_.end() && finished_.contains(key)) {
      counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counters_.unknown_records.fetch_add(1, std::memory_order_relaxed);
    emit(UnknownRecordRow{at.wall_ms, fmt::format("result-type:{}", rec.type),
                          std::string(raw.substr(0, max_message_bytes))});
    return;
  }
  if (it == active_.end()) {
    (finished_.contains(key) ? counters_.duplicates : counters_.orphans)
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Activity* a = &it->second;
  if (a->alias_of) {
    auto target = active_.find(*a->alias_of);
    if (target == active_.end()) return;  // the remote half is already recorded
    a = &target->second;
  }
  switch (rec.type) {
    case res_build_log_line:
      if (a->type == act_build) ++a->log_lines;
      break;
    case res_set_phase:
      if (auto phase = rec.string_field(0)) {
        if (std::find(a->phases.begin(), a->phases.end(), *phase) == a->phases.end())
          a->phases.emplace_back(*phase);
      }
      break;
    case res_progress:
      if (a->type == act_builds || a->type == act_copy_paths) {
        progress(conn, *a, rec, at);
      } else if (a->type == act_copy_path || a->type == act_file_transfer) {
        if (auto done = rec.int_field(0)) a->bytes_done = *done;
        if (auto expected = rec.int_field(1); expected && *expected > 0)
          a->bytes_expected = *expected;
      }
      break;
    case res_fetch_to_store:
      // Once: the store path the fetch produced (a stream repeating it must not grow the row).
      if (auto path = rec.string_field(0); path && !a->fetched_path) {
        a->fetched_path = true;
        // The store path the fetch produced, after the start's [path, dryRun].
        a->fields_json.pop_back();
        a->fields_json += fmt::format("{}{}]", a->fields_json.size() > 1 ? "," : "",
                                      fields_json(rec).substr(1, fields_json(rec).size() - 2));
      }
      break;
    default:
      break;  // known results that nod does not record (setExpected, fileLinked, ...)
  }
}

void ActivityTracker::progress(ConnectionId conn, Activity& counter, const LogRecord& rec,
                               Stamp at) {
  Progress now{rec.int_field(0).value_or(counter.counts.done),
               rec.int_field(1).value_or(counter.counts.expected),
               rec.int_field(2).value_or(counter.counts.running),
               rec.int_field(3).value_or(counter.counts.failed)};
  ProgressStep step = progress_step(counter.counts, now);
  counter.counts = now;
  Connection& c = *conns_[conn];
  bool builds = counter.type == act_builds;
  if (builds) c.has_build_counters = true;
  if (now.failed > 0 && builds) c.failure_seen = true;
  if (builds) c.unstarted_failures += step.failed_unstarted;
  if (!builds && step.ended_failed + step.failed_unstarted > 0)
    confirm_transfer_failures(c, step.ended_failed + step.failed_unstarted);
  int64_t ended = step.ended_ok + step.ended_failed;
  if (ended == 0) return;
  // The build (or substitution) that ended in this update is this writer's one running one, if
  // there is exactly one: its counters tell when it ended, however late its stop comes. Every one
  // it holds counts, also one whose client's relayed copy was read first (that copy owns it).
  int64_t wanted = builds ? act_build : act_substitute;
  Activity* only = nullptr;
  int running = 0;
  for (const ActKey& k : c.holds) {
    auto b = active_.find(k);
    if (b == active_.end() || b->second.type != wanted || b->second.alias_of || b->second.ended)
      continue;
    only = &b->second;
    ++running;
  }
  if (builds && running == 0 && !c.deferred.empty()) {
    // Lix stops a build before its counters move (local-derivation-goal.cc, then done()): the
    // update ends builds that already stopped, newest first.
    for (; ended > 0 && !c.deferred.empty(); --ended) {
      auto d = std::move(c.deferred.back());
      c.deferred.pop_back();
      bool failed = step.ended_failed > 0;
      if (failed) {
        --step.ended_failed;
        d.row.span.outcome = Outcome::failed;
        c.last_kindless_failure = d.row.drv_path;
      } else {
        d.row.span.outcome = Outcome::success;
      }
      emit_build(std::move(d.row), d.key, true);
    }
    if (ended == 0) return;
  }
  if (ended == 1 && running == 1) {
    only->ended = at;
    if (step.ended_failed) {
      only->failed = true;
      if (!only->kind && builds) c.last_kindless_failure = only->drv_path;
    } else if (!only->failed) {
      only->decided = Outcome::success;
    }
    return;
  }
  if (!builds) {
    counters_.failures_unattributed.fetch_add(step.ended_failed, std::memory_order_relaxed);
    return;
  }
  c.pool_ok += step.ended_ok;
  c.pool_failed += step.ended_failed;
}

bool ActivityTracker::payload_result(ConnectionId conn, const LogRecord& rec, Stamp at) {
  if (rec.type == res_build_result) {
    auto p = parse_build_result(rec.payload);
    if (!p) return false;
    auto meaning = build_status_meaning(p->status);
    if (!meaning) return false;
    if (!p->drv_name.empty()) {
      // The build of that derivation running in this writer; the payload comes before its stop.
      Activity* build = nullptr;
      for (auto& [k, a] : active_)
        if (a.type == act_build && !a.alias_of && store_path_has_base(a.drv_path, p->drv_name) &&
            a.owner == conn)
          build = &a;
      if (build) {
        build->cpu_user_us = p->cpu_user_us;
        build->cpu_system_us = p->cpu_system_us;
        if (meaning->outcome == Outcome::failed) {
          build->failed = true;
          if (meaning->kind) build->kind = meaning->kind;
        } else {
          build->decided = meaning->outcome;
        }
        return true;
      }
      if (meaning->outcome == Outcome::failed && meaning->kind) {
        // Never started (dependency failed, input rejected): only the failure is recorded.
        std::string drv = "/nix/store/" + p->drv_name;
        NixMessage m = NixMessage::failure(*meaning->kind, drv);
        apply_failure(conn, m, true, p->error_msg.substr(0, max_message_bytes), at);
      }
      return true;
    }
    if (!p->store_name.empty()) {
      for (auto& [k, a] : active_)
        if (a.type == act_substitute && store_path_has_base(a.store_path, p->store_name) &&
            a.owner == conn && meaning->outcome != Outcome::success)
          a.failed = true;
      return true;
    }
    return true;
  }
  if (rec.type == res_hash_mismatch) {
    auto drv = parse_hash_mismatch(rec.payload);
    if (!drv) return false;
    NixMessage m = NixMessage::failure(FailureKind::hash_mismatch, *drv);
    apply_failure(conn, m, true, "", at);
    return true;
  }
  return false;
}

void ActivityTracker::message(ConnectionId conn, const LogRecord& rec, Stamp at) {
  // Nix's own errors go through logEI and carry raw_msg. Lines without it are relayed text: a
  // daemon's errors on its client, a build hook's, or a builder's `@nix` msg line, which Nix
  // re-logs at the level the builder chose. Those may only complete what Nix's own signals say.
  bool trusted = !rec.raw_msg.empty();
  // Errors are level 0; Nix >= 2.35 logs a cache's missing file as a warning (level 1, logEI).
  if (rec.level > 1 || (rec.level == 1 && !trusted)) return;
  std::string text = strip_ansi(trusted ? rec.raw_msg : rec.msg);
  if (transfer_message(conn, rec, text, trusted)) return;
  if (rec.level != 0) return;  // only errors report build failures
  auto m = classify_message(text, trusted);
  if (!m) return;
  Connection& c = *conns_[conn];
  if (m->what == NixMessage::What::interrupted) {
    c.interrupted = true;
    settle_deferred(c, Outcome::interrupted, at, true);
    return;
  }
  if (m->drv_path.empty()) {
    // Since 2.34 a timeout names no derivation: it is the build that just failed unexplained.
    if (c.last_kindless_failure.empty()) {
      counters_.failures_unattributed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    m->drv_path = c.last_kindless_failure;
  }
  if (text.size() > max_message_bytes) text.resize(max_message_bytes);
  apply_failure(conn, *m, trusted, text, at);
}

void ActivityTracker::apply_failure(ConnectionId conn, const NixMessage& m, bool trusted,
                                    const std::string& text, Stamp at) {
  Connection& c = *conns_[conn];
  auto kind_for = [&](std::string_view machine) {
    // On a remote machine the local "builder failed" is the build hook's exit, not the builder's.
    return m.kind == FailureKind::builder && !is_local_machine(machine) ? FailureKind::remote
                                                                        : m.kind;
  };
  auto report = [&](const std::string& attempt, FailureKind kind, std::string machine,
                    std::optional<int64_t> exit_code) {
    std::string key = m.drv_path + "\n" + attempt;
    if (failures_seen_.contains(key)) {
      counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    failures_seen_.put(key, 0, at.wall_ms);
    if (kind != FailureKind::remote) machine.clear();
    emit(FailureRow{at.wall_ms, kind, m.drv_path, std::string(display_name(m.drv_path)),
                    std::move(machine), exit_code, text});
  };
  auto attempt_of = [](const ActKey& k) { return fmt::format("{}/{}", k.scope, k.id); };
  // The attempt the message belongs to: the running build of that derivation...
  auto [b, e] = builds_by_drv_.equal_range(m.drv_path);
  for (; b != e; ++b) {
    auto it = active_.find(b->second);
    if (it == active_.end()) continue;
    Activity& a = it->second;
    if (a.kind != FailureKind::remote) {
      a.kind = kind_for(a.machine);
      if (a.kind != FailureKind::remote || m.kind == FailureKind::remote) a.exit_code = m.exit_code;
    }
    if (trusted) a.failed = true;
    if (a.drv_path == c.last_kindless_failure) c.last_kindless_failure.clear();
    if (a.failed) report(attempt_of(a.key), *a.kind, a.machine, a.exit_code);
    return;
  }
  // ...one that stopped while nothing said how it ended...
  for (auto& [id, other] : conns_) {
    auto& d = other->deferred;
    auto it =
        std::find_if(d.begin(), d.end(), [&](auto& x) { return x.row.drv_path == m.drv_path; });
    if (it == d.end()) continue;
    if (!trusted) return;
    BuildRow row = std::move(it->row);
    ActKey key = it->key;
    d.erase(it);
    row.span.outcome = Outcome::failed;
    row.failure_kind = kind_for(row.machine);
    row.exit_code = m.exit_code;
    report(attempt_of(key), *row.failure_kind, row.machine, row.exit_code);
    emit_build(std::move(row), key, true);
    return;
  }
  // ...or the latest recorded attempt, if the message comes soon after it ended.
  if (auto* r = recent_builds_.find(m.drv_path);
      r && at.wall_ms - r->end_ms <= late_failure_window_ms) {
    if (r->completed) return report(attempt_of(r->key), m.kind, "", m.exit_code);
    FailureKind kind = r->remote && m.kind == FailureKind::builder ? FailureKind::remote : m.kind;
    std::optional<int64_t> exit_code =
        kind == FailureKind::remote && m.kind != FailureKind::remote ? std::nullopt : m.exit_code;
    // A build settled without Nix's word (unknown, cancelled, or success with no counters) is
    // corrected by Nix's own message; one Nix's counters called a success is not.
    bool unsettled = r->outcome == Outcome::unknown || r->outcome == Outcome::cancelled ||
                     (r->outcome == Outcome::success && !r->by_nix);
    if (r->outcome == Outcome::failed || (trusted && unsettled)) {
      r->outcome = Outcome::failed;
      r->completed = true;
      emit(BuildFailedLater{m.drv_path, r->end_ms, exit_code, kind});
      report(attempt_of(r->key), kind, "", exit_code);
    }
    return;
  }
  // Never started here: a dependency failed, or Nix rejected it before building.
  bool accepted = trusted;
  if (!trusted && m.kind == FailureKind::dependency) accepted = c.failure_seen;
  if (!trusted && m.kind != FailureKind::dependency && c.unstarted_failures > 0) accepted = true;
  if (!accepted) return;
  if (m.kind != FailureKind::dependency && c.unstarted_failures > 0) --c.unstarted_failures;
  c.failure_seen = true;
  report("never-started", m.kind, m.machine, m.exit_code);
}

void ActivityTracker::finish(Activity& a, Stamp at, Outcome outcome) {
  Span span{a.key.id, a.start.wall_ms, at.wall_ms, duration_ms(a.start, at), outcome};
  for (ConnectionId c : a.holders) {
    if (auto it = conns_.find(c); it != conns_.end()) it->second->holds.erase(a.key);
  }
  finished_.put(a.key, 0, at.wall_ms);
  switch (a.type) {
    case act_build: {
      if (a.alias_of) break;  // counted with the remote build
      auto [b, e] = builds_by_drv_.equal_range(a.drv_path);
      for (; b != e; ++b) {
        if (b->second == a.key) {
          builds_by_drv_.erase(b);
          break;
        }
      }
      if (a.ended) {
        // Nix's counters said when it ended; its stop can come much later (Nix 2.8 keeps the
        // stops of top-level builds until the whole command ends).
        span.end_ms = std::min(span.end_ms, a.ended->wall_ms);
        span.duration_ms = duration_ms(a.start, *a.ended);
      }
      std::string phases;
      for (auto& p : a.phases) phases += (phases.empty() ? "" : ",") + p;
      BuildRow row;
      row.span = span;
      row.drv_path = a.drv_path;
      row.name = std::string(display_name(a.drv_path));
      row.machine = a.machine;
      row.phases = std::move(phases);
      row.log_lines = a.log_lines;
      row.cpu_user_us = a.cpu_user_us;
      row.cpu_system_us = a.cpu_system_us;
      auto owner = conns_.find(a.owner);
      Connection* c = owner == conns_.end() ? nullptr : owner->second.get();
      bool by_nix = a.failed || a.decided.has_value();
      if (outcome != Outcome::interrupted && !by_nix && c && c->has_build_counters) {
        // Ended in an update that several running builds could have caused: take one from
        // those. Nothing at all: cancelled with the others, or interrupted; decided later.
        if (c->pool_failed > 0 && c->pool_ok == 0) {
          --c->pool_failed;
          a.failed = by_nix = true;
        } else if (c->pool_ok > 0) {
          --c->pool_ok;
          by_nix = true;
        } else if (c->interrupted) {
          row.span.outcome = Outcome::interrupted;
          emit_build(std::move(row), a.key, true);
          break;
        } else {
          c->deferred.push_back({std::move(row), a.key, at.wall_ms});
          if (c->deferred.size() > max_deferred_builds) settle_deferred(*c, {}, at, false);
          break;
        }
      }
      if (outcome != Outcome::interrupted) {
        if (a.failed) {
          row.span.outcome = Outcome::failed;
          row.exit_code = a.exit_code;
          row.failure_kind = a.kind;
          if (row.failure_kind == FailureKind::builder && a.machine != "local")
            row.failure_kind = FailureKind::remote;
          if (c && !a.kind) c->last_kindless_failure = a.drv_path;
        } else if (a.decided) {
          row.span.outcome = *a.decided;
        }
      }
      emit_build(std::move(row), a.key, by_nix);
      break;
    }
    case act_substitute: {
      if (a.failed && outcome != Outcome::interrupted) span.outcome = Outcome::failed;
      SubstitutionRow row{span,     a.store_path,     std::string(display_name(a.store_path)),
                          a.source, a.download_bytes, a.nar_bytes};
      auto owner = conns_.find(a.owner);
      if (span.outcome != Outcome::success || owner == conns_.end()) {
        emit(std::move(row));
        break;
      }
      Connection& c = *owner->second;
      c.held.push_back({std::move(row), a.key, std::nullopt, at.wall_ms});
      if (c.held.size() > max_held) release_held(c, at, false);
      break;
    }
    case act_copy_path: {
      std::optional<int64_t> bytes = a.bytes_expected ? a.bytes_expected : a.bytes_done;
      if (a.substitution) {
        auto s = active_.find(*a.substitution);
        if (s != active_.end()) {
          if (bytes) s->second.nar_bytes = bytes;
          break;  // recorded as part of its substitution, not as a copy of its own
        }
      }
      emit(CopyRow{span, a.store_path, a.source, a.destination, bytes});
      break;
    }
    case act_file_transfer: {
      std::optional<int64_t> bytes = a.bytes_done;
      if (a.substitution && bytes) {
        auto s = active_.find(*a.substitution);
        if (s != active_.end())
          s->second.download_bytes =
              saturating_add(s->second.download_bytes.value_or(0), std::max<int64_t>(0, *bytes));
      }
      TransferRow row{span, a.source, bytes};
      if (a.failed && outcome != Outcome::interrupted) row.span.outcome = Outcome::failed;
      auto owner = conns_.find(a.owner);
      if (row.span.outcome != Outcome::success || owner == conns_.end()) {
        emit(std::move(row));
        break;
      }
      // Nix names a failed transfer only after its stop: wait for that message.
      Connection& c = *owner->second;
      c.held.push_back({std::move(row), a.key, a.substitution, at.wall_ms});
      if (c.held.size() > max_held) release_held(c, at, false);
      break;
    }
    case act_query_path_info: {
      CacheQueryRow row{span, a.store_path, a.source, std::nullopt};
      if (outcome == Outcome::interrupted) {
        emit(std::move(row));
        break;
      }
      // Its substitution may already have started: the copy of a stream can run ahead of the
      // owner whose stop finishes the query.
      if (auto* sub = recent_substitutions_.entry(a.store_path);
          sub && sub->stored_ms >= row.span.start_ms) {
        row.hit = row.cache == sub->value;
        emit(std::move(row));
        break;
      }
      std::string name(display_name(a.store_path));
      std::vector<PendingQuery> waiting;
      if (auto* w = pending_queries_.find(name)) waiting = std::move(*w);
      // Nix asks the caches in priority order and stops at the first that has the path: an
      // earlier cache asked for the same path was a miss.
      std::erase_if(waiting, [&](PendingQuery& q) {
        if (q.row.store_path != a.store_path || q.row.cache == a.source) return false;
        emit_query(std::move(q), false);
        return true;
      });
      // Each query waits its own 10 minutes, however often its name is asked again, and a name
      // holds a bounded number of them: the oldest go as unknown.
      std::erase_if(waiting, [&](PendingQuery& q) {
        if (q.row.span.end_ms >= at.wall_ms - pending_query_max_age_ms) return false;
        emit_query(std::move(q), std::nullopt);
        return true;
      });
      waiting.push_back({std::move(row), a.owner});
      if (waiting.size() > max_queries_per_name) {
        emit_query(std::move(waiting.front()), std::nullopt);
        waiting.erase(waiting.begin());
      }
      int64_t oldest = waiting.front().row.span.end_ms;  // the entry expires with its oldest query
      if (auto pushed_out = pending_queries_.put(name, std::move(waiting), oldest))
        for (auto& q : pushed_out->value) emit_query(std::move(q), std::nullopt);
      break;
    }
    case act_fetch_tree: {
      // Nix's text is "fetching Git repository '<url>'" (libfetchers git-utils.cc, 2.28 to
      // master). Its stop comes also when the fetch failed (the error is thrown after it): the
      // outcome is unknown, unless the stream ended first. Another text stays a generic activity.
      constexpr std::string_view prefix = "fetching Git repository '";
      std::string_view text = a.text;
      if (text.size() > prefix.size() && text.starts_with(prefix) && text.ends_with('\'')) {
        if (outcome != Outcome::interrupted) span.outcome = Outcome::unknown;
        emit(GitFetchRow{span,
                         std::string(text.substr(prefix.size(), text.size() - prefix.size() - 1))});
        break;
      }
      emit(ActivityRow{span, a.type, std::move(a.text), std::move(a.fields_json)});
      break;
    }
    default:
      emit(ActivityRow{span, a.type, std::move(a.text), std::move(a.fields_json)});
      break;
  }
  ActKey key = a.key;  // erase() must not take a key that lives in the node it destroys
  active_.erase(key);  // `a` dies here
}

void ActivityTracker::emit_build(BuildRow&& row, const ActKey& key, bool by_nix) {
  RecentBuild r{key, row.span.end_ms, row.span.outcome, by_nix, false, row.machine != "local"};
  recent_builds_.put(row.drv_path, r, row.span.end_ms);
  emit(std::move(row));
}

void ActivityTracker::settle_deferred(Connection& c, std::optional<Outcome> forced, Stamp at,
                                      bool all) {
  // Stopped with no counter saying it ended: Nix dropped it (no --keep-going after a failure:
  // cancelled), or the stream cannot tell (unknown).
  auto it = c.deferred.begin();
  for (; it != c.deferred.end(); ++it) {
    bool old = it->stored_ms < at.wall_ms - deferred_max_age_ms ||
               c.deferred.size() - (it - c.deferred.begin()) > max_deferred_builds;
    if (!all && !forced && !old) break;
    it->row.span.outcome =
        forced ? *forced : (c.failure_seen ? Outcome::cancelled : Outcome::unknown);
    emit_build(std::move(it->row), it->key, true);
  }
  c.deferred.erase(c.deferred.begin(), it);
}

bool ActivityTracker::transfer_message(ConnectionId conn, const LogRecord& rec,
                                       const std::string& text, bool trusted) {
  Connection& c = *conns_[conn];
  auto fail_substitution = [&](const ActKey& key) {
    if (auto s = active_.find(key); s != active_.end()) s->second.failed = true;
    for (auto& h : c.held)
      if (h.key == key) h.failed = true;
  };
  if (auto url = failed_transfer_url(text, trusted)) {
    // A transfer still running (the message came first), else the latest that stopped here.
    for (auto& [k, a] : active_) {
      if (a.type != act_file_transfer || a.source != *url || a.owner != conn) continue;
      if (!trusted) return true;  // nothing to confirm it against yet: it goes on
      a.failed = true;
      if (a.substitution) fail_substitution(*a.substitution);
      return true;
    }
    for (auto h = c.held.rbegin(); h != c.held.rend(); ++h) {
      auto* t = std::get_if<TransferRow>(&h->row);
      if (!t || t->url != *url || h->failed) continue;
      if (trusted || c.copy_failures > 0) {
        if (!trusted) --c.copy_failures;
        h->failed = true;
        if (h->substitution) fail_substitution(*h->substitution);
      } else {
        h->suspect = true;  // Nix's copyPaths counter says whether a substitution failed
      }
      return true;
    }
    return rec.level != 0 || !trusted;  // a trusted error may still be about a build
  }
  if (rec.level != 0 || !trusted) return false;
  // Nix's own "build of '<path>' failed" names the substitutions that failed: their transfers
  // that a relayed line named failed with them.
  auto paths = failed_goal_paths(text, trusted);
  bool any = false;
  for (auto& path : paths) {
    for (auto& h : c.held) {
      auto* s = std::get_if<SubstitutionRow>(&h.row);
      if (!s || s->store_path != path) continue;
      h.failed = any = true;
      for (auto& t : c.held)
        if (t.substitution == h.key && t.suspect) t.failed = true;
    }
  }
  return any;
}

void ActivityTracker::confirm_transfer_failures(Connection& c, int64_t count) {
  // Nix counts a failed substitution after logging why: the oldest suspects are those.
  for (auto& h : c.held) {
    if (count == 0) break;
    if (!h.suspect || h.failed) continue;
    h.failed = true;
    --count;
    if (!h.substitution) continue;
    if (auto s = active_.find(*h.substitution); s != active_.end()) s->second.failed = true;
    for (auto& other : c.held)
      if (other.key == *h.substitution) other.failed = true;
  }
  if (!c.held.empty()) c.copy_failures += count;  // the message may come after the counter
}

void ActivityTracker::release_held(Connection& c, Stamp at, bool all) {
  auto it = c.held.begin();
  for (; it != c.held.end(); ++it) {
    bool old = it->stored_ms < at.wall_ms - held_max_age_ms ||
               c.held.size() - static_cast<size_t>(it - c.held.begin()) > max_held;
    if (!all && !old) break;
    std::visit(
        [&](auto& row) {
          if (it->failed) row.span.outcome = Outcome::failed;
          emit(std::move(row));
        },
        it->row);
  }
  c.held.erase(c.held.begin(), it);
  if (c.held.empty()) c.copy_failures = 0;
}

void ActivityTracker::emit_query(PendingQuery&& q, std::optional<bool> hit) {
  q.row.hit = hit;
  emit(std::move(q.row));
}

void ActivityTracker::resolve_queries(const std::string& store_path,
                                      const std::string& substituter) {
  std::string name(display_name(store_path));
  auto* waiting = pending_queries_.find(name);
  if (!waiting) return;
  std::erase_if(*waiting, [&](PendingQuery& q) {
    if (q.row.store_path != store_path) return false;
    emit_query(std::move(q), q.row.cache == substituter);
    return true;
  });
  if (waiting->empty()) pending_queries_.erase(name);
}

void ActivityTracker::queries_missed_by_build(const std::string& drv_path) {
  // Nix builds what no cache had: every cache asked for an output of this derivation missed.
  // The stream names the derivation, not its outputs, so they are matched by name ("out" has
  // the derivation's name).
  std::string name(display_name(drv_path));
  auto* waiting = pending_queries_.find(name);
  if (!waiting) return;
  for (auto& q : *waiting) emit_query(std::move(q), false);
  pending_queries_.erase(name);
}

}  // namespace nixmon::nod
