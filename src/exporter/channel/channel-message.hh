#pragma once
// The message hosts exchange on the channel NATS subject after asking a channel's upstream for its
// revision. One small JSON object, versioned by "v":
//
//   {"v":1,"channel_url":"https://channels.nixos.org/nixos-25.05","revision":"<40 hex>",
//    "fetched_at":1700000123.5,"host":"web1-3fa9c2d1"}
#include <chrono>
#include <string>
#include <string_view>

namespace nixmon::exporter {

inline constexpr std::size_t max_channel_message_bytes = 4 << 10;

struct ChannelMessage {
  std::string channel_url;
  std::string revision;
  std::chrono::system_clock::time_point fetched_at;
  std::string host;  // the sender's host id
};

std::string encode_channel_message(const ChannelMessage& m);

// Throws Error saying what is wrong: not JSON, not an object, a missing or mistyped member, a
// revision that is no git revision, larger than max_channel_message_bytes, an unknown version.
ChannelMessage decode_channel_message(std::string_view payload);

}  // namespace nixmon::exporter
