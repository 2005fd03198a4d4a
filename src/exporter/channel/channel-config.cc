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
  app.add_flag("--channel.nats.enable", f.nats_enable,
               "Share channel revisions on NATS: one host of a fleet asks upstream per interval");
  app.add_option("--channel.nats.url", f.nats_url, "NATS server URL")->capture_default_str();
  app.add_option("--channel.nats.subject", f.nats_subject, "NATS subject for channel revisions")
      ->capture_default_str();
  app.add_option("--channel.nats.credentials-file", f.nats_credentials_file,
                 "NATS credentials file (optional)");
  app.add_option("--channel.nats.nkey-seed-file", f.nats_nkey_seed_file,
                 "NATS NKey seed file (optional)");
}

ChannelConfig make_channel_config(const ChannelFlags& f) {
  if (!f.nats_credentials_file.empty() && !f.nats_nkey_seed_file.empty())
    throw UsageError(
        "--channel.nats.credentials-file and --channel.nats.nkey-seed-file exclude each other");
  if (f.nats_enable && f.nats_subject.empty())
    throw UsageError("--channel.nats.subject must not be empty");
  ChannelConfig c;
  c.check_upstream = f.check_upstream;
  c.check_interval = parse_positive_duration("--channel.check-interval", f.check_interval);
  c.http_timeout = parse_positive_duration("--channel.http-timeout", f.http_timeout);
  c.nats_enable = f.nats_enable;
  c.nats_url = f.nats_url;
  c.nats_subject = f.nats_subject;
  c.nats_credentials_file = f.nats_credentials_file;
  c.nats_nkey_seed_file = f.nats_nkey_seed_file;
  return c;
}

}  // namespace nixmon::exporter
