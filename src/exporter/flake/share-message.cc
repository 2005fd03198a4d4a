#include "exporter/flake/share-message.hh"

#include "common/error.hh"
#include "common/json-writer.hh"
#include "exporter/share-json.hh"

namespace nixmon::exporter {

std::string encode_share_message(const ShareMessage& m) {
  JsonWriter w;
  w.begin_object().field("v", 1).field("flake_url", m.flake_url);
  if (m.metadata.revision) w.field("revision", *m.metadata.revision);
  if (m.metadata.last_modified) w.field("last_modified", *m.metadata.last_modified);
  w.field("fetched_at", share_unix_seconds(m.fetched_at));
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

ShareMessage decode_share_message(std::string_view payload) {
  simdjson::dom::parser parser;
  auto o = parse_share_object(parser, payload, max_share_message_bytes);
  auto version = optional_int(o, "v");
  if (version != 1) throw Error("unknown message version (want \"v\":1)");
  ShareMessage m;
  m.flake_url = required_string(o, "flake_url");
  m.host = required_string(o, "host");
  m.metadata.revision = optional_string(o, "revision");
  m.metadata.last_modified = optional_int(o, "last_modified");
  m.fetched_at = required_fetched_at(o);
  simdjson::dom::array inputs;
  auto e = o["inputs"];
  if (e.error() != simdjson::NO_SUCH_FIELD) {
    if (e.get_array().get(inputs) != simdjson::SUCCESS)
      throw Error("member \"inputs\" is not an array");
    for (simdjson::dom::element item : inputs) {
      simdjson::dom::object io;
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
