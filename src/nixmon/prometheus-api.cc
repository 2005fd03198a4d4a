#include "nixmon/prometheus-api.hh"

#include <future>

#include "common/error.hh"

namespace nixmon::cli {

namespace {

// The "data" of a successful answer; an error answer throws with Prometheus' reason.
simdjson::dom::element data_of(simdjson::dom::parser& parser, const std::string& body,
                               std::string_view what) {
  auto doc = parse_json(parser, body, what);
  auto status = json_string(doc, "status");
  if (status != "success") {
    throw Error(fmt::format("{}: {}: {}", what, json_string(doc, "errorType").value_or("error"),
                            json_string(doc, "error").value_or(body.substr(0, 200))));
  }
  simdjson::dom::element data;
  if (doc["data"].get(data)) throw Error(fmt::format("{}: answer without data", what));
  return data;
}

std::string text(std::optional<std::string_view> s) {
  return std::string(s.value_or(""));
}

}  // namespace

std::vector<Sample> parse_query_vector(const std::string& body) {
  simdjson::dom::parser parser;
  auto data = data_of(parser, body, "Prometheus query");
  if (json_string(data, "resultType") != "vector")
    throw Error(fmt::format("Prometheus query: expected a vector, got {}",
                            text(json_string(data, "resultType"))));
  std::vector<Sample> out;
  auto result = json_array(data, "result");
  if (!result) return out;
  for (auto e : *result) {
    Sample s;
    s.labels = json_labels(e, "metric");
    simdjson::dom::array pair;
    std::string_view v;
    if (!e["value"].get_array().get(pair) && !pair.at(1).get_string().get(v))
      s.value = parse_sample_value(v);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ScrapeTarget> parse_targets(const std::string& body) {
  simdjson::dom::parser parser;
  auto data = data_of(parser, body, "Prometheus targets");
  std::vector<ScrapeTarget> out;
  if (auto active = json_array(data, "activeTargets")) {
    for (auto e : *active) {
      out.push_back({json_labels(e, "labels"), text(json_string(e, "health")),
                     text(json_string(e, "lastError")), text(json_string(e, "scrapeUrl"))});
    }
  }
  return out;
}

std::vector<RuleHealth> parse_rules(const std::string& body) {
  simdjson::dom::parser parser;
  auto data = data_of(parser, body, "Prometheus rules");
  std::vector<RuleHealth> out;
  if (auto groups = json_array(data, "groups")) {
    for (auto g : *groups) {
      auto group = text(json_string(g, "name"));
      auto rules = json_array(g, "rules");
      if (!rules) continue;
      for (auto r : *rules) {
        out.push_back({group, text(json_string(r, "name")), text(json_string(r, "health")),
                       text(json_string(r, "lastError"))});
      }
    }
  }
  return out;
}

std::vector<PendingOrFiring> parse_prometheus_alerts(const std::string& body) {
  simdjson::dom::parser parser;
  auto data = data_of(parser, body, "Prometheus alerts");
  std::vector<PendingOrFiring> out;
  if (auto alerts = json_array(data, "alerts")) {
    for (auto a : *alerts) {
      out.push_back({json_labels(a, "labels"), text(json_string(a, "state")),
                     text(json_string(a, "activeAt"))});
    }
  }
  return out;
}

std::vector<Sample> PrometheusApi::query(const std::string& expr) const {
  auto reply = http_.get("/api/v1/query?query=" + url_encode(expr));
  // A bad query answers 400 with an error document: let the parser report Prometheus' reason.
  if (reply.status != 200 && reply.status != 400 && reply.status != 422)
    throw Error(fmt::format("{}: query {}: HTTP status {}: {}", http_.what(), expr, reply.status,
                            reply.body.substr(0, 300)));
  try {
    return parse_query_vector(reply.body);
  } catch (const Error& e) {
    throw Error(fmt::format("{} ({}): {}", http_.url("/api/v1/query"), expr, e.what()));
  }
}

std::vector<std::vector<Sample>> PrometheusApi::query_all(
    const std::vector<std::string>& exprs) const {
  std::vector<std::future<std::vector<Sample>>> pending;
  for (const auto& e : exprs)
    pending.push_back(std::async(std::launch::async, [this, &e] { return query(e); }));
  std::vector<std::vector<Sample>> out;
  for (auto& p : pending) out.push_back(p.get());  // rethrows the first failure
  return out;
}

std::vector<ScrapeTarget> PrometheusApi::targets() const {
  return parse_targets(http_.get_ok("/api/v1/targets?state=active"));
}

std::vector<RuleHealth> PrometheusApi::rules() const {
  return parse_rules(http_.get_ok("/api/v1/rules"));
}

std::vector<PendingOrFiring> PrometheusApi::alerts() const {
  return parse_prometheus_alerts(http_.get_ok("/api/v1/alerts"));
}

std::string PrometheusApi::metrics() const {
  return http_.get_ok("/metrics");
}

}  // namespace nixmon::cli
