#include "exporter/flake/flake-config.hh"

#include "common/duration.hh"
#include "common/error.hh"

namespace nixmon::exporter {

void add_flake_flags(CLI::App& app, FlakeFlags& f) {
  app.add_option("--flake.url", f.url,
                 "Flake URL for revision comparison (required if the flake collector is enabled)");
  app.add_option("--flake.check-interval", f.check_interval,
                 "Interval between remote flake checks (Go duration)")
      ->capture_default_str();
  app.add_option("--flake.smart-refresh-interval", f.smart_refresh_interval,
                 "While the system runs the cached remote revision, check the remote this often "
                 "(Go duration; capped by --flake.check-interval)")
      ->capture_default_str();
  app.add_option("--flake.nix-timeout", f.nix_timeout,
                 "Kill `nix flake metadata` after this long (Go duration)")
      ->capture_default_str();
  app.add_option("--flake.nix-binary", f.nix_binary,
                 "The nix program to run (looked up in PATH without a slash)")
      ->capture_default_str();
  add_nats_sharing_flags(app, f, "flake", "Enable NATS cache sharing",
                         "NATS subject for revision updates");
}

FlakeConfig make_flake_config(const FlakeFlags& f) {
  if (f.url.empty())
    throw UsageError("--flake.url is required when the flake collector is enabled");
  if (f.url.front() == '-')
    throw UsageError(fmt::format(
        "--flake.url \"{}\" starts with '-': nix would read it as an option, refusing it", f.url));
  for (char c : f.url) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw UsageError("--flake.url contains a control character");
  }
  if (f.nix_binary.empty()) throw UsageError("--flake.nix-binary must not be empty");
  check_nats_sharing_flags(f, "flake");
  FlakeConfig c;
  static_cast<NatsSharing&>(c) = f;  // taken as typed
  c.url = f.url;
  c.check_interval = parse_positive_duration("--flake.check-interval", f.check_interval);
  c.smart_refresh_interval =
      parse_positive_duration("--flake.smart-refresh-interval", f.smart_refresh_interval);
  c.nix_timeout = parse_positive_duration("--flake.nix-timeout", f.nix_timeout);
  c.nix_binary = f.nix_binary;
  return c;
}

}  // namespace nixmon::exporter
