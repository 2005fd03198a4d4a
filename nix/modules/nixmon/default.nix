# services.nixmon: the whole monitoring stack, one switch per host.
#
# The hand-built NixOS monitoring stacks this project grew from (a multi-host Prometheus/Grafana
# stack, a homelab blog post's Prometheus/Loki/Grafana setup, a server-cluster monitoring module),
# as one module. Every host (role "client" or "server") runs node_exporter with the systemd
# collector, the nixos exporter and nod, ships its journal to the server's Loki with Grafana Alloy,
# gets exporters for the services it runs (postgres, redis, nginx, caddy), and opens those ports
# towards the server only. The server adds Prometheus (a scrape job per exporter, a target per host,
# ports read from the hosts' own configurations), Alertmanager (critical / warning / info routes;
# e-mail and webhook receivers with secrets from files), Grafana (provisioned datasources and this
# project's dashboards), Loki, an optional TLS reverse proxy, and remote_write to a long-term store.
#
# This file declares what every file shares: the switch, the role, how the server reaches this host
# and how this host reaches its server. Each service has a file of its own beside it; shared.nix
# derives the values several of them read.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    types
    ;
  cfg = config.services.nixmon;
  shared = import ./shared.nix { inherit config lib; };
  hostName = config.networking.hostName;
in
{
  # In the reverse of the order their entries take in list-valued options (assertions, warnings,
  # firewall rules and ports): lib/modules.nix merges the modules it collects last first, so
  # firewall.nix's assertions come first and Loki's firewall rules after the exporters'.
  imports = [
    ./victoriametrics.nix
    ./grafana.nix
    ./loki.nix
    ./alertmanager.nix
    ./prometheus.nix
    ./proxy.nix
    ./exporters.nix
    ./alloy.nix
    ./firewall.nix
    ./fleet.nix
    ./cadvisor.nix
    ./proxmox.nix
    ./cli.nix
  ];

  options.services.nixmon = {
    enable = mkEnableOption "the nixmon monitoring stack on this host";

    role = mkOption {
      type = types.enum [
        "server"
        "client"
      ];
      default = "client";
      description = "`client`: exporters and log shipping. `server`: that plus Prometheus, Alertmanager, Grafana and Loki.";
    };

    address = mkOption {
      type = types.str;
      default = if (config.networking.domain or null) != null then "${hostName}.${config.networking.domain}" else hostName;
      defaultText = lib.literalExpression "config.networking.fqdnOrHostName";
      description = "Address the server scrapes this host at (read by the server when it discovers hosts).";
    };

    labels = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        site = "home";
      };
      description = "Extra labels the server attaches to this host's series.";
    };

    exposedTargets = mkOption {
      type = types.attrsOf types.port;
      readOnly = true;
      default = shared.exposed;
      defaultText = lib.literalMD "the ports of the exporters enabled on this host";
      description = "Exporter name to port, as this host runs them; the server reads it to build its scrape jobs.";
    };

    server.address = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "10.0.0.1";
      description = "The monitoring server: where logs are pushed, and the only source allowed to scrape this host.";
    };
  };
}
