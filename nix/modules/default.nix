# Every nixmon module: the nixos exporter, nod, and the monitoring stack (services.nixmon).
{
  imports = [
    ./nixos-exporter.nix
    ./nod.nix
    ./nixmon/default.nix
  ];
}
