#include "exporter/options.hh"

#include <algorithm>

#include "exporter/collector.hh"

namespace nixmon::exporter {

void add_exporter_flags(CLI::App& app, ExporterOptions& o) {
  app.add_option("--listen,--web.listen-address", o.listen,
                 "Address to listen on (host:port or :port)")
      ->capture_default_str();
  app.add_option(
         "--path.root", o.root,
         "Where the host's / is: every host path is read below it (for containers and tests)")
      ->capture_default_str();
  app.add_option("--scrape.timeout", o.scrape_timeout,
                 "How long a scrape waits for a collector before reporting it failed (Go duration)")
      ->capture_default_str();
  app.add_option("--log.level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--web.config.file", o.web_config_file,
                 "Exporter-toolkit web config (YAML): TLS, client certificates, basic auth");
  for (const auto& c : collector_table()) {
    std::string name(c.name);
    o.collectors[name] = c.enabled_by_default;
    app.add_flag(
        "--collector." + name + ",!--no-collector." + name, o.collectors[name],
        std::string(c.help) + (c.enabled_by_default ? " (default: on)" : " (default: off)"));
  }
  for (const auto& c : collector_table()) o.setups.push_back(c.setup(app));
  app.add_option("--web.telemetry-path", o.telemetry_path,
                 "Path under which to expose metrics (\"/\": no landing page)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return v.size() > 0 && v[0] == '/' ? "" : "must start with '/'";
          },
          "PATH"));
  app.add_flag("--web.disable-exporter-metrics", o.disable_exporter_metrics,
               "Exclude metrics about the exporter itself (process_*, promhttp_*)");
  app.add_option("--web.max-requests", o.max_requests,
                 "Maximum number of parallel scrape requests (more get 503). Use 0 to disable.")
      ->capture_default_str();
  app.add_flag("--collector.disable-defaults", o.disable_default_collectors,
               "Set all collectors to disabled by default (then only those named by "
               "--collector.<name> run)");
  // node_exporter's DisableDefaultCollectors (collector/collector.go, v1.12), once every flag is
  // parsed: each collector not switched on or off on the command line is off. A collector flag
  // that was given counts whatever its value, as node_exporter's flag action records it.
  app.final_callback([&app, &o] {
    if (!o.disable_default_collectors) return;
    for (auto& [name, enabled] : o.collectors)
      if (app.get_option("--collector." + name)->count() == 0) enabled = false;
  });
}

void parse_exporter_args(CLI::App& app, std::vector<std::string> args) {
  args = normalize_go_style_flags(app, std::move(args));
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  app.parse(args);
}

std::vector<std::string> normalize_go_style_flags(const CLI::App& app,
                                                  std::vector<std::string> args) {
  for (auto& a : args) {
    if (a.size() < 3 || a[0] != '-' || a[1] == '-') continue;
    std::string name = a.substr(1, a.find('=') - 1);
    if (name.size() < 2) continue;
    for (const CLI::Option* opt : app.get_options()) {
      const auto& longs = opt->get_lnames();
      const auto& negs = opt->get_fnames();
      bool known = std::find(longs.begin(), longs.end(), name) != longs.end() ||
                   std::find(negs.begin(), negs.end(), name) != negs.end();
      if (known) {
        a.insert(a.begin(), '-');
        break;
      }
    }
  }
  return args;
}

}  // namespace nixmon::exporter
