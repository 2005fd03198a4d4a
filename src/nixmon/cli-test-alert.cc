// nixmon test-alert: one synthetic alert through Alertmanager, end to end. It is posted
// (POST /api/v2/alerts), found again with the receivers Alertmanager's routes chose for it
// (gettableAlert.receivers, prometheus/alertmanager api/v2/openapi.yaml), its delivery is awaited
// on Alertmanager's own counters (alertmanager_notifications_total and
// alertmanager_notifications_failed_total by integration, /metrics), and it is resolved (endsAt
// now) whatever happened, so no test alert is left firing.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "common/duration.hh"
#include "common/error.hh"
#include "nixmon/cli.hh"
#include "nixmon/metrics-text.hh"

namespace nixmon::cli {

using Clock = std::chrono::system_clock;

CLI::App* add_test_alert_command(CLI::App& app, TestAlertOptions& options) {
  auto* cmd = app.add_subcommand(
      "test-alert",
      "Send a synthetic alert through Alertmanager, show its receivers, wait for its delivery, "
      "then resolve it");
  cmd->add_option("--severity", options.severity, "Its severity label")
      ->check(CLI::IsMember({"critical", "warning", "info"}))
      ->capture_default_str();
  cmd->add_option("--host", options.host, "Its host label (default: this machine's host name)");
  cmd->add_option("--wait", options.wait,
                  "How long to wait for Alertmanager to deliver it (group_wait included)")
      ->capture_default_str();
  return cmd;
}

namespace {

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// Sent and failed notifications per integration ("webhook", "email", ...).
std::map<std::string, std::pair<double, double>> notification_counts(const AlertmanagerApi& am) {
  std::map<std::string, std::pair<double, double>> out;
  auto samples = parse_metrics_text(am.metrics());
  for (const auto& s : select(samples, "alertmanager_notifications_total"))
    if (s.value) out[s.labels.at("integration")].first += *s.value;
  for (const auto& s : select(samples, "alertmanager_notifications_failed_total"))
    if (s.value) out[s.labels.at("integration")].second += *s.value;
  return out;
}

struct Delivery {
  std::vector<std::string> sent, failed;  // integrations whose counters rose
};

// Polls until a counter rose above `before` or `deadline` passes.
Delivery await_delivery(const AlertmanagerApi& am,
                        const std::map<std::string, std::pair<double, double>>& before,
                        std::chrono::steady_clock::time_point deadline) {
  Delivery d;
  while (true) {
    for (const auto& [integration, now] : notification_counts(am)) {
      auto it = before.find(integration);
      auto was = it == before.end() ? std::pair(0.0, 0.0) : it->second;
      if (now.first > was.first) d.sent.push_back(integration);
      if (now.second > was.second) d.failed.push_back(integration);
    }
    if (!d.sent.empty() || !d.failed.empty() || std::chrono::steady_clock::now() >= deadline)
      return d;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// Resolves the posted alert when the run ends, by any path: an exception or a timeout must not
// leave a test alert firing until its endsAt.
class ResolveOnExit {
 public:
  ResolveOnExit(const AlertmanagerApi& am, Labels labels, Labels annotations,
                Clock::time_point start)
      : am_(am), labels_(std::move(labels)), annotations_(std::move(annotations)), start_(start) {}
  ~ResolveOnExit() {
    if (armed_) try {
        resolve();
      } catch (const Error&) {
        // Already failing; its endsAt bounds how long the alert can stay.
      }
  }
  void resolve() {
    armed_ = false;
    am_.post_alerts(postable_alert(labels_, annotations_, start_, Clock::now()));
  }

 private:
  const AlertmanagerApi& am_;
  Labels labels_, annotations_;
  Clock::time_point start_;
  bool armed_ = true;
};

}  // namespace

int run_test_alert(const GlobalOptions& options, const TestAlertOptions& test) {
  auto wait = parse_positive_duration("--wait", test.wait);
  auto am = options.alertmanager_api();
  std::string host = test.host.empty() ? this_host() : test.host;
  auto start = Clock::now();
  std::string id = fmt::format(
      "{}-{}", getpid(),
      std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count());
  Labels labels = {{"alertname", "NixmonTestAlert"},
                   {"severity", test.severity},
                   {"host", host},
                   {"nixmon_test", id}};
  Labels annotations = {
      {"summary", fmt::format("Test alert for {} sent by nixmon test-alert", host)},
      {"description", "A synthetic alert to check that notifications arrive; it resolves itself."}};

  auto before = notification_counts(am);
  // endsAt past the wait: Alertmanager must not resolve it on its own before we do.
  am.post_alerts(
      postable_alert(labels, annotations, start, start + wait + std::chrono::minutes(5)));
  ResolveOnExit guard(am, labels, annotations, start);
  fmt::print("Sent NixmonTestAlert (severity={}, host={}, nixmon_test={}) to {}\n", test.severity,
             host, id, am.http().url(""));

  auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<std::string> receivers;
  while (true) {
    auto found = am.alerts({fmt::format("nixmon_test=\"{}\"", id)});
    if (!found.empty() && !found.front().receivers.empty()) {
      receivers = found.front().receivers;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(
          fmt::format("Alertmanager did not list the test alert within {}", format_duration(wait)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  fmt::print("Routed to receivers: {}\n", join(receivers, ", "));

  auto firing = await_delivery(am, before, deadline);
  int status = 0;
  if (!firing.failed.empty()) {
    fmt::print("Delivery FAILED via: {} (see Alertmanager's log)\n", join(firing.failed, ", "));
    status = 1;
  }
  if (!firing.sent.empty()) fmt::print("Delivered via: {}\n", join(firing.sent, ", "));
  if (firing.sent.empty() && firing.failed.empty()) {
    fmt::print(
        "No notification within {}: the receivers may have no integrations, or "
        "group_wait is longer than --wait\n",
        format_duration(wait));
    status = 1;
  }

  auto before_resolve = notification_counts(am);
  guard.resolve();
  fmt::print("Resolved (endsAt now)\n");
  if (status == 0) {
    auto resolved = await_delivery(am, before_resolve, std::chrono::steady_clock::now() + wait);
    if (!resolved.sent.empty())
      fmt::print("Resolve delivered via: {}\n", join(resolved.sent, ", "));
    else if (!resolved.failed.empty())
      fmt::print("Resolve delivery FAILED via: {}\n", join(resolved.failed, ", "));
    else
      fmt::print(
          "No resolve notification within {} (receivers without send_resolved send "
          "none)\n",
          format_duration(wait));
  }
  return status;
}

}  // namespace nixmon::cli
