// nixmon alerts: what fires and what is about to, by host. Firing alerts come from Alertmanager
// (/api/v2/alerts, with their silences and inhibitions), pending ones from Prometheus
// (/api/v1/alerts: Alertmanager never sees an alert before its `for:` has passed); the active
// silences (/api/v2/silences) follow.
#include <fmt/format.h>

#include <algorithm>

#include "common/json-writer.hh"
#include "nixmon/cli.hh"
#include "nixmon/host-state.hh"

namespace nixmon::cli {

CLI::App* add_alerts_command(CLI::App& app) {
  return app.add_subcommand(
      "alerts", "Firing (Alertmanager) and pending (Prometheus) alerts by host, with silences");
}

namespace {

struct AlertRow {
  std::string host, alertname, severity, state, since, silenced_by, summary;
};

}  // namespace

int run_alerts(const GlobalOptions& options) {
  auto alertmanager = options.alertmanager_api();
  auto prometheus = options.prometheus_api();
  auto managed = alertmanager.alerts();
  auto silences = alertmanager.silences();
  auto rule_alerts = prometheus.alerts();

  std::vector<AlertRow> rows;
  for (const auto& a : managed) {
    std::string state = !a.silenced_by.empty()    ? "silenced"
                        : !a.inhibited_by.empty() ? "inhibited"
                                                  : "firing";
    rows.push_back({host_of(a.labels), label(a.labels, "alertname"), label(a.labels, "severity"),
                    state, a.starts_at, join(a.silenced_by, ","), label(a.annotations, "summary")});
  }
  for (const auto& a : rule_alerts) {
    if (a.state != "pending") continue;
    rows.push_back({host_of(a.labels), label(a.labels, "alertname"), label(a.labels, "severity"),
                    "pending", a.active_at, "", ""});
  }
  auto state_rank = [](const std::string& s) {
    return s == "firing" ? 0 : s == "pending" ? 1 : s == "inhibited" ? 2 : 3;
  };
  auto severity_rank = [](const std::string& s) {
    return s == "critical" ? 0 : s == "warning" ? 1 : s == "info" ? 2 : 3;
  };
  std::sort(rows.begin(), rows.end(), [&](const AlertRow& a, const AlertRow& b) {
    return std::tuple(a.host, state_rank(a.state), severity_rank(a.severity), a.alertname) <
           std::tuple(b.host, state_rank(b.state), severity_rank(b.severity), b.alertname);
  });
  std::erase_if(silences, [](const Silence& s) { return s.state == "expired"; });

  switch (options.format()) {
    case OutputFormat::json: {
      JsonWriter w;
      w.begin_object().key("alerts").begin_array();
      for (const auto& r : rows) {
        w.begin_object().field("host", r.host).field("alertname", r.alertname);
        w.field("severity", r.severity).field("state", r.state).field("since", r.since);
        w.field("silenced_by", r.silenced_by).field("summary", r.summary).end_object();
      }
      w.end_array().key("silences").begin_array();
      for (const auto& s : silences) {
        w.begin_object().field("id", s.id).field("state", s.state).field("matchers", s.matchers);
        w.field("created_by", s.created_by).field("comment", s.comment);
        w.field("ends_at", s.ends_at).end_object();
      }
      w.end_array().end_object();
      fmt::print("{}\n", w.str());
      return 0;
    }
    case OutputFormat::csv:
      fmt::print("{}", csv_record({"host", "alertname", "severity", "state", "since", "silenced_by",
                                   "summary"}));
      for (const auto& r : rows)
        fmt::print("{}", csv_record({r.host, r.alertname, r.severity, r.state, r.since,
                                     r.silenced_by, r.summary}));
      return 0;
    case OutputFormat::table:
      break;
  }
  bool colour = use_colour();
  std::string unknown(unknown_cell);
  if (rows.empty()) {
    fmt::print("No alerts firing or pending.\n");
  } else {
    TextTable t({"HOST", "ALERT", "SEVERITY", "STATE", "SINCE", "SUMMARY"});
    for (const auto& r : rows) {
      Colour c = r.state == "firing" ? (r.severity == "critical" ? Colour::red : Colour::yellow)
                                     : Colour::dim;
      t.add({{r.host.empty() ? unknown : r.host},
             {r.alertname, c},
             {r.severity.empty() ? unknown : r.severity},
             {r.state == "silenced" ? "silenced by " + r.silenced_by : r.state, c},
             {r.since},
             {r.summary.empty() ? unknown : r.summary}});
    }
    fmt::print("{}", t.render(colour));
  }
  if (!silences.empty()) {
    fmt::print("\nSilences:\n");
    TextTable t({"ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"});
    for (const auto& s : silences)
      t.add({{s.id}, {s.state}, {s.matchers}, {s.ends_at}, {s.created_by}, {s.comment}});
    fmt::print("{}", t.render(colour));
  }
  return 0;
}

}  // namespace nixmon::cli
