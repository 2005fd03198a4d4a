#pragma once
// nixos-exporter's command line: the Go nixos-exporter's flags, node_exporter's collector
// switches.
#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "exporter/collector.hh"

namespace nixmon::exporter {

struct ExporterOptions {
  std::string listen = ":9971";
  std::string root = "/";
  std::string scrape_timeout = "10s";
  std::string log_level = "info";
  std::string web_config_file;             // --web.config.file; "" = plain HTTP, no auth
  std::map<std::string, bool> collectors;  // name -> enabled, every collector of the table
  // node_exporter's web and collector flags (node_exporter.go, v1.12).
  std::string telemetry_path = "/metrics";  // --web.telemetry-path
  bool disable_exporter_metrics =
      false;  // --web.disable-exporter-metrics: no process_*, promhttp_*
  bool disable_default_collectors = false;  // --collector.disable-defaults (applied by parse)
  int max_requests = 40;                    // --web.max-requests; 0 or less: no limit
  // Each collector's own flags, in the table's order (collector_table()): what they are bound to,
  // checked by its configure() once parsed.
  std::vector<std::unique_ptr<CollectorSetup>> setups;
};

// Declares every flag on `app`, bound to `options` (filled with the table's defaults): the
// exporter's own, the collector switches, then each collector's own flags (CollectorEntry::setup).
void add_exporter_flags(CLI::App& app, ExporterOptions& options);

// Go's flag package also accepts one dash ("-listen=:9971"); the Go nixos-exporter's users may
// have written that. Rewrites such arguments to two dashes when they name a long flag of `app`.
// Normalises Go-style flags and parses `args` (argv without the program name) into what
// add_exporter_flags bound (with --collector.disable-defaults, every collector not named by a
// --collector.<name> / --no-collector.<name> flag ends up off). Throws CLI::ParseError (also for
// --help and --version).
void parse_exporter_args(CLI::App& app, std::vector<std::string> args);

std::vector<std::string> normalize_go_style_flags(const CLI::App& app,
                                                  std::vector<std::string> args);

}  // namespace nixmon::exporter
