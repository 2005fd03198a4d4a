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
  add_flake_flags(app, o.flake);
  add_store_flags(app, o.store);
  add_channel_flags(app, o.channel);
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
