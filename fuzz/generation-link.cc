// parse_generation_link: names of entries in /nix/var/nix/profiles (anyone who can write a profile
// directory chooses them). Property: an accepted name prints back to itself.
#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "exporter/nixos-system.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  for (std::string_view profile : {"system", "per-user", ""}) {
    auto n = nixmon::exporter::parse_generation_link(name, profile);
    if (n && fmt::format("{}-{}-link", profile, *n) != name) std::abort();
  }
  return 0;
}
