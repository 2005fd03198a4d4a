#include "nod/options.hh"

#include "common/error.hh"

namespace nixmon::nod {

void add_global_flags(CLI::App& app, NodOptions& o) {
  app.add_option("--socket", o.socket, "The daemon's Unix socket (Nix's json-log-path)")
      ->envname("NOD_SOCKET")
      ->capture_default_str();
  app.add_option("--db", o.db, "The SQLite database")->envname("NOD_DB")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.fallthrough();
}

CLI::App* add_daemon_command(CLI::App& app, DaemonOptions& o) {
  auto* sub = app.add_subcommand(
      "daemon", "Listen on the socket for Nix's JSON log stream and record it in the database");
  sub->add_option("--retain-days", o.retain_days,
                  "Remove records (and their daily aggregates) older than this many days; 0 "
                  "keeps everything")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--queue-size", o.queue_size,
                  "Completed activities waiting for the database at most; beyond it they are "
                  "dropped and counted, never waited for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-line-bytes", o.max_line_bytes,
                  "Longest record accepted; longer lines are skipped and counted")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->capture_default_str();
  sub->add_option("--socket-mode", o.socket_mode, "Permissions of the socket (octal)")
      ->capture_default_str();
  sub->add_option("--max-connections", o.max_connections, "Concurrent connections at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--metrics.listen", o.metrics_listen,
                  "Serve Prometheus metrics on this address (e.g. :9972); none by default");
  sub->add_option("--web.config.file", o.web_config_file,
                  "Exporter-toolkit web config (YAML) for the metrics endpoint: TLS, client "
                  "certificates, basic auth");
  sub->add_option("--socket-group", o.socket_group,
                  "Group that owns the socket (with --socket-mode 0660: only its members and "
                  "root may write or query)");
  sub->add_option("--writers", o.writers,
                  "Only processes of these users (names or uids, comma-separated) may send log "
                  "records, e.g. root for nix-daemon; others are refused and counted. Queries "
                  "stay open to whoever can connect. Default: anyone")
      ->delimiter(',');
  return sub;
}

CLI::App* add_ingest_command(CLI::App& app, IngestOptions& o) {
  auto* sub = app.add_subcommand(
      "ingest",
      "Record a --log-format internal-json stream (Nix < 2.30): nix build --log-format "
      "internal-json ... 2>&1 >/dev/null | nod ingest");
  sub->add_option("input", o.input, "A file of Nix's stderr, or - for standard input")
      ->capture_default_str();
  sub->add_option("--retain-days", o.retain_days, "As for the daemon")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--queue-size", o.queue_size, "As for the daemon")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-line-bytes", o.max_line_bytes, "As for the daemon")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->capture_default_str();
  sub->add_option("--when-full", o.when_full,
                  "drop (never make Nix wait), wait (lose nothing), or auto: wait for regular "
                  "files, drop for pipes")
      ->check(CLI::IsMember({"auto", "drop", "wait"}))
      ->capture_default_str();
  return sub;
}

CLI::App* add_status_command(CLI::App& app) {
  return app.add_subcommand(
      "status", "Ask the daemon for its counters (records, drops, queue depth) as JSON");
}

CLI::App* add_rebuild_command(CLI::App& app) {
  return app.add_subcommand("rebuild",
                            "Recompute the aggregates (daily, all-time, names) from the rows of "
                            "--db; upgrades an older schema");
}

CLI::App* add_upgrade_command(CLI::App& app) {
  return app.add_subcommand("upgrade",
                            "Upgrade --db from an older schema (no-op when current or absent); "
                            "the daemon also does it when it starts");
}

unsigned parse_mode(const std::string& s) {
  size_t pos = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(s, &pos, 8);
  } catch (...) {
    pos = 0;
  }
  if (pos != s.size() || s.empty() || v > 07777)
    throw UsageError(fmt::format("--socket-mode '{}' is not an octal file mode like 0666", s));
  return static_cast<unsigned>(v);
}

}  // namespace nixmon::nod
