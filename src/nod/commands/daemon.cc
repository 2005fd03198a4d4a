// `nod daemon`: its flags; the daemon itself is wired in daemon.cc (run_daemon).
#include "commands/command.hh"

namespace nixmon::nod::commands {

Added add_daemon_command(CLI::App& app) {
  auto o = std::make_shared<DaemonOptions>();
  auto* sub = app.add_subcommand(
      "daemon", "Listen on the socket for Nix's JSON log stream and record it in the database");
  sub->add_option("--retain-days", o->retain_days,
                  "Remove records (and their daily aggregates) older than this many days; 0 "
                  "keeps everything")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--queue-size", o->queue_size,
                  "Completed activities waiting for the database at most; beyond it they are "
                  "dropped and counted, never waited for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-line-bytes", o->max_line_bytes,
                  "Longest record accepted; longer lines are skipped and counted")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->capture_default_str();
  sub->add_option("--socket-mode", o->socket_mode, "Permissions of the socket (octal)")
      ->capture_default_str();
  sub->add_option("--max-connections", o->max_connections, "Concurrent connections at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--metrics.listen", o->metrics_listen,
                  "Serve Prometheus metrics on this address (e.g. :9972); none by default");
  sub->add_option("--web.config.file", o->web_config_file,
                  "Exporter-toolkit web config (YAML) for the metrics endpoint: TLS, client "
                  "certificates, basic auth");
  sub->add_option("--socket-group", o->socket_group,
                  "Group that owns the socket (with --socket-mode 0660: only its members and "
                  "root may write or query)");
  sub->add_option("--writers", o->writers,
                  "Only processes of these users (names or uids, comma-separated) may send log "
                  "records, e.g. root for nix-daemon; others are refused and counted. Queries "
                  "stay open to whoever can connect. Default: anyone")
      ->delimiter(',');
  return {[o](const Invocation& in) { return run_daemon(in.nod, *o); }, {}};
}

}  // namespace nixmon::nod::commands
