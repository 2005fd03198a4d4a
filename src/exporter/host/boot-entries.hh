#pragma once
// Counting the entries the NixOS boot loader installers write.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nixmon::exporter {

// systemd-boot: NixOS writes loader/entries/nixos-generation-N[-specialisation-S].conf; entries
// of other systems (nixos-* excluded) are not counted.
std::size_t count_systemd_boot_entries(const std::vector<std::string>& file_names);
bool is_nixos_systemd_boot_entry(std::string_view file_name);

// GRUB: every `menuentry` line of grub.cfg, inside submenus too.
std::size_t count_grub_entries(std::string_view grub_cfg);

}  // namespace nixmon::exporter

namespace nixmon::exporter {

// The files one boot entry needs, as host paths. A reference that cannot be mapped to a file on
// this host (another system's entry, a Xen entry, an unknown path form) is not a path here: it
// makes the entry `unchecked`, never `missing`.
struct BootEntryFiles {
  std::optional<std::string> kernel;  // the `linux` file
  std::vector<std::string> initrds;   // every `initrd` file, in order
  std::optional<std::string> init;    // the store path of `init=` on the kernel command line
  bool unchecked = false;             // some reference (or the kernel itself) could not be mapped
};

// One systemd-boot entry (loader/entries/nixos-*.conf) as nixpkgs' systemd-boot-builder.py writes
// it: `linux` and `initrd` paths relative to the partition that holds loader/entries (`boot_dir`,
// a host path such as "/boot"), `options init=/nix/store/.../init ...`.
BootEntryFiles parse_systemd_boot_entry(std::string_view conf, std::string_view boot_dir);

// Every menuentry of a grub.cfg written by nixpkgs' install-grub.pl, in file order. `boot_dir` is
// the host path of the GRUB boot directory (the directory holding grub/grub.cfg and kernels/).
std::vector<BootEntryFiles> parse_grub_entries(std::string_view grub_cfg,
                                               std::string_view boot_dir);

}  // namespace nixmon::exporter
