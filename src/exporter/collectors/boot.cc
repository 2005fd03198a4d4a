// The boot loader's view: how many entries it lists, the space left on the filesystem that holds
// /boot, and how much one more generation would need there.
#include <sys/statvfs.h>

#include "common/error.hh"
#include "exporter/boot-entries.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/nixos-system.hh"

namespace nixmon::exporter {

namespace {

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
    for (std::string_view esp : {"/boot", "/boot/efi", "/efi"}) {
      std::string dir = std::string(esp) + "/loader/entries";
      if (auto names = root.list_dir(dir)) {
        out.gauge("nixos_boot_entries", entries_help,
                  static_cast<double>(count_systemd_boot_entries(*names)),
                  {{"loader", "systemd-boot"}});
        break;
      }
    }
    if (auto cfg = root.read_file("/boot/grub/grub.cfg", 16 << 20)) {
      out.gauge("nixos_boot_entries", entries_help, static_cast<double>(count_grub_entries(*cfg)),
                {{"loader", "grub"}});
    }

    if (root.stat("/boot")) {
      auto path = root.local(root.resolve("/boot"));
      struct statvfs fs;
      if (::statvfs(path.c_str(), &fs) != 0)
        throw SysError("cannot statvfs '" + path.string() + "'");
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
