#include "nixmon/json-reading.hh"

#include <charconv>
#include <cmath>

#include "common/error.hh"

namespace nixmon::cli {

std::optional<std::string_view> json_string(simdjson::dom::element e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return std::nullopt;
  return s;
}

std::optional<simdjson::dom::array> json_array(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::array a;
  if (e[key].get_array().get(a)) return std::nullopt;
  return a;
}

std::optional<simdjson::dom::object> json_object(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::object o;
  if (e[key].get_object().get(o)) return std::nullopt;
  return o;
}

Labels json_labels(simdjson::dom::element e, std::string_view key) {
  Labels out;
  auto o = json_object(e, key);
  if (!o) return out;
  for (auto field : *o) {
    std::string_view v;
    if (!field.value.get_string().get(v)) out.emplace(std::string(field.key), std::string(v));
  }
  return out;
}

std::string label(const Labels& labels, const std::string& name) {
  auto it = labels.find(name);
  return it == labels.end() ? std::string() : it->second;
}

std::optional<double> parse_sample_value(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& body,
                                  std::string_view what) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body).get(doc))
    throw Error(fmt::format("{}: not JSON ({}): {}", what, simdjson::error_message(err),
                            body.substr(0, 200)));
  return doc;
}

}  // namespace nixmon::cli
