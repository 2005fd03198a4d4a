#pragma once
// How a NixOS host records its systems, read through a HostRoot: the system profile and its
// generation links, /run/current-system and /run/booted-system. Shared by the collectors.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host-root.hh"

namespace nixmon::exporter {

inline constexpr std::string_view system_profile = "/nix/var/nix/profiles/system";
inline constexpr std::string_view current_system_link = "/run/current-system";
inline constexpr std::string_view booted_system_link = "/run/booted-system";

// "system-42-link" -> 42 for profile name "system". Anything else (no digits, a sign, leading
// garbage, a number past 2^63) -> nullopt: it is not a generation Nix would have written.
std::optional<std::uint64_t> parse_generation_link(std::string_view link_name,
                                                   std::string_view profile_name);

struct Generation {
  std::uint64_t number = 0;
  std::string link;    // host path of the generation link, e.g. /nix/var/nix/profiles/system-3-link
  std::string target;  // the system it points to, resolved inside the root
};

// The generations of a profile, by number. Throws Error when the profile directory is absent
// (not a NixOS host, or the wrong --path.root) and SysError when it cannot be read.
std::vector<Generation> list_generations(const HostRoot& root,
                                         std::string_view profile = system_profile);

// The system a link like /run/current-system points to, resolved inside the root; nullopt when the
// link does not exist.
std::optional<std::string> resolve_system(const HostRoot& root, std::string_view link);

// The generation whose system is `system`. When several generations hold the same system (a
// rollback, then a switch back), the one the profile points to wins, else the newest.
const Generation* find_generation(const std::vector<Generation>& generations,
                                  std::string_view system, std::optional<std::uint64_t> preferred);

// The generation number the profile link itself points to ("system" -> "system-42-link").
std::optional<std::uint64_t> profile_generation(const HostRoot& root,
                                                std::string_view profile = system_profile);

}  // namespace nixmon::exporter
