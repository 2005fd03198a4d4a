// nixos-exporter: Prometheus metrics of a NixOS host. A thin shell over the exporter library.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "common/duration.hh"
#include "common/error.hh"
#include "common/host-root.hh"
#include "common/http-server.hh"
#include "common/log.hh"
#include "common/shutdown.hh"
#include "common/top-level.hh"
#include "common/version.hh"
#include "exporter/collector.hh"
#include "exporter/options.hh"
#include "exporter/scraper.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {

int run(const ExporterOptions& o) {
  log::set_level(log::parse_level(o.log_level));
  auto timeout = parse_positive_duration("--scrape.timeout", o.scrape_timeout);
  auto address = parse_listen_address(o.listen);
  check_root_directory(o.root, "--path.root");
  HttpServer::Options http;
  http.title = "NixOS Exporter";
  http.metrics_path = o.telemetry_path;
  http.max_requests = o.max_requests;
  http.exporter_metrics = !o.disable_exporter_metrics;
  if (!o.web_config_file.empty()) {
    http.web = load_web_config(o.web_config_file);
    http.web_config_file = o.web_config_file;
  }

  // Before any thread starts, so every thread inherits the blocked signals.
  ShutdownSignals signals;

  auto table = collector_table();
  for (std::size_t i = 0; i < table.size(); ++i)
    o.setups[i]->configure(o.collectors.at(std::string(table[i].name)));
  CollectorContext ctx{HostRoot(o.root)};
  std::vector<Scraper::Named> enabled;
  std::string names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    std::string name(table[i].name);
    if (!o.collectors.at(name)) continue;
    enabled.push_back({name, o.setups[i]->make(ctx)});
    names += (names.empty() ? "" : ",") + name;
  }
  Scraper scraper(std::move(enabled), timeout, build_info_metrics());

  bool http_tls = http.web.tls.has_value();
  bool http_auth = !http.web.basic_auth_users.empty();
  HttpServer server(std::move(http), [&scraper] { return scraper.scrape(); });
  int port = server.bind(address);
  signals.on_signal([&server](int sig) {
    log::info("received signal {}, shutting down", sig);
    server.stop();
  });
  log::info("nixos-exporter {} listening on {}:{} root={} collectors={} tls={} basic_auth={}",
            version, address.host.empty() ? "0.0.0.0" : address.host, port, o.root, names,
            http_tls ? "on" : "off", http_auth ? "on" : "off");
  server.serve();
  log::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena (64 MiB reserved, pages kept after use);
  // an exporter's allocations are small and short, so two arenas serve all workers.
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"nixos-exporter: Prometheus metrics of a NixOS host", "nixos-exporter"};
  ExporterOptions options;
  add_exporter_flags(app, options);
  app.set_version_flag("--version", std::string(version));
  try {
    parse_exporter_args(app, {argv + 1, argv + argc});
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (--help and --version to stdout with status 0); its own codes for
    // usage errors (105 for a bad value, 109 for an unknown flag, ...) are replaced by 2, the
    // status of every usage error here (and of Go's flag packages).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return run_top_level("nixos-exporter", [&] { return run(options); });
}
