#include "nod/activity-tracker.hh"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/json-writer.hh"

namespace nixmon::nod {

namespace {
// Bounds of the tracker's memory, whatever the stream does.
constexpr size_t max_finished_ids = 1 << 16;
constexpr size_t max_recent_builds = 1 << 16;
constexpr size_t max_pending_queries = 100000;
constexpr int64_t pending_query_max_age_ms = 10 * 60 * 1000;
// The client and the daemon send the same failure message within moments of each other.
constexpr int64_t failure_dedup_window_ms = 60 * 1000;
constexpr size_t max_message_bytes = 4096;

int64_t duration_ms(Stamp from, Stamp to) {
  return std::max<int64_t>(0, (to.mono_ns - from.mono_ns) / 1000000);
}

std::string fields_json(const LogRecord& rec) {
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
  w.end_array();
  return w.take();
}

bool is_local_machine(std::string_view m) {
  return m.empty() || m == "local";
}

}  // namespace

struct ActivityTracker::Activity {
  uint64_t id = 0;
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
  std::string fields_json;  // generic activities only
  // build
  std::string drv_path;
  std::string machine;
  std::vector<std::string> phases;
  int64_t log_lines = 0;
  bool failed = false;
  std::optional<int64_t> exit_code;
  uint64_t alias_of = 0;  // the local half of a remote build: results go to the remote one
  // substitute, copyPath, fileTransfer, queryPathInfo
  std::string store_path;
  std::string source;  // substituter, cache, copy source, or URL
  std::string destination;
  uint64_t substitution = 0;  // the substitute this copyPath / fileTransfer belongs to
  std::optional<int64_t> bytes_done;
  std::optional<int64_t> bytes_expected;
  std::optional<int64_t> download_bytes;
  std::optional<int64_t> nar_bytes;
  // builds (104): Nix's counter of failed builds, last value seen
  int64_t builds_failed = 0;
};

struct ActivityTracker::PendingQuery {
  CacheQueryRow row;
};

ActivityTracker::ActivityTracker(EventSink sink, Counters& counters)
    : sink_(std::move(sink)), counters_(counters) {}

ActivityTracker::~ActivityTracker() = default;

ConnectionId ActivityTracker::open_connection() {
  std::lock_guard lock(mu_);
  ConnectionId id = next_conn_++;
  conns_[id];
  return id;
}

size_t ActivityTracker::in_flight() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

void ActivityTracker::emit(Event&& e) {
  sink_(std::move(e));
}

void ActivityTracker::remember_finished(uint64_t id) {
  if (finished_.insert(id).second) {
    finished_order_.push_back(id);
    if (finished_order_.size() > max_finished_ids) {
      finished_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
  }
}

void ActivityTracker::close_connection(ConnectionId conn, Stamp now) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  std::vector<uint64_t> ids(it->second.holds.begin(), it->second.holds.end());
  // Children were started after their parents: finishing newest first lets a copyPath hand its
  // bytes to its substitution before that is recorded. Ids grow with time within one process.
  std::sort(ids.rbegin(), ids.rend());
  for (uint64_t id : ids) {
    auto a = active_.find(id);
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
  conns_.erase(conn);
}

void ActivityTracker::handle(ConnectionId conn, const LogRecord& rec, Stamp at,
                             std::string_view raw) {
  std::lock_guard lock(mu_);
  switch (rec.action) {
    case Action::start:
      start(conn, rec, at);
      break;
    case Action::stop:
      stop(conn, rec.id, at);
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

void ActivityTracker::start(ConnectionId conn, const LogRecord& rec, Stamp at) {
  auto& holds = conns_[conn].holds;
  if (auto it = active_.find(rec.id); it != active_.end()) {
    // The same activity from a second connection (client and daemon): hold it, apply nothing.
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    auto& h = it->second.holders;
    if (std::find(h.begin(), h.end(), conn) == h.end()) {
      h.push_back(conn);
      holds.insert(rec.id);
    }
    return;
  }
  if (finished_.count(rec.id)) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Activity a;
  a.id = rec.id;
  a.type = rec.type;
  a.start = at;
  a.owner = conn;
  a.holders.push_back(conn);
  a.parent = rec.parent;
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
          if (r != active_.end() && r->second.machine != "local" && r->second.alias_of == 0) {
            a.alias_of = r->first;
            break;
          }
        }
      }
      if (a.alias_of == 0) builds_by_drv_.emplace(a.drv_path, a.id);
      break;
    }
    case act_substitute:
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = std::string(rec.string_field(1).value_or(""));
      resolve_queries(a.store_path, a.source, at);
      remember_substitution(a.store_path, a.source, at);
      break;
    case act_copy_path: {
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = std::string(rec.string_field(1).value_or(""));
      a.destination = std::string(rec.string_field(2).value_or(""));
      // Part of a substitution? By parent when Nix sends one (>= 2.18), else by store path.
      if (rec.parent) {
        auto p = active_.find(*rec.parent);
        if (p != active_.end() && p->second.type == act_substitute) a.substitution = p->first;
      } else {
        for (auto& [id, other] : active_) {
          if (other.type == act_substitute && other.store_path == a.store_path) {
            a.substitution = id;
            break;
          }
        }
      }
      break;
    }
    case act_file_transfer: {
      a.source = std::string(rec.string_field(0).value_or(""));
      if (rec.parent) {
        auto p = active_.find(*rec.parent);
        if (p != active_.end()) {
          if (p->second.type == act_substitute) a.substitution = p->first;
          if (p->second.type == act_copy_path) a.substitution = p->second.substitution;
        }
      } else if (a.source.find("/nar/") != std::string::npos) {
        // No parent (Nix < 2.18): a .nar download belongs to the one running substitution
        // from the cache it is fetched from, if there is exactly one.
        uint64_t found = 0;
        int count = 0;
        for (auto& [id, other] : active_) {
          if (other.type == act_substitute && !other.source.empty() &&
              a.source.compare(0, other.source.size(), other.source) == 0) {
            found = id;
            ++count;
          }
        }
        if (count == 1) a.substitution = found;
      }
      break;
    }
    case act_query_path_info:
      a.store_path = std::string(rec.string_field(0).value_or(""));
      a.source = std::string(rec.string_field(1).value_or(""));
      break;
    default:
      a.text = std::string(rec.text);
      a.fields_json = fields_json(rec);
      break;
  }
  holds.insert(rec.id);
  active_.emplace(rec.id, std::move(a));
}

void ActivityTracker::stop(ConnectionId conn, uint64_t id, Stamp at) {
  auto it = active_.find(id);
  if (it == active_.end()) {
    (finished_.count(id) ? counters_.duplicates : counters_.orphans)
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
    if (auto c = conns_.find(conn); c != conns_.end()) c->second.holds.erase(a.id);
    if (!a.stopped_elsewhere) a.stopped_elsewhere = at;
    return;
  }
  finish(a, at, a.failed ? Outcome::failed : Outcome::success);
}

void ActivityTracker::result(ConnectionId conn, const LogRecord& rec, Stamp at,
                             std::string_view raw) {
  auto it = active_.find(rec.id);
  bool known_type = rec.type >= res_file_linked && rec.type <= res_last_known;
  if (it != active_.end() && it->second.owner != conn) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!known_type || (rec.has_payload && rec.type >= 109)) {
    // Unknown (or Determinate Nix's payload) results are kept raw for a later nod to read.
    if (it == active_.end() && finished_.count(rec.id)) {
      counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counters_.unknown_records.fetch_add(1, std::memory_order_relaxed);
    emit(UnknownRecordRow{at.wall_ms, fmt::format("result-type:{}", rec.type),
                          std::string(raw.substr(0, max_message_bytes))});
    return;
  }
  if (it == active_.end()) {
    (finished_.count(rec.id) ? counters_.duplicates : counters_.orphans)
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Activity* a = &it->second;
  if (a->alias_of) {
    auto target = active_.find(a->alias_of);
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
      if (a->type == act_builds) {
        auto failed = rec.int_field(3);
        if (failed && *failed > a->builds_failed) {
          int64_t delta = *failed - a->builds_failed;
          a->builds_failed = *failed;
          // Blame the one running build of this connection, if there is exactly one.
          Activity* only = nullptr;
          int running = 0;
          for (uint64_t id : conns_[conn].holds) {
            auto b = active_.find(id);
            if (b != active_.end() && b->second.type == act_build && b->second.alias_of == 0 &&
                !b->second.failed) {
              only = &b->second;
              ++running;
            }
          }
          if (delta == 1 && running == 1) {
            only->failed = true;
          } else {
            counters_.failures_unattributed.fetch_add(delta, std::memory_order_relaxed);
          }
        }
      } else if (a->type == act_copy_path || a->type == act_file_transfer) {
        if (auto done = rec.int_field(0)) a->bytes_done = *done;
        if (auto expected = rec.int_field(1); expected && *expected > 0)
          a->bytes_expected = *expected;
      }
      break;
    default:
      break;  // known results that nod does not record (setExpected, fileLinked, ...)
  }
}

void ActivityTracker::finish(Activity& a, Stamp at, Outcome outcome) {
  Span span{a.id, a.start.wall_ms, at.wall_ms, duration_ms(a.start, at), outcome};
  for (ConnectionId c : a.holders) {
    if (auto it = conns_.find(c); it != conns_.end()) it->second.holds.erase(a.id);
  }
  remember_finished(a.id);
  switch (a.type) {
    case act_build: {
      if (a.alias_of) break;  // counted with the remote build
      auto [b, e] = builds_by_drv_.equal_range(a.drv_path);
      for (; b != e; ++b) {
        if (b->second == a.id) {
          builds_by_drv_.erase(b);
          break;
        }
      }
      std::string phases;
      for (auto& p : a.phases) phases += (phases.empty() ? "" : ",") + p;
      recent_builds_[a.drv_path] = {a.id, at.wall_ms, outcome == Outcome::success};
      recent_builds_order_.push_back(a.drv_path);
      if (recent_builds_order_.size() > max_recent_builds) {
        recent_builds_.erase(recent_builds_order_.front());
        recent_builds_order_.pop_front();
      }
      emit(BuildRow{span, a.drv_path, std::string(store_path_name(a.drv_path)), a.machine,
                    std::move(phases), a.log_lines, a.exit_code});
      break;
    }
    case act_substitute:
      emit(SubstitutionRow{span, a.store_path, std::string(store_path_name(a.store_path)), a.source,
                           a.download_bytes, a.nar_bytes});
      break;
    case act_copy_path: {
      std::optional<int64_t> bytes = a.bytes_expected ? a.bytes_expected : a.bytes_done;
      if (a.substitution) {
        auto s = active_.find(a.substitution);
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
        auto s = active_.find(a.substitution);
        if (s != active_.end())
          s->second.download_bytes = s->second.download_bytes.value_or(0) + *bytes;
      }
      emit(TransferRow{span, a.source, bytes});
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
      if (auto sub = recent_substitutions_.find(a.store_path);
          sub != recent_substitutions_.end() && sub->second.start_ms >= row.span.start_ms) {
        row.hit = row.cache == sub->second.substituter;
        emit(std::move(row));
        break;
      }
      // Nix asks the caches in priority order and stops at the first that has the path: an
      // earlier cache asked for the same path was a miss.
      auto [b, e] = pending_queries_.equal_range(a.store_path);
      for (auto q = b; q != e;) {
        if (q->second.row.cache != a.source) {
          emit_query(std::move(q->second), false);
          q = pending_queries_.erase(q);
        } else {
          ++q;
        }
      }
      // Flush queries that waited too long or overflow the bound, as "unknown".
      while (!pending_order_.empty()) {
        // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
        auto& path = pending_order_.front().first;
        auto& id = pending_order_.front().second;
        auto [pb, pe] = pending_queries_.equal_range(path);
        auto q =
            std::find_if(pb, pe, [&](auto& kv) { return kv.second.row.span.activity_id == id; });
        if (q == pe) {
          pending_order_.pop_front();
          continue;
        }
        bool too_old = q->second.row.span.end_ms < at.wall_ms - pending_query_max_age_ms;
        if (!too_old && pending_queries_.size() < max_pending_queries) break;
        emit_query(std::move(q->second), std::nullopt);
        pending_queries_.erase(q);
        pending_order_.pop_front();
      }
      pending_order_.emplace_back(a.store_path, a.id);
      pending_queries_.emplace(a.store_path, PendingQuery{std::move(row)});
      break;
    }
    default:
      emit(ActivityRow{span, a.type, std::move(a.text), std::move(a.fields_json)});
      break;
  }
  uint64_t id = a.id;  // erase() must not take a key that lives in the node it destroys
  active_.erase(id);   // `a` dies here
}

void ActivityTracker::emit_query(PendingQuery&& q, std::optional<bool> hit) {
  q.row.hit = hit;
  emit(std::move(q.row));
}

void ActivityTracker::resolve_queries(const std::string& store_path, const std::string& substituter,
                                      Stamp) {
  auto [b, e] = pending_queries_.equal_range(store_path);
  for (auto q = b; q != e; ++q)
    emit_query(std::move(q->second), q->second.row.cache == substituter);
  pending_queries_.erase(store_path);
}

void ActivityTracker::remember_substitution(const std::string& store_path,
                                            const std::string& substituter, Stamp at) {
  while (!recent_substitutions_order_.empty() &&
         (recent_substitutions_order_.front().second < at.wall_ms - pending_query_max_age_ms ||
          recent_substitutions_order_.size() >= max_pending_queries)) {
    auto& [path, start] = recent_substitutions_order_.front();
    auto it = recent_substitutions_.find(path);
    if (it != recent_substitutions_.end() && it->second.start_ms == start)
      recent_substitutions_.erase(it);
    recent_substitutions_order_.pop_front();
  }
  recent_substitutions_[store_path] = {substituter, at.wall_ms};
  recent_substitutions_order_.emplace_back(store_path, at.wall_ms);
}

bool ActivityTracker::failure_seen(const std::string& key, Stamp at) {
  while (!failures_seen_order_.empty() &&
         failures_seen_order_.front().second < at.wall_ms - failure_dedup_window_ms) {
    auto& [k, t] = failures_seen_order_.front();
    auto it = failures_seen_.find(k);
    if (it != failures_seen_.end() && it->second == t) failures_seen_.erase(it);
    failures_seen_order_.pop_front();
  }
  auto it = failures_seen_.find(key);
  if (it != failures_seen_.end()) return true;
  failures_seen_[key] = at.wall_ms;
  failures_seen_order_.emplace_back(key, at.wall_ms);
  return false;
}

void ActivityTracker::message(ConnectionId conn, const LogRecord& rec, Stamp at) {
  if (rec.level != 0) return;  // only errors report failures
  std::string text = strip_ansi(rec.raw_msg.empty() ? rec.msg : rec.raw_msg);
  auto m = match_failure(text);
  if (!m) return;
  // The key names the build attempt, so the client's copy of the daemon's message is dropped
  // but a later rebuild's failure is not.
  uint64_t attempt = 0;
  auto [b, e] = builds_by_drv_.equal_range(m->drv_path);
  if (b != e)
    attempt = b->second;
  else if (auto r = recent_builds_.find(m->drv_path); r != recent_builds_.end())
    attempt = r->second.id;
  if (failure_seen(fmt::format("{}\n{}\n{}", m->kind, m->drv_path, attempt), at)) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (text.size() > max_message_bytes) text.resize(max_message_bytes);
  emit(FailureRow{at.wall_ms, *failure_kind_from_name(m->kind), m->drv_path,
                  std::string(store_path_name(m->drv_path)), m->machine, m->exit_code, text});
  if (m->kind != "dependency") mark_build_failed(m->drv_path, m->exit_code, at, conn);
}

void ActivityTracker::mark_build_failed(const std::string& drv, std::optional<int64_t> exit_code,
                                        Stamp, ConnectionId) {
  auto [b, e] = builds_by_drv_.equal_range(drv);
  if (b != e) {
    for (; b != e; ++b) {
      auto a = active_.find(b->second);
      if (a == active_.end()) continue;
      a->second.failed = true;
      if (exit_code) a->second.exit_code = exit_code;
    }
    return;
  }
  // Nix >= 2.29 may report the failure after the build's stop: correct the recorded row.
  auto r = recent_builds_.find(drv);
  if (r != recent_builds_.end() && r->second.success) {
    r->second.success = false;
    emit(BuildFailedLater{drv, r->second.end_ms, exit_code});
  }
}

namespace {

std::optional<int64_t> exit_code_after(std::string_view text, std::string_view marker) {
  auto pos = text.find(marker);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += marker.size();
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), n);
  if (ec != std::errc()) return std::nullopt;
  return n;
}

// The text between the first `open` after `from` and the next `close`.
std::optional<std::string> quoted(std::string_view text, size_t from, char q = '\'') {
  auto a = text.find(q, from);
  if (a == std::string_view::npos) return std::nullopt;
  auto b = text.find(q, a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(a + 1, b - a - 1));
}

}  // namespace

std::optional<FailureMatch> match_failure(std::string_view t) {
  // Nix <= 2.28: "builder for '<drv>' failed with exit code N[;...]"
  if (auto p = t.find("builder for '"); p != std::string_view::npos) {
    auto drv = quoted(t, p);
    if (drv && t.find("' failed", p) != std::string_view::npos)
      return FailureMatch{"builder", *drv, "", exit_code_after(t, "failed with exit code ")};
  }
  // Nix >= 2.29: "Cannot build '<drv>'.\n  Reason: builder failed with exit code N."
  if (auto p = t.find("Cannot build '"); p != std::string_view::npos) {
    if (auto drv = quoted(t, p))
      return FailureMatch{"builder", *drv, "", exit_code_after(t, "failed with exit code ")};
  }
  // Remote: "build of '<drv>' on '<machine>' failed: ..."
  if (auto p = t.find("build of '"); p != std::string_view::npos) {
    auto drv = quoted(t, p);
    auto on = t.find("' on '", p);
    if (drv && on != std::string_view::npos && t.find("' failed", on) != std::string_view::npos) {
      auto machine = quoted(t, on + 4);
      return FailureMatch{"remote", *drv, machine.value_or(""),
                          exit_code_after(t, "failed with exit code ")};
    }
  }
  if (auto p = t.find("hash mismatch in fixed-output derivation '"); p != std::string_view::npos) {
    if (auto drv = quoted(t, p)) return FailureMatch{"hash-mismatch", *drv, "", std::nullopt};
  }
  // "N dependencies of derivation '<drv>' failed to build": never started, so no build row.
  if (auto p = t.find("dependencies of derivation '"); p != std::string_view::npos) {
    auto drv = quoted(t, p);
    if (drv && t.find("failed to build", p) != std::string_view::npos)
      return FailureMatch{"dependency", *drv, "", std::nullopt};
  }
  return std::nullopt;
}

}  // namespace nixmon::nod
