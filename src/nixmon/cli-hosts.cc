// nixmon hosts: one row per host of the fleet, worst first.
#include <fmt/format.h>

#include "nixmon/cli.hh"
#include "nixmon/host-output.hh"

namespace nixmon::cli {

CLI::App* add_hosts_command(CLI::App& app) {
  return app.add_subcommand(
      "hosts",
      "One row per host: up, NixOS version, generation and age, behind, reboot, /boot, store, "
      "reclaimable, failed builds in 24h, firing alerts; worst first");
}

int run_hosts(const GlobalOptions& options) {
  auto prometheus = options.prometheus_api();
  auto hosts = assemble_hosts(prometheus.query_all(host_queries()));
  switch (options.format()) {
    case OutputFormat::json:
      fmt::print("{}", hosts_json(hosts));
      break;
    case OutputFormat::csv:
      fmt::print("{}", hosts_csv(hosts));
      break;
    case OutputFormat::table:
      if (hosts.empty()) {
        fmt::print("No hosts: Prometheus at {} has no `up` series.\n", options.prometheus);
        break;
      }
      fmt::print("{}", hosts_table(hosts, use_colour()));
      break;
  }
  return 0;
}

}  // namespace nixmon::cli
