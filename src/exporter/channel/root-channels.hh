#pragma once
// What root's channels are on a host, read from the files nix-channel writes (sources: NixOS/nix
// src/nix-channel/nix-channel.cc at tags 2.8.0 and 2.28.0, nixpkgs nixos/lib/make-channel.nix and
// pkgs/top-level/make-tarball.nix):
//
//   /root/.nix-channels              "URL [NAME]" lines (readChannels); with
//   use-xdg-base-directories
//                                    (2.28) /root/.local/state/nix/channels instead
//   /nix/var/nix/profiles/per-user/root/channels -> channels-N-link ->
//   /nix/store/…-user-environment
//       NAME -> /nix/store/<hash>-NAME[-VERSION]/NAME    one unpacked tarball per channel
//       manifest.nix                                     nix-env's, not a channel
//   <channel>/.git-revision          the nixpkgs commit, full or short (make-channel.nix)
//   <channel>/.version-suffix        ".20251019.5e2a59a" (stable), "pre…" (unstable); older
//                                    channels ".1234.abcdef0" (a commit count, no date)
//   <channel>/.version               "25.05"
//
// Thread-safety: free functions without state.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host-root.hh"

namespace nixmon::exporter {

inline constexpr std::string_view root_channels_profile =
    "/nix/var/nix/profiles/per-user/root/channels";
inline constexpr std::string_view root_channel_list = "/root/.nix-channels";
inline constexpr std::string_view root_channel_list_xdg = "/root/.local/state/nix/channels";

struct ListedChannel {
  std::string name;
  std::string url;  // trailing slashes removed, as nix-channel does
  bool operator==(const ListedChannel&) const = default;
};

// A channel list as nix-channel reads it: one "URL [NAME]" per line, split on spaces; lines whose
// first non-blank is '#' are comments; NAME defaults to the URL's last component; a later line of
// the same name replaces an earlier one. Sorted by name. Lines without a URL are skipped.
std::vector<ListedChannel> parse_channel_list(std::string_view text);

// The release date a channel's .version-suffix carries: "[.|pre]YYYYMMDD.<rev>" (nixpkgs has
// dated its suffixes by lastModifiedDate since flakes). nullopt for older suffixes, whose number
// is a commit count, and for anything else.
std::optional<std::chrono::sys_days> release_date_from_version_suffix(std::string_view suffix);

struct InstalledChannel {
  std::string name;
  std::optional<std::string> store_name;  // "<hash>-nixos-24.05", what the profile links to
  std::optional<std::string> revision;    // .git-revision
  std::optional<std::string> version;     // .version + .version-suffix, "25.05.20251019.5e2a59a"
  std::optional<std::chrono::sys_days> release_date;
};

struct RootChannels {
  // nullopt: no list file. Empty vector: a list without channels.
  std::optional<std::vector<ListedChannel>> listed;
  // Set when the list exists but cannot be read (NixOS's exporter unit hides /root).
  std::optional<std::string> list_error;
  std::optional<long> generation;  // channels profile generation, nullopt without a profile
  std::optional<std::chrono::system_clock::time_point> updated_at;  // that generation's link mtime
  std::vector<InstalledChannel> installed;                          // sorted by name
};

// Root's channel list alone (the refresher's source of URLs): `listed` and `list_error` of
// RootChannels.
void read_root_channel_list(const HostRoot& root, RootChannels& out);

// Throws SysError when the profile exists but cannot be read.
RootChannels read_root_channels(const HostRoot& root);

}  // namespace nixmon::exporter
