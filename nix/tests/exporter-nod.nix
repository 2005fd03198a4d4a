# VM test: the nixos exporter and nod on one machine, with the hardened units as shipped.
# Run with `nix flake check` (or `nix build .#checks.x86_64-linux.vm-exporter-nod`) on a machine
# with KVM; it cannot run in this repository's CI, which has no nixpkgs.
{ module }:
{
  name = "nixmon-exporter-nod";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ module ];
      # mkfs.vfat for the ESP the test script makes.
      environment.systemPackages = [ pkgs.dosfstools ];
      nix.settings.experimental-features = [
        "nix-command"
        "flakes"
      ];
      services.prometheus.exporters.nixos = {
        enable = true;
        collectors.boot = true;
      };
      services.nod.enable = true;
      users.users.alice.isNormalUser = true;
    };

  # The driver runs every command under `set -euo pipefail`
  # (nixos/lib/test-driver/src/test_driver/machine/__init__.py): a `grep -q` that exits at its first
  # match can make curl fail writing the rest, so grep reads the whole response.
  testScript = ''
    machine.wait_for_unit("prometheus-nixos-exporter.service")
    machine.wait_for_open_port(9971)
    metrics = machine.succeed("curl -sf http://127.0.0.1:9971/metrics")
    assert "nixos_generation_count" in metrics, metrics
    assert 'nixos_exporter_collector_success{collector="generation"} 1' in metrics, metrics

    # The unit runs unprivileged and sandboxed.
    user = machine.succeed("systemctl show -p User,DynamicUser prometheus-nixos-exporter.service")
    assert "DynamicUser=yes" in user, user

    # The boot collector on an ESP as NixOS installs it now (vfat, fmask=0077,dmask=0077): only
    # root can list it, the exporter reads it with CAP_DAC_READ_SEARCH. The test VM boots without
    # a boot loader, so the ESP is a loop-mounted image; the exporter binds /boot when it starts.
    machine.succeed("truncate -s 64M /root/esp.img && mkfs.vfat /root/esp.img")
    machine.succeed("mkdir -p /boot && mount -o loop,fmask=0077,dmask=0077 /root/esp.img /boot")
    machine.succeed(
      "mkdir -p /boot/loader/entries && touch /boot/loader/entries/nixos-generation-1.conf "
      "/boot/loader/entries/nixos-generation-2.conf"
    )
    machine.fail("su - alice -c 'ls /boot/loader/entries'")
    machine.succeed("systemctl restart prometheus-nixos-exporter.service")
    machine.wait_for_open_port(9971)
    metrics = machine.succeed("curl -sf http://127.0.0.1:9971/metrics")
    assert 'nixos_exporter_collector_success{collector="boot"} 1' in metrics, metrics
    assert 'nixos_boot_entries{loader="systemd-boot"} 2' in metrics, metrics
    assert 'nixos_exporter_collector_success{collector="generation"} 1' in metrics, metrics

    # What the capability cannot reach: the secret stores the unit hides (InaccessiblePaths=).
    # Looked at from inside the unit's mount namespace (nsenter -m), as root: systemd puts an empty
    # mode-0000 file or directory over each hidden path, which CAP_DAC_READ_SEARCH may open but
    # which holds nothing, so what counts is that the content is gone. /etc/nix stays visible (the
    # flake collector's nix reads netrc there); /home stays hidden by ProtectHome=.
    machine.succeed("touch /run/keys/nixmon-vm-test")
    pid = machine.succeed("systemctl show -p MainPID --value prometheus-nixos-exporter.service").strip()
    inside = f"nsenter -t {pid} -m "
    machine.succeed("test -s /etc/shadow")
    machine.succeed(inside + "test ! -s /etc/shadow")
    assert machine.succeed(inside + "cat /etc/shadow") == "", "the unit sees /etc/shadow"
    machine.succeed("test -e /run/keys/nixmon-vm-test")
    machine.succeed(inside + "test ! -e /run/keys/nixmon-vm-test")
    assert machine.succeed(inside + "ls -A /etc/ssh") == "", "the unit sees /etc/ssh"
    machine.succeed(inside + "test ! -e /home/alice")
    machine.succeed(inside + "test -s /etc/nix/nix.conf")
    machine.succeed(inside + "test -d /boot/loader/entries")

    # nod: the socket exists once the unit is up, is a socket, and everyone can connect.
    machine.wait_for_unit("nod.service")
    machine.succeed("test -S /run/nod/nod.sock")
    mode = machine.succeed("stat -c %a /run/nod/nod.sock").strip()
    assert mode == "666", mode
    machine.succeed("grep -q 'json-log-path = /run/nod/nod.sock' /etc/nix/nix.conf")
    machine.succeed("su - alice -c 'test \"$NOD_SOCKET\" = /run/nod/nod.sock'")
    machine.wait_for_open_port(9972)

    # A build reaches nod through the daemon's json-log-path.
    machine.succeed(
      "nix build --no-link --impure --expr "
      "'derivation { name = \"nixmon-vm-test\"; system = builtins.currentSystem; "
      "builder = \"/bin/sh\"; args = [ \"-c\" \"echo hi > $out\" ]; }'"
    )
    machine.wait_until_succeeds("curl -sf http://127.0.0.1:9972/metrics | grep '^nod_builds_total{.*} [1-9]' >/dev/null")

    # With nod stopped, Nix finds no directory and so cannot leave a regular file at the path.
    machine.succeed("systemctl stop nod.service")
    machine.succeed("test ! -e /run/nod")
    machine.succeed(
      "nix build --no-link --impure --expr "
      "'derivation { name = \"nixmon-vm-test-2\"; system = builtins.currentSystem; "
      "builder = \"/bin/sh\"; args = [ \"-c\" \"echo hi > $out\" ]; }' || true"
    )
    machine.succeed("test ! -e /run/nod/nod.sock")
    machine.succeed("systemctl start nod.service")
    machine.succeed("test -S /run/nod/nod.sock")
  '';
}
