# services.nixmon.exporters: what every host runs for the server to scrape. node_exporter, the
# nixos exporter and nod always; postgres, redis, nginx and Caddy exporters when the host runs
# those services. Their ports are services.nixmon.exposedTargets (shared.nix).
{
  config,
  options,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    mkDefault
    types
    ;
  h = import ../lib.nix { inherit lib; };
  cfg = config.services.nixmon;

  redisServers = lib.filterAttrs (_: s: s.enable or false) (config.services.redis.servers or { });
  firstRedis = if redisServers == { } then { } else lib.head (lib.attrValues redisServers);
  redisPort = firstRedis.port or 6379;
  # The exporter connects where the server listens (redis.nix: `bind`, space-separated, null for
  # every interface): its first address, loopback when it binds every address.
  redisHost =
    let
      first = lib.head (lib.splitString " " (firstRedis.bind or "127.0.0.1") ++ [ "127.0.0.1" ]);
      bound = if (firstRedis.bind or "127.0.0.1") == null then "127.0.0.1" else first;
    in
    if lib.elem bound [ "0.0.0.0" "*" ] then
      "127.0.0.1"
    else if lib.elem bound [ "::" "::*" "-::*" ] then
      "::1"
    else
      lib.removePrefix "-" bound;
  redisPassFile = firstRedis.requirePassFile or null;
  redisPass = firstRedis.requirePass or null;

  # systemd's EnvironmentFile= reads "…" with \\ \" \$ \` escapes; the password file is one line.
  redisPasswordEnvScript = ''
    set -eu
    pw=$(head -n 1 "$CREDENTIALS_DIRECTORY/redis-password")
    pw=''${pw//\\/\\\\}
    pw=''${pw//\"/\\\"}
    pw=''${pw//\$/\\\$}
    pw=''${pw//\`/\\\`}
    umask 077
    printf 'REDIS_PASSWORD="%s"\n' "$pw" > "$RUNTIME_DIRECTORY/password.env"
  '';
in
{
  options.services.nixmon.exporters = {
    node.enable = mkOption {
      type = types.bool;
      default = true;
      description = "node_exporter with the systemd collector.";
    };
    nixos.enable = mkOption {
      type = types.bool;
      default = true;
      description = "The nixos exporter ({option}`services.prometheus.exporters.nixos`).";
    };
    nod.enable = mkOption {
      type = types.bool;
      default = true;
      description = "nod and its metrics ({option}`services.nod`).";
    };
    postgres.enable = mkOption {
      type = types.bool;
      default = config.services.postgresql.enable or false;
      defaultText = lib.literalExpression "config.services.postgresql.enable";
      description = "postgres_exporter, on when the host runs PostgreSQL.";
    };
    redis.enable = mkOption {
      type = types.bool;
      default = redisServers != { };
      defaultText = lib.literalMD "whether any `services.redis.servers` is enabled";
      description = "redis_exporter (for the first enabled Redis server), on when the host runs Redis.";
    };
    nginx.enable = mkOption {
      type = types.bool;
      default = config.services.nginx.enable or false;
      defaultText = lib.literalExpression "config.services.nginx.enable";
      description = "nginx_exporter reading nginx's status page, on when the host runs nginx.";
    };
    caddy = {
      configure = mkOption {
        type = types.enum [
          "caddyfile"
          "settings"
          "none"
        ];
        default = "caddyfile";
        description = ''
          How the metrics site reaches Caddy. `caddyfile`: a site in
          {option}`services.caddy.extraConfig`, which nixpkgs only uses while
          {option}`services.caddy.settings` is empty and {option}`services.caddy.configFile` is
          its own. `settings`: a server in {option}`services.caddy.settings` (for JSON
          configurations). `none`: your own configuration serves `metrics` on {option}`port`.
        '';
      };
      enable = mkOption {
        type = types.bool;
        default = config.services.caddy.enable or false;
        defaultText = lib.literalExpression "config.services.caddy.enable";
        description = "Caddy's own metrics, served on a site of their own, on when the host runs Caddy.";
      };
      port = mkOption {
        type = types.port;
        default = 9180;
        description = "Port of the Caddy site serving `/metrics` (not 2019: that is Caddy's admin API).";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          # nixpkgs' Caddy module (caddy/default.nix) writes extraConfig into the Caddyfile it
          # generates, and generates none once settings is non-empty or configFile is set.
          assertion =
            cfg.exporters.caddy.enable && cfg.exporters.caddy.configure == "caddyfile"
            -> (config.services.caddy.settings or { }) == { } && (options.services.caddy.configFile.highestPrio or 1500) >= 1500;
          message = "services.nixmon.exporters.caddy: services.caddy uses ${
            if (config.services.caddy.settings or { }) != { } then "settings (JSON)" else "its own configFile"
          }, where nixmon's Caddyfile site would be ignored; set services.nixmon.exporters.caddy.configure to \"settings\" (nixmon adds a server to services.caddy.settings) or \"none\" (serve Caddy's `metrics` on port ${toString cfg.exporters.caddy.port} yourself)";
        }
        {
          assertion = cfg.exporters.caddy.enable && cfg.exporters.caddy.configure == "settings" -> (options.services.caddy.configFile.highestPrio or 1500) >= 1500;
          message = "services.nixmon.exporters.caddy.configure = \"settings\" has no effect with your own services.caddy.configFile: use \"none\" and serve Caddy's `metrics` on port ${toString cfg.exporters.caddy.port} yourself";
        }
      ];

      services.prometheus.exporters.nixos.enable = mkDefault cfg.exporters.nixos.enable;
      services.nod.enable = mkDefault cfg.exporters.nod.enable;
    }

    (mkIf cfg.exporters.node.enable {
      services.prometheus.exporters.node = {
        enable = true;
        enabledCollectors = [ "systemd" ];
      };
    })

    (mkIf cfg.exporters.postgres.enable {
      services.prometheus.exporters.postgres = {
        enable = true;
        runAsLocalSuperUser = mkDefault true;
      };
    })

    (mkIf cfg.exporters.redis.enable {
      services.prometheus.exporters.redis = {
        enable = true;
        extraFlags =
          if redisPort != 0 then
            [ "--redis.addr=redis://${h.hostPort redisHost redisPort}" ]
          else
            [ "--redis.addr=unix://${firstRedis.unixSocket or "/run/redis/redis.sock"}" ];
      };
      # A Unix-socket-only Redis is reachable by its group.
      systemd.services.prometheus-redis-exporter = {
        # redis_exporter reads the password from REDIS_PASSWORD. requirePass is in the store
        # already (redis.nix writes it into redis.conf); requirePassFile is read through a systemd
        # credential into an environment file that only this unit's user can read.
        environment = lib.optionalAttrs (redisPass != null) { REDIS_PASSWORD = redisPass; };
        serviceConfig = {
          SupplementaryGroups = lib.optional (redisPort == 0) (firstRedis.group or firstRedis.user or "redis");
        }
        // lib.optionalAttrs (redisPassFile != null) {
          LoadCredential = [ "redis-password:${toString redisPassFile}" ];
          RuntimeDirectory = "prometheus-redis-exporter";
          RuntimeDirectoryMode = "0700";
          ExecStartPre = [ "${pkgs.writeShellScript "nixmon-redis-password-env" redisPasswordEnvScript}" ];
          EnvironmentFile = [ "/run/prometheus-redis-exporter/password.env" ];
        };
      };
    })

    (mkIf cfg.exporters.nginx.enable {
      services.nginx.statusPage = mkDefault true;
      services.prometheus.exporters.nginx.enable = true;
    })

    (mkIf (cfg.exporters.caddy.enable && cfg.exporters.caddy.configure == "caddyfile") {
      services.caddy.extraConfig = ''
        # services.nixmon: Caddy's metrics for Prometheus.
        http://:${toString cfg.exporters.caddy.port} {
          metrics /metrics
        }
      '';
    })

    (mkIf (cfg.exporters.caddy.enable && cfg.exporters.caddy.configure == "settings") {
      # The same site in Caddy's JSON: a plain-HTTP server whose /metrics is the metrics handler.
      services.caddy.settings.apps.http.servers.nixmon-metrics = {
        listen = [ ":${toString cfg.exporters.caddy.port}" ];
        automatic_https.disable = true;
        routes = [
          {
            match = [ { path = [ "/metrics" ]; } ];
            handle = [ { handler = "metrics"; } ];
          }
        ];
      };
    })
  ]);
}
