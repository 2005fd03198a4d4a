// The API answers nixmon reads, as text. Shapes follow Prometheus' HTTP API documentation
// (docs/querying/api.md: instant query, targets, rules, alerts) and Alertmanager's
// api/v2/openapi.yaml (gettableAlert, gettableSilence, postableAlert); the e2e test reads the
// same from the real servers.
#include <gtest/gtest.h>

#include "common/error.hh"
#include "nixmon/alertmanager-api.hh"
#include "nixmon/http-client.hh"
#include "nixmon/metrics-text.hh"
#include "nixmon/prometheus-api.hh"

using namespace nixmon;
using namespace nixmon::cli;

TEST(PrometheusAnswer, VectorWithLabelsAndValues) {
  auto v = parse_query_vector(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"__name__":"up","job":"nixos","host":"a"},"value":[1700000000.5,"1"]},
    {"metric":{"job":"nod"},"value":[1700000000.5,"4.2e+09"]},
    {"metric":{"job":"x"},"value":[1700000000.5,"NaN"]},
    {"metric":{"job":"y"},"value":[1700000000.5,"+Inf"]}]}})");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].labels.at("__name__"), "up");
  EXPECT_EQ(v[0].labels.at("host"), "a");
  EXPECT_EQ(v[0].value, 1.0);
  EXPECT_EQ(v[1].value, 4.2e9);
  // NaN and infinities are no figure a table can show: unknown, not 0.
  EXPECT_FALSE(v[2].value.has_value());
  EXPECT_FALSE(v[3].value.has_value());
}

TEST(PrometheusAnswer, ErrorNamesPrometheusReason) {
  try {
    parse_query_vector(
        R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"})");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_data: 1:5: parse error"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_query_vector("<html>proxy error</html>"), Error);
  EXPECT_THROW(
      parse_query_vector(R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
      Error);
}

TEST(PrometheusAnswer, TargetsRulesAlerts) {
  auto t = parse_targets(R"({"status":"success","data":{"activeTargets":[
    {"labels":{"job":"nixos","instance":"127.0.0.1:9971","host":"web1"},"health":"down",
     "lastError":"connection refused","scrapeUrl":"http://127.0.0.1:9971/metrics"}],
    "droppedTargets":[]}})");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].health, "down");
  EXPECT_EQ(t[0].last_error, "connection refused");
  EXPECT_EQ(t[0].labels.at("host"), "web1");

  auto r = parse_rules(R"({"status":"success","data":{"groups":[{"name":"nixos","rules":[
    {"name":"NixosRebootRequired","health":"ok","lastError":"","type":"alerting"},
    {"name":"Bad","health":"err","lastError":"many-to-many matching not allowed","type":"alerting"}]}]}})");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].group, "nixos");
  EXPECT_EQ(r[1].health, "err");
  EXPECT_EQ(r[1].last_error, "many-to-many matching not allowed");

  auto a = parse_prometheus_alerts(R"({"status":"success","data":{"alerts":[
    {"labels":{"alertname":"X","host":"web1"},"annotations":{},"state":"pending",
     "activeAt":"2026-12-01T10:00:00Z","value":"1e+00"}]}})");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].state, "pending");
  EXPECT_EQ(a[0].active_at, "2026-12-01T10:00:00Z");
}

TEST(AlertmanagerAnswer, AlertsWithReceiversAndSilences) {
  auto a = parse_managed_alerts(R"([{"annotations":{"summary":"s"},"endsAt":"2026-12-01T11:00:00Z",
    "fingerprint":"abc","receivers":[{"name":"ops"},{"name":"pager"}],
    "startsAt":"2026-12-01T10:00:00Z","updatedAt":"2026-12-01T10:00:00Z",
    "status":{"inhibitedBy":[],"silencedBy":["5f1"],"state":"suppressed"},
    "labels":{"alertname":"X","host":"web1"}}])");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].receivers, (std::vector<std::string>{"ops", "pager"}));
  EXPECT_EQ(a[0].silenced_by, (std::vector<std::string>{"5f1"}));
  EXPECT_EQ(a[0].state, "suppressed");
  EXPECT_EQ(a[0].annotations.at("summary"), "s");

  auto s = parse_silences(R"([{"id":"5f1","status":{"state":"active"},"updatedAt":"x",
    "matchers":[{"name":"host","value":"web1","isRegex":false,"isEqual":true},
                {"name":"alertname","value":"Nixos.*","isRegex":true},
                {"name":"severity","value":"info","isRegex":false,"isEqual":false}],
    "startsAt":"a","endsAt":"2026-12-02T00:00:00Z","createdBy":"ops","comment":"maintenance"}])");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].matchers, R"({host="web1",alertname=~"Nixos.*",severity!="info"})");
  EXPECT_EQ(s[0].comment, "maintenance");
  EXPECT_THROW(parse_silences(R"({"not":"a list"})"), Error);
}

TEST(AlertmanagerAnswer, PostableAlertAndTimes) {
  using namespace std::chrono;
  auto t = system_clock::time_point(milliseconds(1764585214123));
  EXPECT_EQ(rfc3339(t), "2025-12-01T10:33:34.123Z");
  EXPECT_EQ(postable_alert({{"alertname", "T"}, {"host", "a\"b"}}, {{"summary", "x"}}, t,
                           t + seconds(60)),
            R"([{"labels":{"alertname":"T","host":"a\"b"},"annotations":{"summary":"x"},)"
            R"("startsAt":"2025-12-01T10:33:34.123Z","endsAt":"2025-12-01T10:34:34.123Z"}])");
}

TEST(MetricsText, SamplesByNameAndLabels) {
  auto m = parse_metrics_text(
      "# HELP alertmanager_notifications_total The total number of attempted notifications.\n"
      "# TYPE alertmanager_notifications_total counter\n"
      "alertmanager_notifications_total{integration=\"email\"} 0\n"
      "alertmanager_notifications_total{integration=\"webhook\"} 3\n"
      "alertmanager_config_hash 2.3408569e+14\n"
      "weird{a=\"x\\\"y\"} 1 1700000000000\n"
      "broken{a=\"x} 1\n");
  EXPECT_EQ(sum_of(m, "alertmanager_notifications_total"), 3.0);
  EXPECT_EQ(sum_of(m, "alertmanager_notifications_total", {{"integration", "email"}}), 0.0);
  EXPECT_EQ(sum_of(m, "alertmanager_config_hash"), 2.3408569e14);
  EXPECT_EQ(select(m, "weird").at(0).labels.at("a"), "x\"y");
  EXPECT_TRUE(select(m, "broken").empty());
  // Absent is unknown, not 0.
  EXPECT_FALSE(sum_of(m, "prometheus_config_last_reload_successful").has_value());
}

TEST(BaseUrl, SchemesPortsPrefixes) {
  auto u = parse_base_url("http://127.0.0.1:9090");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme_host_port, "http://127.0.0.1:9090");
  EXPECT_EQ(u->prefix, "");
  u = parse_base_url("https://mon.example.org/prometheus/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme_host_port, "https://mon.example.org");
  EXPECT_EQ(u->prefix, "/prometheus");
  EXPECT_TRUE(parse_base_url("http://[::1]:9093"));
  EXPECT_FALSE(parse_base_url("localhost:9090"));
  EXPECT_FALSE(parse_base_url("http://"));
  EXPECT_FALSE(parse_base_url("http://host:port"));
  EXPECT_FALSE(parse_base_url("http://host:9090/x?y=1"));
  EXPECT_FALSE(parse_base_url("ftp://host"));
  EXPECT_THROW(HttpEndpoint("Prometheus", "localhost:9090", std::chrono::seconds(1)), UsageError);
  EXPECT_EQ(url_encode("up{job=\"a b\"}"), "up%7Bjob%3D%22a%20b%22%7D");
}
