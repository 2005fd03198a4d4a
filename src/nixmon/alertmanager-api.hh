#pragma once
// Alertmanager's API v2 (prometheus/alertmanager api/v2/openapi.yaml: gettableAlert,
// gettableSilence, postableAlert) and its /-/reload and /metrics. Parsers take answer text (the
// unit tests feed them); AlertmanagerApi does the requests and throws Error on failure.
#include <chrono>
#include <string>
#include <vector>

#include "nixmon/http-client.hh"
#include "nixmon/json-reading.hh"

namespace nixmon::cli {

// gettableAlert: labels, annotations, receivers[].name, status {state, silencedBy, inhibitedBy}.
struct ManagedAlert {
  Labels labels;
  Labels annotations;
  std::string state;  // "active", "suppressed", "unprocessed"
  std::vector<std::string> receivers;
  std::vector<std::string> silenced_by;
  std::vector<std::string> inhibited_by;
  std::string starts_at;
  std::string fingerprint;
};

// gettableSilence: id, status.state, matchers, createdBy, comment, endsAt.
struct Silence {
  std::string id;
  std::string state;     // "active", "pending", "expired"
  std::string matchers;  // as Alertmanager's own notation: {host="a",alertname=~"X.*"}
  std::string created_by;
  std::string comment;
  std::string ends_at;
};

std::vector<ManagedAlert> parse_managed_alerts(const std::string& body);
std::vector<Silence> parse_silences(const std::string& body);

// RFC 3339 in UTC with milliseconds: "2026-12-01T19:33:34.000Z".
std::string rfc3339(std::chrono::system_clock::time_point t);

// A postableAlerts document of one alert.
std::string postable_alert(const Labels& labels, const Labels& annotations,
                           std::chrono::system_clock::time_point starts_at,
                           std::chrono::system_clock::time_point ends_at);

class AlertmanagerApi {
 public:
  explicit AlertmanagerApi(HttpEndpoint endpoint) : http_(std::move(endpoint)) {}
  // Every alert Alertmanager holds (active, silenced, inhibited); `filter` are matchers such as
  // `alertname="X"`, sent as Alertmanager's filter parameter.
  std::vector<ManagedAlert> alerts(const std::vector<std::string>& filter = {}) const;
  std::vector<Silence> silences() const;
  void post_alerts(const std::string& postable) const;
  std::string metrics() const;
  const HttpEndpoint& http() const { return http_; }

 private:
  HttpEndpoint http_;
};

}  // namespace nixmon::cli
