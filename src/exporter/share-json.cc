#include "exporter/share-json.hh"

#include <cmath>

#include "common/error.hh"

namespace nixmon::exporter {

using simdjson::dom::element;
using simdjson::dom::object;

object parse_share_object(simdjson::dom::parser& parser, std::string_view payload,
                          std::size_t max_bytes) {
  if (payload.size() > max_bytes)
    throw Error(fmt::format("message of {} bytes is larger than {}", payload.size(), max_bytes));
  element doc;
  if (auto err = parser.parse(payload.data(), payload.size()).get(doc))
    throw Error(fmt::format("not JSON ({})", simdjson::error_message(err)));
  object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) throw Error("not a JSON object");
  return o;
}

std::string required_string(object o, std::string_view key) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS || v.empty())
    throw Error(fmt::format("member \"{}\" missing or not a non-empty string", key));
  return std::string(v);
}

std::optional<std::string> optional_string(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS)
    throw Error(fmt::format("member \"{}\" is not a string", key));
  return std::string(v);
}

std::optional<std::int64_t> optional_int(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t v;
  if (e.get_int64().get(v) != simdjson::SUCCESS)
    throw Error(fmt::format("member \"{}\" is not an integer", key));
  return v;
}

std::chrono::system_clock::time_point required_fetched_at(object o) {
  double at;
  if (o["fetched_at"].get_double().get(at) != simdjson::SUCCESS || !std::isfinite(at) || at < 0 ||
      at > 1e11)
    throw Error("member \"fetched_at\" missing or not a Unix time");
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(at)));
}

}  // namespace nixmon::exporter
