// `nod daemon`: the socket server, the activity tracker and the record writer, wired together.
#include <signal.h>

#include <optional>

#include "common/log.hh"
#include "common/shutdown.hh"
#include "common/version.hh"
#include "nod/daemon-context.hh"
#include "nod/metrics.hh"
#include "nod/options.hh"
#include "nod/socket-server.hh"

namespace nixmon::nod {

int run_daemon(const NodOptions& g, const DaemonOptions& o) {
  log::set_level(log::parse_level(g.log_level));
  ServerOptions so{g.socket, static_cast<mode_t>(parse_mode(o.socket_mode)), o.max_line_bytes,
                   o.max_connections};
  // Before any thread starts, so every thread inherits the blocked signals.
  ShutdownSignals signals;
  ::signal(SIGPIPE, SIG_IGN);  // a query client that hangs up must not kill the daemon

  Counters counters;
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
  server.bind();
  std::optional<MetricsEndpoint> metrics_endpoint;
  if (!o.metrics_listen.empty()) metrics_endpoint.emplace(o.metrics_listen, metrics);
  signals.on_signal([&server](int sig) {
    log::info("received signal {}, shutting down", sig);
    server.stop();
  });
  log::info("nod {} listening on {} (mode {:o}), database {}, retain {} days", version, g.socket,
            so.mode, g.db, o.retain_days);
  server.serve();
  writer.close();
  log::info("stopped: {} records, {} events committed, {} dropped", counters.records.load(),
            counters.committed.load(), counters.dropped.load());
  return 0;
}

}  // namespace nixmon::nod
