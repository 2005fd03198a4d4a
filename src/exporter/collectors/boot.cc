// The boot loader's view: how many entries it lists, the space left on the filesystem that holds
// /boot, and how much one more generation would need there.
#include <sys/statvfs.h>

#include <algorithm>
#include <optional>

#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/host/boot-entries.hh"
#include "exporter/host/nixos-system.hh"

namespace nixmon::exporter {

namespace {

// Entries whose kernel, initrd or the system's init is gone cannot boot: nixpkgs #53982, where the
// menu offered several generations to roll back to and only one still had its kernel.
struct MissingFiles {
  std::size_t kernel = 0, initrd = 0, init = 0, unbootable = 0, unchecked = 0;
};

MissingFiles check_entries(const HostRoot& root, const std::vector<BootEntryFiles>& entries) {
  MissingFiles m;
  auto gone = [&](const std::string& p) { return !root.stat(p); };
  for (const auto& e : entries) {
    bool kernel = e.kernel && gone(*e.kernel);
    bool initrd = std::any_of(e.initrds.begin(), e.initrds.end(), gone);
    bool init = e.init && gone(*e.init);
    m.kernel += kernel;
    m.initrd += initrd;
    m.init += init;
    m.unbootable += kernel || initrd || init;
    m.unchecked += e.unchecked;
  }
  return m;
}

void report_missing(MetricSet& out, std::string_view loader, const MissingFiles& m) {
  constexpr std::string_view missing_help =
      "Boot loader entries NixOS wrote whose kernel, initrd or system init (kind) no longer exists "
      "on this host: choosing them fails to boot";
  for (auto [kind, n] : {std::pair{"kernel", m.kernel}, {"initrd", m.initrd}, {"init", m.init}}) {
    out.gauge("nixos_boot_entries_missing_files", missing_help, static_cast<double>(n),
              {{"loader", std::string(loader)}, {"kind", kind}});
  }
  out.gauge("nixos_boot_entries_unbootable",
            "Boot loader entries with at least one file missing (kernel, initrd or init)",
            static_cast<double>(m.unbootable), {{"loader", std::string(loader)}});
  out.gauge("nixos_boot_entries_unchecked",
            "Boot loader entries whose files could not be checked: a reference of a form NixOS "
            "does not write (another system, Xen), or no kernel, initrd or init= at all",
            static_cast<double>(m.unchecked), {{"loader", std::string(loader)}});
}

class BootCollector final : public Collector {
 public:
  explicit BootCollector(const CollectorContext& ctx) : ctx_(ctx) {}

  void collect(MetricSet& out) override {
    const HostRoot& root = ctx_.root;
    // A NixOS container has no /boot but a running system: nothing to report is then the answer.
    // With neither, this is no NixOS host (or a wrong --path.root), and "no entries, no /boot"
    // would pass for a finding.
    auto current = resolve_system(root, current_system_link);
    if (!current && !root.stat("/boot"))
      throw Error(
          "neither /boot nor /run/current-system exists: not a NixOS host, or a wrong --path.root");
    constexpr std::string_view entries_help =
        "Boot loader entries NixOS wrote (systemd-boot: nixos-*.conf; GRUB: menuentry lines)";
    // systemd-boot's ESP is /boot on most NixOS hosts, /boot/efi or /efi on some.
    std::optional<MissingFiles> systemd_boot;
    for (std::string_view esp : {"/boot", "/boot/efi", "/efi"}) {
      std::string dir = std::string(esp) + "/loader/entries";
      if (auto names = root.list_dir(dir)) {
        out.gauge("nixos_boot_entries", entries_help,
                  static_cast<double>(count_systemd_boot_entries(*names)),
                  {{"loader", "systemd-boot"}});
        std::vector<BootEntryFiles> entries;
        for (const auto& name : *names) {
          if (!is_nixos_systemd_boot_entry(name)) continue;
          if (auto conf = root.read_file(dir + "/" + name))
            entries.push_back(parse_systemd_boot_entry(*conf, esp));
        }
        systemd_boot = check_entries(root, entries);
        break;
      }
    }
    std::optional<MissingFiles> grub;
    if (auto cfg = root.read_file("/boot/grub/grub.cfg", 16 << 20)) {
      out.gauge("nixos_boot_entries", entries_help, static_cast<double>(count_grub_entries(*cfg)),
                {{"loader", "grub"}});
      grub = check_entries(root, parse_grub_entries(*cfg, "/boot"));
    }
    if (systemd_boot) report_missing(out, "systemd-boot", *systemd_boot);
    if (grub) report_missing(out, "grub", *grub);

    if (auto found = root.statvfs("/boot")) {
      const struct statvfs& fs = *found;
      double unit = static_cast<double>(fs.f_frsize);
      out.gauge("nixos_boot_filesystem_size_bytes", "Size of the filesystem holding /boot",
                unit * static_cast<double>(fs.f_blocks));
      out.gauge("nixos_boot_filesystem_free_bytes", "Free bytes on the filesystem holding /boot",
                unit * static_cast<double>(fs.f_bfree));
      out.gauge("nixos_boot_filesystem_avail_bytes",
                "Bytes available to unprivileged users on the filesystem holding /boot",
                unit * static_cast<double>(fs.f_bavail));
    }

    if (current) {
      // A new generation with a new kernel or initrd copies both files to /boot.
      auto kernel = root.stat(*current + "/kernel");
      auto initrd = root.stat(*current + "/initrd");
      if (kernel && initrd) {
        out.gauge("nixos_boot_generation_bytes",
                  "Size of the current system's kernel plus initrd: roughly what one more "
                  "generation with a new kernel or initrd adds to /boot",
                  static_cast<double>(kernel->st_size + initrd->st_size));
      }
    }
  }

 private:
  CollectorContext ctx_;
};

}  // namespace

std::unique_ptr<Collector> make_boot_collector(const CollectorContext& ctx) {
  return std::make_unique<BootCollector>(ctx);
}

}  // namespace nixmon::exporter
