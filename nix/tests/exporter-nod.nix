# VM test: the nixos exporter and nod on one machine, with the hardened units as shipped.
# Run with `nix flake check` (or `nix build .#checks.x86_64-linux.vm-exporter-nod`) on a machine
# with KVM; it cannot run in this repository's CI, which has no nixpkgs.
{ module }:
{
  name = "nixmon-exporter-nod";

  nodes.machine =
    { ... }:
    {
      imports = [ module ];
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
