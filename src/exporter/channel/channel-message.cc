#include "exporter/channel/channel-message.hh"

#include "common/error.hh"
#include "common/json-writer.hh"
#include "exporter/channel/channel-upstream.hh"
#include "exporter/share-json.hh"

namespace nixmon::exporter {

std::string encode_channel_message(const ChannelMessage& m) {
  JsonWriter w;
  w.begin_object()
      .field("v", 1)
      .field("channel_url", m.channel_url)
      .field("revision", m.revision)
      .field("fetched_at", share_unix_seconds(m.fetched_at))
      .field("host", m.host)
      .end_object();
  return w.take();
}

ChannelMessage decode_channel_message(std::string_view payload) {
  simdjson::dom::parser parser;
  auto o = parse_share_object(parser, payload, max_channel_message_bytes);
  std::int64_t version;
  if (o["v"].get_int64().get(version) != simdjson::SUCCESS || version != 1)
    throw Error("unknown message version (want \"v\":1)");
  ChannelMessage m;
  m.channel_url = required_string(o, "channel_url");
  m.host = required_string(o, "host");
  auto rev = parse_git_revision(required_string(o, "revision"));
  if (!rev) throw Error("member \"revision\" is not a git revision");
  m.revision = *rev;
  m.fetched_at = required_fetched_at(o);
  return m;
}

}  // namespace nixmon::exporter
