#pragma once
// Reading a NixOS system's top-level store path (what /run/current-system points to): its version
// record and the parts whose change needs a reboot.
#include <optional>
#include <string>
#include <string_view>

#include "common/host-root.hh"

namespace nixmon::exporter {

struct SystemVersion {
  std::optional<std::string> nixos_version;
  std::optional<std::string> nixpkgs_revision;
  std::optional<std::string> configuration_revision;
  std::optional<std::string> kernel_version;
  std::optional<std::string> system;  // e.g. x86_64-linux
};

// Reads `<system>/sw/bin/nixos-version` (the JSON that `nixos-version --json` prints is embedded in
// it), `<system>/nixos-version`, `<system>/system` and the kernel's store name. Missing or
// malformed parts stay nullopt; only an unreadable file throws.
SystemVersion read_system_version(const HostRoot& root, const std::string& system);

// The JSON object embedded in the nixos-version script, parsed. Tolerates anything else around it.
struct NixosVersionJson {
  std::optional<std::string> nixos_version;
  std::optional<std::string> nixpkgs_revision;
  std::optional<std::string> configuration_revision;
};
NixosVersionJson parse_nixos_version_script(std::string_view script);

// "/nix/store/<hash>-linux-6.6.30/bzImage" -> "6.6.30".
std::optional<std::string> kernel_version_from_path(std::string_view kernel_path);

}  // namespace nixmon::exporter
