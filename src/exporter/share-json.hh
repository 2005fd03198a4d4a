#pragma once
// Reading the JSON messages hosts share on NATS (flake/share-message.hh,
// channel/channel-message.hh): the checks every kind of message makes alike. Each throws Error
// saying what is wrong, the text a malformed message is logged with.
//
// Include only from sources of the exporter library: simdjson is its private dependency.
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nixmon::exporter {

// The payload as a JSON object, parsed by `parser` (which owns it): not larger than `max_bytes`.
simdjson::dom::object parse_share_object(simdjson::dom::parser& parser, std::string_view payload,
                                         std::size_t max_bytes);

std::string required_string(simdjson::dom::object o, std::string_view key);  // and non-empty
std::optional<std::string> optional_string(simdjson::dom::object o, std::string_view key);
std::optional<std::int64_t> optional_int(simdjson::dom::object o, std::string_view key);

// Member "fetched_at": a Unix time in seconds, as encoded by share_unix_seconds.
std::chrono::system_clock::time_point required_fetched_at(simdjson::dom::object o);

inline double share_unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace nixmon::exporter
