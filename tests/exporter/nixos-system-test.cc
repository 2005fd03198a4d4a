#include "exporter/nixos-system.hh"

#include <gtest/gtest.h>

#include "exporter/boot-entries.hh"
#include "exporter/system-files.hh"

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
