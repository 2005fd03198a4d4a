// nixmon status: the monitoring itself. Scrape targets (Prometheus /api/v1/targets), the
// exporter's failing collectors (nixos_exporter_collector_success == 0), rules that fail to
// evaluate (/api/v1/rules health and lastError), whether the last config reload of Prometheus and
// Alertmanager worked (their own /metrics: prometheus_config_last_reload_successful,
// alertmanager_config_last_reload_successful) and Alertmanager's notifications by integration
// (alertmanager_notifications_total, alertmanager_notifications_failed_total).
#include <fmt/format.h>

#include <map>

#include "common/error.hh"
#include "common/json-writer.hh"
#include "nixmon/cli.hh"
#include "nixmon/host-state.hh"
#include "nixmon/metrics-text.hh"

namespace nixmon::cli {

CLI::App* add_status_command(CLI::App& app) {
  return app.add_subcommand(
      "status",
      "The monitoring itself: targets up/down with the last scrape error, failing collectors, "
      "failing rules, config reloads, Alertmanager's notifications; exit 1 if any is unhealthy");
}

namespace {

struct Reload {
  std::string server;
  std::optional<bool> ok;  // nullopt: the server or its series could not be read
  std::string detail;
};

struct Notifications {
  std::string integration;
  std::optional<double> sent, failed;
};

}  // namespace

int run_status(const GlobalOptions& options) {
  auto prometheus = options.prometheus_api();
  auto alertmanager = options.alertmanager_api();

  auto targets = prometheus.targets();
  auto rules = prometheus.rules();
  auto collectors = prometheus.query("nixos_exporter_collector_success == 0");
  std::vector<Reload> reloads;
  auto prom_metrics = parse_metrics_text(prometheus.metrics());
  auto prom_ok = sum_of(prom_metrics, "prometheus_config_last_reload_successful");
  reloads.push_back({"prometheus", prom_ok ? std::optional(*prom_ok == 1) : std::nullopt,
                     prom_ok ? "" : "no prometheus_config_last_reload_successful"});
  std::vector<Notifications> notifications;
  try {
    auto am_metrics = parse_metrics_text(alertmanager.metrics());
    auto am_ok = sum_of(am_metrics, "alertmanager_config_last_reload_successful");
    reloads.push_back({"alertmanager", am_ok ? std::optional(*am_ok == 1) : std::nullopt,
                       am_ok ? "" : "no alertmanager_config_last_reload_successful"});
    std::map<std::string, Notifications> by_integration;
    for (const auto& s : select(am_metrics, "alertmanager_notifications_total")) {
      auto i = label(s.labels, "integration");
      by_integration[i].integration = i;
      by_integration[i].sent = s.value;
    }
    for (const auto& s : select(am_metrics, "alertmanager_notifications_failed_total")) {
      auto i = label(s.labels, "integration");
      by_integration[i].integration = i;
      // Newer Alertmanagers split failures by reason: add them up.
      if (s.value) by_integration[i].failed = by_integration[i].failed.value_or(0) + *s.value;
    }
    for (auto& [_, n] : by_integration) notifications.push_back(n);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    reloads.push_back({"alertmanager", std::nullopt, e.what()});
  }

  std::size_t down = 0, rules_failing = 0;
  for (const auto& t : targets) down += t.health != "up";
  for (const auto& r : rules) rules_failing += r.health != "ok";
  bool unhealthy = down > 0 || rules_failing > 0 || !collectors.empty();
  for (const auto& r : reloads) unhealthy = unhealthy || r.ok != true;

  if (options.format() == OutputFormat::json) {
    JsonWriter w;
    w.begin_object().key("targets").begin_array();
    for (const auto& t : targets) {
      w.begin_object().field("job", label(t.labels, "job"));
      w.field("instance", label(t.labels, "instance")).field("host", host_of(t.labels));
      w.field("health", t.health).field("last_error", t.last_error).end_object();
    }
    w.end_array().key("failing_collectors").begin_array();
    for (const auto& c : collectors) {
      w.begin_object().field("host", host_of(c.labels)).field("job", label(c.labels, "job"));
      w.field("collector", label(c.labels, "collector")).end_object();
    }
    w.end_array().key("failing_rules").begin_array();
    for (const auto& r : rules) {
      if (r.health == "ok") continue;
      w.begin_object().field("group", r.group).field("rule", r.name).field("health", r.health);
      w.field("last_error", r.last_error).end_object();
    }
    w.end_array().key("config_reload").begin_array();
    for (const auto& r : reloads) {
      w.begin_object().field("server", r.server).key("successful");
      if (r.ok)
        w.value(*r.ok);
      else
        w.null();
      w.field("detail", r.detail).end_object();
    }
    w.end_array().key("notifications").begin_array();
    for (const auto& n : notifications) {
      w.begin_object().field("integration", n.integration).key("sent");
      n.sent ? w.value(*n.sent) : w.null();
      w.key("failed");
      n.failed ? w.value(*n.failed) : w.null();
      w.end_object();
    }
    w.end_array().field("healthy", !unhealthy).end_object();
    fmt::print("{}\n", w.str());
    return unhealthy ? 1 : 0;
  }

  bool colour = options.format() == OutputFormat::table && use_colour();
  std::string unknown(unknown_cell);
  fmt::print("Targets: {} up, {} not up\n", targets.size() - down, down);
  TextTable t({"JOB", "INSTANCE", "HOST", "HEALTH", "LAST ERROR"});
  for (const auto& x : targets)
    t.add({{label(x.labels, "job")},
           {label(x.labels, "instance")},
           {host_of(x.labels)},
           {x.health, x.health == "up" ? Colour::green : Colour::red},
           // Prometheus' lastError is empty after a good scrape: no error, which is known; "-"
           // only where a target that is not up gave no reason.
           {!x.last_error.empty() ? x.last_error
            : x.health == "up"    ? std::string("none")
                                  : unknown}});
  fmt::print("{}\n", t.render(colour));

  fmt::print("Failing collectors: {}\n", collectors.size());
  if (!collectors.empty()) {
    TextTable c({"HOST", "JOB", "COLLECTOR"});
    for (const auto& x : collectors)
      c.add({{host_of(x.labels)},
             {label(x.labels, "job")},
             {label(x.labels, "collector"), Colour::red}});
    fmt::print("{}", c.render(colour));
  }
  fmt::print("\nRules: {} evaluating, {} failing\n", rules.size() - rules_failing, rules_failing);
  if (rules_failing) {
    TextTable r({"GROUP", "RULE", "HEALTH", "LAST ERROR"});
    for (const auto& x : rules)
      if (x.health != "ok")
        r.add({{x.group},
               {x.name},
               {x.health, Colour::red},
               {x.last_error.empty() ? unknown : x.last_error}});
    fmt::print("{}", r.render(colour));
  }
  fmt::print("\nConfig reload:\n");
  TextTable r({"SERVER", "LAST RELOAD", "DETAIL"});
  for (const auto& x : reloads)
    r.add({{x.server},
           !x.ok   ? Cell{unknown}
           : *x.ok ? Cell{"successful", Colour::green}
                   : Cell{"failed", Colour::red},
           {x.detail.empty() ? unknown : x.detail}});
  fmt::print("{}", r.render(colour));
  fmt::print("\nNotifications since Alertmanager started:\n");
  TextTable n({"INTEGRATION", "SENT", "FAILED"});
  for (const auto& x : notifications) {
    auto num = [&](const std::optional<double>& v) {
      return v ? fmt::format("{}", static_cast<long long>(*v)) : unknown;
    };
    n.add({{x.integration},
           {num(x.sent)},
           {num(x.failed), x.failed.value_or(0) > 0 ? Colour::red : Colour::none}});
  }
  fmt::print("{}", n.render(colour));
  return unhealthy ? 1 : 0;
}

}  // namespace nixmon::cli
