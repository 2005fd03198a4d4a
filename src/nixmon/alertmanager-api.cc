#include "nixmon/alertmanager-api.hh"

#include <ctime>

#include "common/error.hh"
#include "common/json-writer.hh"

namespace nixmon::cli {

namespace {

std::string text(std::optional<std::string_view> s) {
  return std::string(s.value_or(""));
}

std::vector<std::string> strings(simdjson::dom::element e, std::string_view key) {
  std::vector<std::string> out;
  if (auto a = json_array(e, key)) {
    for (auto v : *a) {
      std::string_view s;
      if (!v.get_string().get(s)) out.emplace_back(s);
    }
  }
  return out;
}

}  // namespace

std::vector<ManagedAlert> parse_managed_alerts(const std::string& body) {
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, body, "Alertmanager alerts");
  simdjson::dom::array alerts;
  if (doc.get_array().get(alerts)) throw Error("Alertmanager alerts: the answer is not a list");
  std::vector<ManagedAlert> out;
  for (auto a : alerts) {
    ManagedAlert m;
    m.labels = json_labels(a, "labels");
    m.annotations = json_labels(a, "annotations");
    if (auto receivers = json_array(a, "receivers")) {
      for (auto r : *receivers) m.receivers.push_back(text(json_string(r, "name")));
    }
    simdjson::dom::element status;
    if (!a["status"].get(status)) {
      m.state = text(json_string(status, "state"));
      m.silenced_by = strings(status, "silencedBy");
      m.inhibited_by = strings(status, "inhibitedBy");
    }
    m.starts_at = text(json_string(a, "startsAt"));
    m.fingerprint = text(json_string(a, "fingerprint"));
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Silence> parse_silences(const std::string& body) {
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, body, "Alertmanager silences");
  simdjson::dom::array silences;
  if (doc.get_array().get(silences)) throw Error("Alertmanager silences: the answer is not a list");
  std::vector<Silence> out;
  for (auto s : silences) {
    Silence v;
    v.id = text(json_string(s, "id"));
    simdjson::dom::element status;
    if (!s["status"].get(status)) v.state = text(json_string(status, "state"));
    std::string m;
    if (auto matchers = json_array(s, "matchers")) {
      for (auto x : *matchers) {
        bool regex = false, equal = true;
        if (x["isRegex"].get_bool().get(regex)) regex = false;
        if (x["isEqual"].get_bool().get(equal)) equal = true;  // absent in older answers
        if (!m.empty()) m += ',';
        m += text(json_string(x, "name"));
        m += equal ? (regex ? "=~" : "=") : (regex ? "!~" : "!=");
        append_json_string(m, json_string(x, "value").value_or(""));
      }
    }
    v.matchers = "{" + m + "}";
    v.created_by = text(json_string(s, "createdBy"));
    v.comment = text(json_string(s, "comment"));
    v.ends_at = text(json_string(s, "endsAt"));
    out.push_back(std::move(v));
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string postable_alert(const Labels& labels, const Labels& annotations,
                           std::chrono::system_clock::time_point starts_at,
                           std::chrono::system_clock::time_point ends_at) {
  JsonWriter w;
  w.begin_array().begin_object();
  w.key("labels").begin_object();
  for (const auto& [k, v] : labels) w.field(k, v);
  w.end_object();
  w.key("annotations").begin_object();
  for (const auto& [k, v] : annotations) w.field(k, v);
  w.end_object();
  w.field("startsAt", rfc3339(starts_at));
  w.field("endsAt", rfc3339(ends_at));
  w.end_object().end_array();
  return w.take();
}

std::vector<ManagedAlert> AlertmanagerApi::alerts(const std::vector<std::string>& filter) const {
  std::string path = "/api/v2/alerts";
  char sep = '?';
  for (const auto& f : filter) {
    path += sep + std::string("filter=") + url_encode(f);
    sep = '&';
  }
  return parse_managed_alerts(http_.get_ok(path));
}

std::vector<Silence> AlertmanagerApi::silences() const {
  return parse_silences(http_.get_ok("/api/v2/silences"));
}

void AlertmanagerApi::post_alerts(const std::string& postable) const {
  auto reply = http_.post("/api/v2/alerts", postable, "application/json");
  if (reply.status != 200)
    throw Error(fmt::format("{}: POST {}: HTTP status {}: {}", http_.what(),
                            http_.url("/api/v2/alerts"), reply.status, reply.body.substr(0, 300)));
}

std::string AlertmanagerApi::metrics() const {
  return http_.get_ok("/metrics");
}

}  // namespace nixmon::cli
