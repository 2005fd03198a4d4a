// nixmon: the fleet from a terminal. A thin shell over the nixmon CLI library: it asks Prometheus
// and Alertmanager and stores nothing of its own.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "common/error.hh"
#include "common/version.hh"
#include "nixmon/cli.hh"

using namespace nixmon;
using namespace nixmon::cli;

int main(int argc, char** argv) {
  CLI::App app{
      "nixmon: the fleet's state, alerts and monitoring health from Prometheus and "
      "Alertmanager",
      "nixmon"};
  app.fallthrough();  // the global flags may follow the subcommand
  app.require_subcommand(1);
  GlobalOptions global;
  TestAlertOptions test_alert;
  add_global_flags(app, global);
  auto* hosts = add_hosts_command(app);
  auto* status = add_status_command(app);
  auto* alerts = add_alerts_command(app);
  auto* test = add_test_alert_command(app, test_alert);
  auto* reload = add_reload_command(app);
  app.set_version_flag("--version", std::string(version));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; every usage error exits 2, help and --version 0.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*hosts) return run_hosts(global);
    if (*status) return run_status(global);
    if (*alerts) return run_alerts(global);
    if (*test) return run_test_alert(global, test_alert);
    if (*reload) return run_reload(global);
    return 2;
  } catch (const UsageError& e) {
    fmt::print(stderr, "nixmon: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "nixmon: {}\n", e.what());
    return 1;
  }
}
