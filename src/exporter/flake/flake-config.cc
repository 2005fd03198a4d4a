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
  app.add_flag("--flake.nats.enable", f.nats_enable, "Enable NATS cache sharing");
  app.add_option("--flake.nats.url", f.nats_url, "NATS server URL")->capture_default_str();
  app.add_option("--flake.nats.subject", f.nats_subject, "NATS subject for revision updates")
      ->capture_default_str();
  app.add_option("--flake.nats.credentials-file", f.nats_credentials_file,
                 "NATS credentials file (optional)");
  app.add_option("--flake.nats.nkey-seed-file", f.nats_nkey_seed_file,
                 "NATS NKey seed file (optional)");
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
  if (!f.nats_credentials_file.empty() && !f.nats_nkey_seed_file.empty())
    throw UsageError(
        "--flake.nats.credentials-file and --flake.nats.nkey-seed-file exclude each other");
  if (f.nats_enable && f.nats_subject.empty())
    throw UsageError("--flake.nats.subject must not be empty");
  FlakeConfig c;
  c.url = f.url;
  c.check_interval = parse_positive_duration("--flake.check-interval", f.check_interval);
  c.smart_refresh_interval =
      parse_positive_duration("--flake.smart-refresh-interval", f.smart_refresh_interval);
  c.nix_timeout = parse_positive_duration("--flake.nix-timeout", f.nix_timeout);
  c.nix_binary = f.nix_binary;
  c.nats_enable = f.nats_enable;
  c.nats_url = f.nats_url;
  c.nats_subject = f.nats_subject;
  c.nats_credentials_file = f.nats_credentials_file;
  c.nats_nkey_seed_file = f.nats_nkey_seed_file;
  return c;
}

}  // namespace nixmon::exporter
