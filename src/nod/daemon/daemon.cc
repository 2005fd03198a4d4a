// `nod daemon`: the socket server, the activity tracker and the record writer, wired together.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "common/error.hh"
#include "common/log.hh"
#include "common/shutdown.hh"
#include "common/version.hh"
#include "daemon/daemon-context.hh"
#include "daemon/heap-trimmer.hh"
#include "daemon/metrics.hh"
#include "daemon/options.hh"
#include "daemon/socket-server.hh"
#include "store/created-file.hh"

namespace nixmon::nod {

namespace {

// A user name or a number; UsageError when neither.
uid_t user_id(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<uid_t>(std::stoul(name));
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
    throw UsageError(fmt::format("--writers: no user '{}'", name));
  return found->pw_uid;
}

gid_t group_id(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<gid_t>(std::stoul(name));
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found)
    throw UsageError(fmt::format("--socket-group: no group '{}'", name));
  return found->gr_gid;
}

// Raises the soft limit on open files to the hard one. Every connection is a descriptor: up to
// --max-connections served plus as many held and discarded (2048 by default), and each query
// opens the database anew. systemd's default soft limit, 1024, is less than that; its default
// hard limit, 524288, is not. nod uses no select(), so descriptors above 1023 are fine.
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    log::warn("cannot read the limit on open files: {}", std::strerror(errno));
    return;
  }
  if (lim.rlim_cur >= lim.rlim_max) {
    log::debug("the limit on open files is {} already (the hard limit)", lim.rlim_cur);
    return;
  }
  rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    log::warn("cannot raise the limit on open files from {}: {}", before, std::strerror(errno));
  else
    log::debug("raised the soft limit on open files from {} to the hard limit, {}", before,
               lim.rlim_cur);
}

constexpr std::chrono::seconds heap_trim_interval{10};

}  // namespace

int run_daemon(const NodOptions& g, const DaemonOptions& o) {
  log::set_level(log::parse_level(g.log_level));
  map_large_allocations();  // heap-trimmer.hh says why
  raise_open_files_limit();
  ServerOptions so;
  so.path = g.socket;
  so.mode = static_cast<mode_t>(parse_mode(o.socket_mode));
  so.max_line_bytes = o.max_line_bytes;
  so.max_connections = o.max_connections;
  if (!o.socket_group.empty()) so.group = group_id(o.socket_group);
  for (const auto& w : o.writers) so.writer_uids.push_back(user_id(w));
  WebConfig web;
  if (!o.web_config_file.empty()) web = load_web_config(o.web_config_file);
  // Before any thread starts, so every thread inherits the blocked signals.
  ShutdownSignals signals;
  ::signal(SIGPIPE, SIG_IGN);  // a query client that hangs up must not kill the daemon

  Counters counters;
  // A database this start creates is removed again if the start fails (e.g. another daemon has
  // the socket): declared before the writer, so it acts after the writer closed the database.
  CreatedDatabase created(g.db);
  // Opens the database first: a newer schema or an unusable path fails before we listen.
  RecordWriter writer(
      {.db_path = g.db, .queue_capacity = o.queue_size, .retain_days = o.retain_days}, counters);
  BuildMetrics metrics(&counters);
  ActivityTracker tracker(
      [&writer, &metrics](Event&& e) {
        metrics.observe(e);  // before the queue: a dropped row still counts as seen
        return writer.submit(std::move(e));
      },
      counters);
  DaemonContext ctx{g.socket, g.db, &counters, &writer, &tracker, nullptr};
  QueryService queries;
  register_requests(queries, ctx);
  SocketServer server(so, tracker, counters, queries);
  ctx.server = &server;
  metrics.set_live([&writer, &tracker, &server](MetricSet& m) {
    m.gauge("nod_queue_depth", "Completed activities waiting in the queue to the database writer.",
            static_cast<double>(writer.queue_depth()));
    m.gauge("nod_queue_capacity", "Size of the queue to the database writer (--queue-size).",
            static_cast<double>(writer.queue_capacity()));
    m.gauge("nod_activities_in_flight", "Activities open now.",
            static_cast<double>(tracker.in_flight()));
    m.gauge("nod_discarded_connections", "Refused and over-limit connections held open now.",
            static_cast<double>(server.discarded_connections()));
  });
  server.bind();
  std::optional<MetricsEndpoint> metrics_endpoint;
  if (!o.metrics_listen.empty())
    metrics_endpoint.emplace(o.metrics_listen, metrics, std::move(web));
  created.keep();  // started: the database is ours to keep
  signals.on_signal([&server](int sig) {
    log::info("received signal {}, shutting down", sig);
    server.stop();
  });
  log::info("nod {} listening on {} (mode {:o}), database {}, retain {} days", version, g.socket,
            so.mode, g.db, o.retain_days);
  // The allocator's free memory back to the system every 10 s (heap-trimmer.hh says why).
  HeapTrimmer trimmer(heap_trim_interval);
  server.serve();
  writer.close();
  log::info("stopped: {} records, {} events committed, {} dropped", counters.records.load(),
            counters.committed.load(), counters.dropped.load());
  return 0;
}

}  // namespace nixmon::nod
