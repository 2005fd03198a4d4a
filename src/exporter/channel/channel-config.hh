#pragma once
// The channel collector's configuration: how often each root channel's upstream revision is
// checked, how long one HTTP request may take, and NATS sharing (the flake collector's scheme, on
// a subject of its own).
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "exporter/upstream-share.hh"

namespace nixmon::exporter {

inline constexpr const char* channel_nats_subject = "nixos-exporter.channel-rev";

struct ChannelConfig : NatsSharing {
  ChannelConfig() : NatsSharing(channel_nats_subject) {}

  // Off for hosts that cannot reach their channels' servers: host-side series only.
  bool check_upstream = true;
  std::chrono::milliseconds check_interval{std::chrono::hours(1)};
  // Connect, send and each receive alike; a check of one channel never takes much longer.
  std::chrono::milliseconds http_timeout{std::chrono::seconds(30)};
  // Names this process in shared messages; empty: "<hostname>-<random>".
  std::string host_id;
};

// The flags as typed: strings for durations so the error names the flag.
struct ChannelFlags : NatsSharing {
  ChannelFlags() : NatsSharing(channel_nats_subject) {}

  bool check_upstream = true;
  std::string check_interval = "1h";
  std::string http_timeout = "30s";
};

void add_channel_flags(CLI::App& app, ChannelFlags& flags);

// Checks the flags for an enabled channel collector. Throws UsageError: a bad or non-positive
// duration, both NATS credentials kinds at once, an empty subject.
ChannelConfig make_channel_config(const ChannelFlags& flags);

}  // namespace nixmon::exporter
