#pragma once
// nod's flags. The original Rust nod's names and defaults: --socket / NOD_SOCKET
// (/tmp/nod.sock) and --db / NOD_DB (nod.db, in the current directory); the NixOS module
// (services.nod) sets both. The flags that set them are declared by the commands (commands/).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hh"

namespace nixmon::nod {

struct NodOptions {
  std::string socket = "/tmp/nod.sock";
  std::string db = "nod.db";
  std::string log_level = "info";
  bool db_given = false;  // --db or NOD_DB was given (not the default)
  // "Now" of the query commands (their "today", the cut-off of `nod clean`): the system clock,
  // or the one main pins from NOD_NOW_MS for tests and benchmarks (common/clock.hh).
  std::shared_ptr<const Clock> clock = system_clock_ptr();
};

struct DaemonOptions {
  int retain_days = 180;
  size_t queue_size = 65536;
  size_t max_line_bytes = 1 << 20;
  std::string socket_mode = "0666";
  size_t max_connections = 1024;
  std::string metrics_listen;   // --metrics.listen: Prometheus endpoint (metrics.hh); "" = none
  std::string web_config_file;  // --web.config.file: TLS/basic auth of the metrics endpoint
  std::string socket_group;     // --socket-group: group owning the socket ("" = unchanged)
  std::vector<std::string> writers;  // --writers: users (names or uids) allowed to send records
};

struct IngestOptions {
  std::string input = "-";
  int retain_days = 180;
  size_t queue_size = 65536;
  size_t max_line_bytes = 1 << 20;
  // "auto": drop when full only if the input is a pipe/socket/terminal (live Nix must not wait),
  // wait for room when it is a regular file (a replay loses nothing by waiting).
  std::string when_full = "auto";
};

// "0666" -> 0666; throws UsageError.
unsigned parse_mode(const std::string& s);

int run_daemon(const NodOptions& global, const DaemonOptions& o);
int run_ingest(const NodOptions& global, const IngestOptions& o);
int run_rebuild(const NodOptions& global);
int run_upgrade(const NodOptions& global);

}  // namespace nixmon::nod
