#include "exporter/channel/channel-message.hh"

#include <simdjson.h>

#include <cmath>

#include "common/error.hh"
#include "common/json-writer.hh"
#include "exporter/channel/channel-upstream.hh"

namespace nixmon::exporter {

std::string encode_channel_message(const ChannelMessage& m) {
  using namespace std::chrono;
  JsonWriter w;
  w.begin_object()
      .field("v", 1)
      .field("channel_url", m.channel_url)
      .field("revision", m.revision)
      .field("fetched_at", duration<double>(m.fetched_at.time_since_epoch()).count())
      .field("host", m.host)
      .end_object();
  return w.take();
}

namespace {

std::string required_string(simdjson::dom::object o, std::string_view key) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS || v.empty())
    throw Error(fmt::format("member \"{}\" missing or not a non-empty string", key));
  return std::string(v);
}

}  // namespace

ChannelMessage decode_channel_message(std::string_view payload) {
  if (payload.size() > max_channel_message_bytes)
    throw Error(fmt::format("message of {} bytes is larger than {}", payload.size(),
                            max_channel_message_bytes));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(payload.data(), payload.size()).get(doc))
    throw Error(fmt::format("not JSON ({})", simdjson::error_message(err)));
  simdjson::dom::object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) throw Error("not a JSON object");
  std::int64_t version;
  if (o["v"].get_int64().get(version) != simdjson::SUCCESS || version != 1)
    throw Error("unknown message version (want \"v\":1)");
  ChannelMessage m;
  m.channel_url = required_string(o, "channel_url");
  m.host = required_string(o, "host");
  auto rev = parse_git_revision(required_string(o, "revision"));
  if (!rev) throw Error("member \"revision\" is not a git revision");
  m.revision = *rev;
  double at;
  if (o["fetched_at"].get_double().get(at) != simdjson::SUCCESS || !std::isfinite(at) || at < 0 ||
      at > 1e11)
    throw Error("member \"fetched_at\" missing or not a Unix time");
  m.fetched_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(at)));
  return m;
}

}  // namespace nixmon::exporter
