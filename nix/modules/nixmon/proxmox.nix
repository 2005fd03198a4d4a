# services.nixmon.proxmox on the server: prometheus-pve-exporter (nixpkgs'
# services.prometheus.exporters.pve) on 127.0.0.1, and one scrape job that asks it about each
# Proxmox VE node: the exporter's multi-target pattern, /pve?target=<node>, with the node put into
# the `instance` label. The API token reaches the exporter from a file only (an environment file
# or the exporter's pve.yml), never through the Nix store.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkIf
    types
    ;
  cfg = config.services.nixmon;
  pcfg = cfg.proxmox;
  inherit (import ./shared.nix { inherit config lib; }) isServer;

  secretFiles = lib.filter (f: f != null) [
    pcfg.environmentFile
    pcfg.configFile
  ];
  inStore = f: lib.hasPrefix builtins.storeDir (toString f);
in
{
  options.services.nixmon.proxmox = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "prometheus-pve-exporter on the server, and a scrape job for the Proxmox VE nodes in {option}`targets`.";
    };
    targets = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "pve1.lan"
        "10.0.0.5:8006"
      ];
      description = ''
        Proxmox VE nodes to ask, as the exporter's `target` parameter (a host name or address;
        the API's port 8006 unless the exporter's configuration says otherwise). Each becomes the
        `instance` label of its series. The cluster collectors report every node and guest of a
        cluster through any one node: name one node per cluster, or the cluster's series come
        once per node named.
      '';
    };
    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/pve-exporter.env";
      description = ''
        Environment file with the exporter's credentials (`PVE_USER`, `PVE_TOKEN_NAME`,
        `PVE_TOKEN_VALUE`, `PVE_VERIFY_SSL`), read by systemd. A path outside the Nix store.
      '';
    };
    configFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/pve.yml";
      description = ''
        The exporter's `pve.yml` (modules of credentials, chosen with {option}`module`), handed to
        it as a systemd credential. A path outside the Nix store. Exclusive with
        {option}`environmentFile` (nixpkgs ignores this file when both are set).
      '';
    };
    module = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Module of `pve.yml` to use (the `module` parameter of each scrape); null: the exporter's `default`.";
    };
  };

  config = mkIf (cfg.enable && isServer && pcfg.enable) {
    assertions = [
      {
        assertion = secretFiles != [ ];
        message = "services.nixmon.proxmox needs the exporter's credentials: environmentFile or configFile";
      }
      {
        # nixpkgs' pve.nix ignores configFile when an environment file is set.
        assertion = !(pcfg.environmentFile != null && pcfg.configFile != null);
        message = "services.nixmon.proxmox: set environmentFile or configFile, not both (the exporter would ignore configFile)";
      }
      {
        assertion = lib.all (f: lib.hasPrefix "/" f && !(inStore f)) secretFiles;
        message = "services.nixmon.proxmox: the credentials file must be an absolute path outside the Nix store (${lib.concatStringsSep ", " secretFiles})";
      }
      {
        assertion = pcfg.targets != [ ];
        message = "services.nixmon.proxmox.targets: name at least one Proxmox VE node";
      }
    ];

    services.prometheus.exporters.pve = {
      enable = true;
      # Only this server's Prometheus asks it; nothing to open in the firewall.
      listenAddress = "127.0.0.1";
      environmentFile = pcfg.environmentFile;
      configFile = pcfg.configFile;
    };

    # The exporter's multi-target scrape (its README): Prometheus' target becomes the `target`
    # parameter and the `instance` label, and the request goes to the exporter itself.
    services.prometheus.scrapeConfigs = [
      {
        job_name = "pve";
        metrics_path = "/pve";
        params = {
          cluster = [ "1" ];
          node = [ "1" ];
        }
        // lib.optionalAttrs (pcfg.module != null) { module = [ pcfg.module ]; };
        static_configs = [ { targets = pcfg.targets; } ];
        relabel_configs = [
          {
            source_labels = [ "__address__" ];
            target_label = "__param_target";
          }
          {
            source_labels = [ "__param_target" ];
            target_label = "instance";
          }
          {
            target_label = "__address__";
            replacement = "127.0.0.1:${toString config.services.prometheus.exporters.pve.port}";
          }
        ];
      }
    ];
  };
}
