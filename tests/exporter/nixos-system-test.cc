#include "exporter/host/nixos-system.hh"

#include <gtest/gtest.h>

#include "exporter/host/boot-entries.hh"
#include "exporter/host/system-files.hh"

using namespace nixmon::exporter;

TEST(GenerationLink, ParsesOnlyWhatNixWrites) {
  EXPECT_EQ(parse_generation_link("system-1-link", "system"), 1u);
  EXPECT_EQ(parse_generation_link("system-942-link", "system"), 942u);
  EXPECT_EQ(parse_generation_link("system-007-link", "system"), 7u);
  for (const char* bad : {"system", "system-link", "system--link", "system-abc-link",
                          "system-02x-link", "system-+5-link", "system--5-link", "system-1-lin",
                          "other-1-link", "system-1-link.tmp", "system-1234567890123456789-link"}) {
    EXPECT_FALSE(parse_generation_link(bad, "system").has_value()) << bad;
  }
  EXPECT_EQ(parse_generation_link("home-manager-3-link", "home-manager"), 3u);
}

TEST(NixosVersionScript, ReadsTheEmbeddedJson) {
  auto v = parse_nixos_version_script(
      "#! /bin/sh\ncase \"$1\" in\n  --json)\n    cat <<EOF\n"
      "{\"configurationRevision\":\"abc\",\"nixosVersion\":\"24.05.1\",\"nixpkgsRevision\":\"def\"}"
      "\n"
      "EOF\n;;\nesac\n");
  EXPECT_EQ(v.nixos_version, "24.05.1");
  EXPECT_EQ(v.nixpkgs_revision, "def");
  EXPECT_EQ(v.configuration_revision, "abc");
}

TEST(NixosVersionScript, MissingOrMalformedIsUnknown) {
  auto none = parse_nixos_version_script("#! /bin/sh\necho 24.05\n");
  EXPECT_FALSE(none.nixos_version);
  auto broken = parse_nixos_version_script("{\"nixosVersion\": \"24.05\"\n");
  EXPECT_FALSE(broken.nixos_version);
  auto empty_rev =
      parse_nixos_version_script("{\"nixosVersion\":\"24.05\",\"configurationRevision\":\"\"}");
  EXPECT_EQ(empty_rev.nixos_version, "24.05");
  EXPECT_FALSE(empty_rev.configuration_revision);
}

TEST(KernelVersion, FromStorePath) {
  EXPECT_EQ(
      kernel_version_from_path("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-linux-6.6.30/bzImage"),
      "6.6.30");
  EXPECT_FALSE(kernel_version_from_path("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-zen/bzImage"));
  EXPECT_FALSE(kernel_version_from_path("/boot/vmlinuz"));
}

TEST(BootEntries, SystemdBootCountsNixosEntriesOnly) {
  EXPECT_EQ(count_systemd_boot_entries(
                {"nixos-generation-1.conf", "nixos-generation-2-specialisation-x.conf",
                 "memtest86.conf", "nixos-generation-3.conf.tmp", "nixos-.conf"}),
            2u);
}

TEST(BootEntries, GrubCountsMenuentriesInSubmenusNotComments) {
  EXPECT_EQ(
      count_grub_entries("menuentry \"NixOS\" {\n}\nsubmenu \"All\" {\n  menuentry \"a\" {\n}\n"
                         "\tmenuentry \"b\" {\n}\n}\n# menuentry \"c\"\nmenuentry_id x\n"),
      3u);
}

// systemd-boot-builder.py's BOOT_ENTRY: paths from the root of the partition holding the entry.
TEST(BootEntryFiles, SystemdBootEntryNamesFilesOnItsPartition) {
  auto e = parse_systemd_boot_entry(
      "title NixOS\nsort-key nixos\nversion Generation 7 NixOS, built on 2025-01-01\n"
      "linux /EFI/nixos/0123456789abcdfghijklmnpqrsvwxyz-linux-6.6.30-bzImage.efi\n"
      "initrd /EFI/nixos/0123456789abcdfghijklmnpqrsvwxyz-initrd-linux-6.6.30-initrd.efi\n"
      "options init=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-h/init loglevel=4\n"
      "machine-id 0123\n",
      "/boot/efi");
  EXPECT_EQ(e.kernel,
            "/boot/efi/EFI/nixos/0123456789abcdfghijklmnpqrsvwxyz-linux-6.6.30-bzImage.efi");
  ASSERT_EQ(e.initrds.size(), 1u);
  EXPECT_EQ(e.initrds[0],
            "/boot/efi/EFI/nixos/0123456789abcdfghijklmnpqrsvwxyz-initrd-linux-6.6.30-initrd.efi");
  EXPECT_EQ(e.init, "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-h/init");
  EXPECT_FALSE(e.unchecked);

  // A unified kernel image entry (`efi`), as other tools write: nothing NixOS-shaped to check.
  auto uki = parse_systemd_boot_entry("title Other\nefi /EFI/Linux/other.efi\n", "/boot");
  EXPECT_TRUE(uki.unchecked);
  EXPECT_FALSE(uki.kernel);
}

// install-grub.pl's copyToKernelsDir: store paths on the store's filesystem (after a GRUB drive
// and subvolume prefix), or copies in <boot>/kernels with '/' made '-'; initrd secrets a second
// initrd file.
TEST(BootEntryFiles, GrubMapsBothPathFormsAndFlagsForeignEntries) {
  const std::string h = "0123456789abcdfghijklmnpqrsvwxyz";
  auto entries = parse_grub_entries(
      "menuentry \"NixOS - Default\" {\nsearch --set=drive1 --fs-uuid 1234\n"
      "  linux ($drive1)/@/nix/store/" +
          h + "-linux-6.6/bzImage init=/nix/store/" + h +
          "-nixos-system-a/init quiet\n"
          "  initrd ($drive1)/store/" +
          h +
          "-initrd-linux-6.6/initrd\n}\n"
          "submenu \"NixOS - All configurations\" --class submenu {\n"
          "menuentry \"NixOS - Configuration 1\" {\n"
          "  linux /boot/kernels/" +
          h + "-linux-6.6-bzImage init=/nix/store/" + h +
          "-nixos-system-b/init\n"
          "  initrd /boot/kernels/" +
          h + "-initrd-linux-6.6-initrd /boot/kernels/" + h +
          "-nixos-system-b-secrets\n}\n}\n"
          "menuentry \"Arch Linux\" {\n  linux /vmlinuz-linux root=/dev/sda2\n"
          "  initrd /initramfs-linux.img\n}\n"
          "menuentry \"Xen\" {\n  multiboot /nix/store/" +
          h + "-xen/xen.gz\n}\n",
      "/boot");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].kernel, "/nix/store/" + h + "-linux-6.6/bzImage");
  EXPECT_EQ(entries[0].initrds,
            std::vector<std::string>{"/nix/store/" + h + "-initrd-linux-6.6/initrd"});
  EXPECT_EQ(entries[0].init, "/nix/store/" + h + "-nixos-system-a/init");
  EXPECT_FALSE(entries[0].unchecked);
  EXPECT_EQ(entries[1].kernel, "/boot/kernels/" + h + "-linux-6.6-bzImage");
  EXPECT_EQ(entries[1].initrds,
            (std::vector<std::string>{"/boot/kernels/" + h + "-initrd-linux-6.6-initrd",
                                      "/boot/kernels/" + h + "-nixos-system-b-secrets"}));
  EXPECT_FALSE(entries[1].unchecked);
  EXPECT_TRUE(entries[2].unchecked);  // another system's kernel: not NixOS's to judge
  EXPECT_FALSE(entries[2].kernel);
  EXPECT_TRUE(entries[3].unchecked);  // Xen: no `linux` line
}

TEST(NixpkgsDate, FromTheVersionSuffixOfAFlakeBuild) {
  using namespace std::chrono;
  EXPECT_EQ(nixpkgs_date_from_version("25.11.20251019.5e2a59a"),
            sys_days(year(2025) / October / 19));
  EXPECT_EQ(nixpkgs_date_from_version("24.05.20240301.dirty"), sys_days(year(2024) / March / 1));
  // No date stamp: a tree without .version-suffix, channels (revCount), a git checkout, a flake
  // without lastModifiedDate (placeholder 19700101), nonsense.
  for (const char* none : {"25.11pre-git", "24.05.7376.b134951a4c9f", "24.11pre667456.2c76ec9d",
                           "19.09.git.eab4ee0", "25.11.19700101.dirty", "25.11.20251332.abc",
                           "25.11.2025101.abc", "25.11", "", "unknown", "x.y.20251019.abc"}) {
    EXPECT_FALSE(nixpkgs_date_from_version(none)) << none;
  }
}

TEST(NixImplementation, FromThePackageName) {
  auto c = [](std::string_view name) {
    auto i =
        classify_nix_package(std::string("0123456789abcdfghijklmnpqrsvwxyz-") + std::string(name));
    return i ? i->implementation + " " + i->version : std::string("none");
  };
  EXPECT_EQ(c("nix-2.28.3"), "nix 2.28.3");
  EXPECT_EQ(c("nix-2.31.0pre20250712_b1245123"), "nix 2.31.0pre20250712_b1245123");
  EXPECT_EQ(c("lix-2.93.0"), "lix 2.93.0");
  EXPECT_EQ(c("determinate-nix-3.8.2"), "determinate 3.8.2");
  EXPECT_EQ(c("nix-3.1.0"), "determinate 3.1.0");  // Determinate before v3.3.0 was pname "nix"
  EXPECT_EQ(c("nix-index-0.1.8"), "none");
  EXPECT_EQ(c("nixos-system-host-24.05"), "none");
  EXPECT_EQ(c("system-path"), "none");
  EXPECT_FALSE(classify_nix_package("nix-2.28.3"));  // no store hash
}
