#include "exporter/flake/share-message.hh"

#include <simdjson.h>

#include <cmath>

#include "common/error.hh"
#include "common/exposition.hh"
#include "common/json-writer.hh"

namespace nixmon::exporter {

std::string encode_share_message(const ShareMessage& m) {
  using namespace std::chrono;
  JsonWriter w;
  w.begin_object().field("v", 1).field("flake_url", m.flake_url);
  if (m.metadata.revision) w.field("revision", *m.metadata.revision);
  if (m.metadata.last_modified) w.field("last_modified", *m.metadata.last_modified);
  w.field("fetched_at", duration<double>(m.fetched_at.time_since_epoch()).count());
  w.field("host", m.host);
  w.key("inputs").begin_array();
  for (const auto& in : m.metadata.inputs) {
    w.begin_object().field("name", in.name).field("type", in.type);
    if (in.rev) w.field("rev", *in.rev);
    if (in.last_modified) w.field("last_modified", *in.last_modified);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

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

}  // namespace

ShareMessage decode_share_message(std::string_view payload) {
  if (payload.size() > max_share_message_bytes)
    throw Error(fmt::format("message of {} bytes is larger than {}", payload.size(),
                            max_share_message_bytes));
  simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(payload.data(), payload.size()).get(doc))
    throw Error(fmt::format("not JSON ({})", simdjson::error_message(err)));
  object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) throw Error("not a JSON object");
  auto version = optional_int(o, "v");
  if (version != 1) throw Error("unknown message version (want \"v\":1)");
  ShareMessage m;
  m.flake_url = required_string(o, "flake_url");
  m.host = required_string(o, "host");
  m.metadata.revision = optional_string(o, "revision");
  m.metadata.last_modified = optional_int(o, "last_modified");
  double at;
  if (o["fetched_at"].get_double().get(at) != simdjson::SUCCESS || !std::isfinite(at) || at < 0 ||
      at > 1e11)
    throw Error("member \"fetched_at\" missing or not a Unix time");
  m.fetched_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(at)));
  simdjson::dom::array inputs;
  auto e = o["inputs"];
  if (e.error() != simdjson::NO_SUCH_FIELD) {
    if (e.get_array().get(inputs) != simdjson::SUCCESS)
      throw Error("member \"inputs\" is not an array");
    for (element item : inputs) {
      object io;
      if (item.get_object().get(io) != simdjson::SUCCESS)
        throw Error("an element of \"inputs\" is not an object");
      FlakeInput in;
      in.name = required_string(io, "name");
      in.type = required_string(io, "type");
      in.rev = optional_string(io, "rev");
      in.last_modified = optional_int(io, "last_modified");
      m.metadata.inputs.push_back(std::move(in));
    }
  }
  return m;
}

}  // namespace nixmon::exporter
