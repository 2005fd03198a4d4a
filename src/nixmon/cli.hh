#pragma once
// nixmon's subcommands: each file cli-<name>.cc adds its flags to the CLI11 app and runs it.
// run_* return the exit status (0 fine, 1 a failure they report); they throw Error when a server
// cannot be asked (main prints it and exits 1) and UsageError for bad input (exit 2).
#include <CLI/CLI.hpp>
#include <string>

#include "nixmon/alertmanager-api.hh"
#include "nixmon/prometheus-api.hh"
#include "nixmon/text-table.hh"

namespace nixmon::cli {

inline constexpr const char* default_prometheus_url = "http://localhost:9090";
inline constexpr const char* default_alertmanager_url = "http://localhost:9093";

struct GlobalOptions {
  std::string prometheus = default_prometheus_url;
  std::string alertmanager = default_alertmanager_url;
  std::string timeout = "5s";
  std::string output = "table";

  OutputFormat format() const;
  std::chrono::milliseconds timeout_ms() const;  // throws UsageError
  PrometheusApi prometheus_api() const;          // throws UsageError on a bad URL
  AlertmanagerApi alertmanager_api() const;
};

void add_global_flags(CLI::App& app, GlobalOptions& options);

struct TestAlertOptions {
  std::string severity = "info";
  std::string host;
  std::string wait = "60s";
};

CLI::App* add_hosts_command(CLI::App& app);
CLI::App* add_status_command(CLI::App& app);
CLI::App* add_alerts_command(CLI::App& app);
CLI::App* add_test_alert_command(CLI::App& app, TestAlertOptions& options);
CLI::App* add_reload_command(CLI::App& app);

int run_hosts(const GlobalOptions& options);
int run_status(const GlobalOptions& options);
int run_alerts(const GlobalOptions& options);
int run_test_alert(const GlobalOptions& options, const TestAlertOptions& test);
int run_reload(const GlobalOptions& options);

}  // namespace nixmon::cli
