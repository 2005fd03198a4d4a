// parse_generation_link: names of entries in /nix/var/nix/profiles (anyone who can write a profile
// directory chooses them). Property: the number read is the one of the canonical name, as Nix's
// own parser (string2Int) also reads "system-01-link" as generation 1.
#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "exporter/host/nixos-system.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  for (std::string_view profile : {"system", "per-user", ""}) {
    auto n = nixmon::exporter::parse_generation_link(name, profile);
    if (n && nixmon::exporter::parse_generation_link(fmt::format("{}-{}-link", profile, *n),
                                                     profile) != n)
      std::abort();
  }
  return 0;
}
