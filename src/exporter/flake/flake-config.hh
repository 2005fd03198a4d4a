#pragma once
// The flake collector's configuration: the Go nixos-exporter's --flake.* flags, parsed and checked,
// plus the few knobs this implementation adds (nix binary, timeouts, smart-refresh spacing).
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "exporter/upstream-share.hh"

namespace nixmon::exporter {

inline constexpr const char* flake_nats_subject = "nixos-exporter.remote-rev";

struct FlakeConfig : NatsSharing {
  FlakeConfig() : NatsSharing(flake_nats_subject) {}

  std::string url;
  std::chrono::milliseconds check_interval{std::chrono::hours(1)};
  // Smart refresh: while the running system is at the cached remote revision, check at most
  // this often (at once when it is already that long since the last check).
  std::chrono::milliseconds smart_refresh_interval{std::chrono::minutes(5)};
  std::chrono::milliseconds nix_timeout{std::chrono::minutes(2)};
  std::string nix_binary = "nix";
  // Names this process in shared messages; empty: "<hostname>-<random>" (unique per start, so
  // several exporters on one machine, as in tests, still tell each other apart).
  std::string host_id;
};

// The flags as typed: strings for durations so the error names the flag.
struct FlakeFlags : NatsSharing {
  FlakeFlags() : NatsSharing(flake_nats_subject) {}

  std::string url;
  std::string check_interval = "1h";
  std::string smart_refresh_interval = "5m";
  std::string nix_timeout = "2m";
  std::string nix_binary = "nix";
};

void add_flake_flags(CLI::App& app, FlakeFlags& flags);

// Checks the flags for an enabled flake collector. Throws UsageError: no --flake.url, a URL that
// starts with '-' (it would reach nix as an option), a bad or non-positive duration, both NATS
// credentials kinds at once.
FlakeConfig make_flake_config(const FlakeFlags& flags);

}  // namespace nixmon::exporter
