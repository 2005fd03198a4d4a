#pragma once
// Counting the entries the NixOS boot loader installers write.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nixmon::exporter {

// systemd-boot: NixOS writes loader/entries/nixos-generation-N[-specialisation-S].conf; entries
// of other systems (nixos-* excluded) are not counted.
std::size_t count_systemd_boot_entries(const std::vector<std::string>& file_names);

// GRUB: every `menuentry` line of grub.cfg, inside submenus too.
std::size_t count_grub_entries(std::string_view grub_cfg);

}  // namespace nixmon::exporter
