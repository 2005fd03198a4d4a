#pragma once
// Reading a NixOS system's top-level store path (what /run/current-system points to): its version
// record and the parts whose change needs a reboot.
#include <chrono>
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

// The nixpkgs commit date a NixOS version carries, e.g. "25.11.20251019.5e2a59a" -> 2025-10-19.
// The version is nixpkgs' release plus lib.trivial.versionSuffix (nixos/modules/misc/version.nix);
// only a flake sets that suffix to ".<lastModifiedDate, first 8 digits>.<shortRev>"
// (lib/flake-version-info.nix). Channels write ".<revCount>.<rev>" or "pre<revCount>.<rev>", a
// git checkout ".git.<rev>", a plain tree "pre-git": no date, nullopt. So is a flake without
// lastModifiedDate, whose suffix holds the placeholder 19700101.
std::optional<std::chrono::sys_days> nixpkgs_date_from_version(std::string_view nixos_version);

// The Nix implementation of a system, from the store path names its `sw/bin/nix` links through.
struct NixImplementation {
  std::string implementation;  // "nix", "lix" or "determinate"
  std::string version;         // the package's version, e.g. "2.28.3", "2.93.0", "3.8.2"
};

// Classifies one store path name ("<hash>-nix-2.28.3"); nullopt when it is not a Nix package.
// nixpkgs' Nix is pname "nix" (modular packaging/everything.nix and its nix-cli component), Lix
// "lix" (common-lix.nix), Determinate Nix "determinate-nix" from v3.3.0 and "nix" with its own
// 3.x versions before (nix-src packaging/everything.nix, .version-determinate): NixOS/nix has
// no 3.x release, so "nix" at major version 3 is Determinate.
std::optional<NixImplementation> classify_nix_package(std::string_view store_name);

// Follows `<system>/sw/bin/nix` link by link (never running it) and classifies the first store
// path on the way that is a Nix package. nullopt when the system has no sw/bin/nix; implementation
// and version "unknown" when none of the packages it links through is one we know.
std::optional<NixImplementation> read_nix_implementation(const HostRoot& root,
                                                         const std::string& system);

}  // namespace nixmon::exporter
