#include "exporter/channel/channel-config.hh"

#include "common/duration.hh"
#include "common/error.hh"

namespace nixmon::exporter {

void add_channel_flags(CLI::App& app, ChannelFlags& f) {
  app.add_flag("--channel.upstream-check,!--no-channel.upstream-check", f.check_upstream,
               "Ask each root channel's upstream for its revision (<URL>/git-revision over "
               "HTTP(S)); off: only what is on the host (default: on)");
  app.add_option("--channel.check-interval", f.check_interval,
                 "Interval between checks of each root channel's upstream revision (Go duration)")
      ->capture_default_str();
  app.add_option("--channel.http-timeout", f.http_timeout,
                 "Timeout of one HTTP request for a channel's git-revision (Go duration)")
      ->capture_default_str();
  add_nats_sharing_flags(
      app, f, "channel",
      "Share channel revisions on NATS: one host of a fleet asks upstream per interval",
      "NATS subject for channel revisions");
}

ChannelConfig make_channel_config(const ChannelFlags& f) {
  check_nats_sharing_flags(f, "channel");
  ChannelConfig c;
  static_cast<NatsSharing&>(c) = f;  // taken as typed
  c.check_upstream = f.check_upstream;
  c.check_interval = parse_positive_duration("--channel.check-interval", f.check_interval);
  c.http_timeout = parse_positive_duration("--channel.http-timeout", f.http_timeout);
  return c;
}

}  // namespace nixmon::exporter
