#include "exporter/collector.hh"
#include "exporter/collectors/collectors.hh"

namespace nixmon::exporter {

namespace {
// The one registration table: explicit, because a static library drops self-registering objects
// nobody references.
constexpr CollectorEntry table[] = {
    {"generation", true, "NixOS system generations: count, current, booted, age, pending boot",
     make_generation_collector},
    {"system", true,
     "nixos_system_info: NixOS version, nixpkgs and configuration revisions, kernel",
     make_system_collector},
    {"reboot", true,
     "Why a reboot is needed: booted vs current kernel, initrd, modules, params, systemd",
     make_reboot_collector},
    {"boot", true, "Boot loader entries and the free space of the filesystem holding /boot",
     make_boot_collector},
    {"upgrade", true,
     "Automatic upgrades: whether the nixos-upgrade timer is enabled, when it last fired",
     make_upgrade_collector},
    {"flake", false,
     "The Go nixos-exporter's flake collector: remote flake revision vs the running system's, "
     "input ages (needs --flake.url; NATS sharing with --flake.nats.enable)",
     make_flake_collector},
    {"store", true,
     "The Nix store database: valid paths, NAR sum, derivations, built vs substituted, churn; "
     "store filesystem size and free space",
     make_store_collector},
    {"gc", true,
     "Garbage collection: GC roots, reclaimable paths and NAR bytes, current/booted system "
     "closure sizes (computed in the background)",
     make_gc_collector},
    {"restart", false,
     "Restart debt: per systemd unit, processes whose executable or mapped files are store paths "
     "outside the current system's closure (reads every process's /proc exe and maps: needs "
     "CAP_SYS_PTRACE to see other users' processes)",
     make_restart_collector},
    {"channel", false,
     "Root's channels on channel-based hosts: revision, age, last update; whether upstream moved "
     "on (<URL>/git-revision in the background; NATS sharing with --channel.nats.enable)",
     make_channel_collector},
};
}  // namespace

std::span<const CollectorEntry> collector_table() {
  return table;
}

}  // namespace nixmon::exporter
