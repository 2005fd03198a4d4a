#include <cstdlib>

#include "common/duration.hh"
#include "common/error.hh"
#include "nixmon/cli.hh"

namespace nixmon::cli {

void add_global_flags(CLI::App& app, GlobalOptions& options) {
  app.add_option("--prometheus", options.prometheus,
                 "Prometheus' base URL (env NIXMON_PROMETHEUS_URL)")
      ->envname("NIXMON_PROMETHEUS_URL")
      ->capture_default_str();
  app.add_option("--alertmanager", options.alertmanager,
                 "Alertmanager's base URL (env NIXMON_ALERTMANAGER_URL)")
      ->envname("NIXMON_ALERTMANAGER_URL")
      ->capture_default_str();
  app.add_option("--timeout", options.timeout,
                 "Connect and read timeout of each request, e.g. 5s, 500ms")
      ->capture_default_str();
  app.add_option("--output", options.output, "Output format: table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
}

OutputFormat GlobalOptions::format() const {
  if (output == "json") return OutputFormat::json;
  if (output == "csv") return OutputFormat::csv;
  return OutputFormat::table;
}

std::chrono::milliseconds GlobalOptions::timeout_ms() const {
  return parse_positive_duration("--timeout", timeout);
}

PrometheusApi GlobalOptions::prometheus_api() const {
  return PrometheusApi(HttpEndpoint("Prometheus", prometheus, timeout_ms()));
}

AlertmanagerApi GlobalOptions::alertmanager_api() const {
  return AlertmanagerApi(HttpEndpoint("Alertmanager", alertmanager, timeout_ms()));
}

}  // namespace nixmon::cli
