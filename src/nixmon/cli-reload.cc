// nixmon reload: POST /-/reload to Prometheus and Alertmanager, then their own word on it: the
// reload answer (Prometheus answers 403 unless started with --web.enable-lifecycle, 500 with the
// config error) and, from /metrics, *_config_last_reload_successful and Alertmanager's
// alertmanager_config_hash.
#include <fmt/format.h>

#include "common/error.hh"
#include "nixmon/cli.hh"
#include "nixmon/metrics-text.hh"

namespace nixmon::cli {

CLI::App* add_reload_command(CLI::App& app) {
  return app.add_subcommand(
      "reload", "Reload Prometheus' and Alertmanager's configuration and report the result");
}

namespace {

struct Outcome {
  bool ok = false;
  std::string detail;
};

Outcome reload(const HttpEndpoint& http, std::string_view success_series,
               std::string_view hash_series) {
  Outcome o;
  try {
    auto reply = http.post("/-/reload", "", "text/plain");
    std::string body = reply.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
    if (reply.status != 200) {
      o.detail = fmt::format("HTTP status {}: {}", reply.status, body.substr(0, 500));
      if (reply.status == 403) o.detail += " (start it with --web.enable-lifecycle)";
      return o;
    }
    auto metrics = parse_metrics_text(http.get_ok("/metrics"));
    auto ok = sum_of(metrics, success_series);
    if (!ok) {
      o.detail = fmt::format("reloaded; {} unknown", success_series);
      return o;
    }
    o.ok = *ok == 1;
    o.detail = o.ok ? "configuration loaded" : "the last reload failed";
    if (!hash_series.empty()) {
      if (auto hash = sum_of(metrics, hash_series))
        o.detail += fmt::format(", config hash {:.0f}", *hash);
    }
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    o.detail = e.what();
  }
  return o;
}

}  // namespace

int run_reload(const GlobalOptions& options) {
  auto prometheus = options.prometheus_api();
  auto alertmanager = options.alertmanager_api();
  bool colour = options.format() == OutputFormat::table && use_colour();
  TextTable t({"SERVER", "RELOAD", "DETAIL"});
  int status = 0;
  auto row = [&](std::string name, const Outcome& o) {
    t.add({{std::move(name)},
           o.ok ? Cell{"ok", Colour::green} : Cell{"failed", Colour::red},
           {o.detail}});
    if (!o.ok) status = 1;
  };
  row("prometheus", reload(prometheus.http(), "prometheus_config_last_reload_successful", ""));
  row("alertmanager", reload(alertmanager.http(), "alertmanager_config_last_reload_successful",
                             "alertmanager_config_hash"));
  fmt::print("{}", t.render(colour));
  return status;
}

}  // namespace nixmon::cli
