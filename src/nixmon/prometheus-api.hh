#pragma once
// Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/): instant
// queries, targets, rules, alerts, and its own /metrics. The parse_* functions read an answer's
// text and are what the unit tests feed; PrometheusApi does the requests. Throws Error on an
// error answer ("status": "error") with Prometheus' own errorType and error.
#include <string>
#include <vector>

#include "nixmon/http-client.hh"
#include "nixmon/json-reading.hh"

namespace nixmon::cli {

// One element of an instant vector; `__name__` is among the labels when Prometheus keeps it.
struct Sample {
  Labels labels;
  std::optional<double> value;  // nullopt for NaN and ±Inf
};

struct ScrapeTarget {
  Labels labels;       // job, instance, host, ...
  std::string health;  // "up", "down", "unknown"
  std::string last_error;
  std::string scrape_url;
};

struct RuleHealth {
  std::string group;
  std::string name;    // alert or record name
  std::string health;  // "ok", "err", "unknown"
  std::string last_error;
};

struct PendingOrFiring {
  Labels labels;
  std::string state;  // "pending", "firing"
  std::string active_at;
};

std::vector<Sample> parse_query_vector(const std::string& body);
std::vector<ScrapeTarget> parse_targets(const std::string& body);
std::vector<RuleHealth> parse_rules(const std::string& body);
std::vector<PendingOrFiring> parse_prometheus_alerts(const std::string& body);

class PrometheusApi {
 public:
  explicit PrometheusApi(HttpEndpoint endpoint) : http_(std::move(endpoint)) {}
  std::vector<Sample> query(const std::string& expr) const;
  // The queries at once, each on its own connection and thread; answers in the same order.
  std::vector<std::vector<Sample>> query_all(const std::vector<std::string>& exprs) const;
  std::vector<ScrapeTarget> targets() const;
  std::vector<RuleHealth> rules() const;
  std::vector<PendingOrFiring> alerts() const;
  std::string metrics() const;  // its own /metrics, exposition text
  const HttpEndpoint& http() const { return http_; }

 private:
  HttpEndpoint http_;
};

}  // namespace nixmon::cli
