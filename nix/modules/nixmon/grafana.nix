# services.nixmon.grafana on the server: Grafana with the stack's datasources (Prometheus, Loki,
# Alertmanager, VictoriaMetrics) and this project's dashboards provisioned, and an admin password
# and secret key made on first start.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkIf
    mkDefault
    types
    ;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; }) isServer prometheusPrefix alertmanagerPrefix;

  grafanaState = toString config.services.grafana.dataDir;
  dashboardsDir = cfg.grafana.dashboardsDir;
  # nixmon's key file is used only when nobody set services.grafana.settings.security.secret_key.
  adminPasswordFile = if cfg.grafana.adminPasswordFile != null then cfg.grafana.adminPasswordFile else "${grafanaState}/nixmon-admin-password";
  secretKeyFile = if cfg.grafana.secretKeyFile != null then cfg.grafana.secretKeyFile else "${grafanaState}/nixmon-secret-key";
in
{
  options.services.nixmon.grafana = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Grafana on the server.";
    };
    port = mkOption {
      type = types.port;
      default = 3000;
      description = "Grafana port.";
    };
    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open Grafana's port (without the proxy).";
    };
    adminPasswordFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "File with the admin password; null: one is generated into `nixmon-admin-password` in {option}`services.grafana.dataDir` on first start.";
    };
    secretKeyFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        File with Grafana's secret key (it encrypts datasource secrets in Grafana's database).
        null: `nixmon-secret-key` in {option}`services.grafana.dataDir`, made on first start and
        never replaced; for a Grafana that already has a database and no such file, it is the key
        that database was made with under NixOS before 26.05 (Grafana's former default), so
        existing secrets stay readable. Unused when {option}`services.grafana.settings.security.secret_key`
        is set.
      '';
    };
    dashboardsDir = mkOption {
      type = types.nullOr types.path;
      default = ../../../dashboards;
      defaultText = lib.literalMD "this project's `dashboards/`";
      description = "Directory of dashboard JSON files provisioned into the `nixmon` folder.";
    };
  };

  config = mkIf (cfg.enable && isServer && cfg.grafana.enable) {
    services.grafana = {
      enable = true;
      settings = {
        server = {
          http_addr = if cfg.proxy.enable then "127.0.0.1" else "0.0.0.0";
          http_port = cfg.grafana.port;
        }
        // lib.optionalAttrs cfg.proxy.enable {
          domain = cfg.proxy.domain;
          root_url = "https://${cfg.proxy.domain}/";
        };
        security = {
          admin_user = "admin";
          admin_password = "$__file{${adminPasswordFile}}";
          # A default: a key set in services.grafana itself is used instead (and no file is made).
          secret_key = mkDefault "$__file{${secretKeyFile}}";
        };
        analytics.reporting_enabled = false;
      };
      provision = {
        enable = true;
        datasources.settings = {
          apiVersion = 1;
          datasources = [
            {
              name = "Prometheus";
              uid = "prometheus";
              type = "prometheus";
              access = "proxy";
              url = "http://127.0.0.1:${toString cfg.prometheus.port}${prometheusPrefix}";
              isDefault = true;
              jsonData.timeInterval = cfg.scrapeInterval;
            }
          ]
          ++ lib.optional cfg.loki.enable {
            name = "Loki";
            uid = "loki";
            type = "loki";
            access = "proxy";
            url = "http://127.0.0.1:${toString cfg.loki.port}";
          }
          ++ lib.optional cfg.alerting.enable {
            name = "Alertmanager";
            uid = "alertmanager";
            type = "alertmanager";
            access = "proxy";
            url = "http://127.0.0.1:${toString cfg.alerting.port}${alertmanagerPrefix}";
            jsonData.implementation = "prometheus";
          }
          ++ lib.optional cfg.victoriametrics.enable {
            name = "VictoriaMetrics";
            uid = "victoriametrics";
            type = "prometheus";
            access = "proxy";
            url = "http://127.0.0.1:${toString cfg.victoriametrics.port}";
          };
        };
        dashboards.settings = {
          apiVersion = 1;
          # A path in the flake that does not exist (no dashboard committed yet) is skipped;
          # a string names a directory on the host, used as it is.
          providers = lib.optional (dashboardsDir != null && (!builtins.isPath dashboardsDir || builtins.pathExists dashboardsDir)) {
            name = "nixmon";
            folder = "nixmon";
            type = "file";
            disableDeletion = true;
            allowUiUpdates = false;
            options.path = dashboardsDir;
          };
        };
      };
    };
    # First start: make the admin password and the secret key that the settings above read.
    # An existing file is never replaced. A Grafana that already has a database but no key
    # file made it under NixOS < 26.05, whose grafana.nix defaulted secret_key to Grafana's
    # old built-in key: that key is written, or the secrets in the database (datasource
    # passwords, tokens) could no longer be decrypted.
    systemd.services.grafana.preStart = lib.mkBefore (
      lib.optionalString (cfg.grafana.adminPasswordFile == null) ''
        if [ ! -s ${adminPasswordFile} ]; then (umask 077; head -c 24 /dev/urandom | base64 > ${adminPasswordFile}); fi
      ''
      + lib.optionalString (cfg.grafana.secretKeyFile == null && config.services.grafana.settings.security.secret_key == "$__file{${secretKeyFile}}") ''
        if [ ! -s ${secretKeyFile} ]; then
          if [ -e ${lib.escapeShellArg (toString config.services.grafana.settings.database.path)} ]; then
            echo "nixmon: keeping Grafana's former default secret key for the existing database" >&2
            (umask 077; printf '%s' SW2YcwTIb9zpOOhoPsMm > ${secretKeyFile})
          else
            (umask 077; head -c 24 /dev/urandom | base64 > ${secretKeyFile})
          fi
        fi
      ''
    );
    networking.firewall.allowedTCPPorts = lib.optional (cfg.grafana.openFirewall && !cfg.proxy.enable) cfg.grafana.port;
  };
}
