#include "exporter/collector.hh"
#include "exporter/collectors/collectors.hh"

namespace nixmon::exporter {

namespace {
// The one registration table: explicit, because a static library drops self-registering objects
// nobody references.
constexpr CollectorEntry table[] = {
    {"generation", true, "NixOS system generations: count, current, booted, age, pending boot",
     setup_without_flags<make_generation_collector>},
    {"system", true,
     "nixos_system_info: NixOS version, nixpkgs and configuration revisions, kernel",
     setup_without_flags<make_system_collector>},
    {"reboot", true,
     "Why a reboot is needed: booted vs current kernel, initrd, modules, params, systemd",
     setup_without_flags<make_reboot_collector>},
    {"boot", true, "Boot loader entries and the free space of the filesystem holding /boot",
     setup_without_flags<make_boot_collector>},
    {"upgrade", true,
     "Automatic upgrades: whether the nixos-upgrade timer is enabled, when it last fired",
     setup_without_flags<make_upgrade_collector>},
    {"flake", false,
     "The Go nixos-exporter's flake collector: remote flake revision vs the running system's, "
     "input ages (needs --flake.url; NATS sharing with --flake.nats.enable)",
     flake_setup},
    {"store", true,
     "The Nix store database: valid paths, NAR sum, derivations, built vs substituted, churn; "
     "store filesystem size and free space",
     store_setup},
    {"gc", true,
     "Garbage collection: GC roots, reclaimable paths and NAR bytes, current/booted system "
     "closure sizes (computed in the background)",
     gc_setup},
    {"restart", false,
     "Restart debt: per systemd unit, processes whose executable or mapped files are store paths "
     "outside the current system's closure (reads every process's /proc exe and maps: needs "
     "CAP_SYS_PTRACE to see other users' processes)",
     setup_without_flags<make_restart_collector>},
    {"channel", false,
     "Root's channels on channel-based hosts: revision, age, last update; whether upstream moved "
     "on (<URL>/git-revision in the background; NATS sharing with --channel.nats.enable)",
     channel_setup},
};
}  // namespace

std::span<const CollectorEntry> collector_table() {
  return table;
}

std::unique_ptr<Collector> make_with_defaults(const CollectorEntry& entry,
                                              const CollectorContext& ctx) {
  CLI::App app;
  auto setup = entry.setup(app);
  setup->configure(true);
  return setup->make(ctx);
}

}  // namespace nixmon::exporter
