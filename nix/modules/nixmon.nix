# services.nixmon: the whole monitoring stack, one switch per host.
#
# The three hand-written stacks of seeds 001-003 as one module. Every host (role "client" or
# "server") runs node_exporter with the systemd collector, the nixos exporter and nod, ships its
# journal to the server's Loki with Grafana Alloy, gets exporters for the services it runs
# (postgres, redis, nginx, caddy), and opens those ports towards the server only. The server adds
# Prometheus (a scrape job per exporter, a target per host, ports read from the hosts' own
# configurations), Alertmanager (critical / warning / info routes; e-mail and webhook receivers with
# secrets from files), Grafana (provisioned datasources and this project's dashboards), Loki, an
# optional TLS reverse proxy, and remote_write to a long-term store.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    mkDefault
    types
    ;
  h = import ./lib.nix { inherit lib; };
  cfg = config.services.nixmon;
  isServer = cfg.role == "server";
  hostName = config.networking.hostName;
  severities = [
    "critical"
    "warning"
    "info"
  ];

  # --- what this host exposes (read by the server through nixosConfigurations) ----------------
  redisServers = lib.filterAttrs (_: s: s.enable or false) (config.services.redis.servers or { });
  firstRedis = if redisServers == { } then { } else lib.head (lib.attrValues redisServers);
  exposed = lib.filterAttrs (_: p: p != null) {
    node = if cfg.exporters.node.enable then config.services.prometheus.exporters.node.port else null;
    nixos = if cfg.exporters.nixos.enable then config.services.prometheus.exporters.nixos.port else null;
    nod = if cfg.exporters.nod.enable && config.services.nod.metrics.enable then config.services.nod.metrics.port else null;
    postgres = if cfg.exporters.postgres.enable then config.services.prometheus.exporters.postgres.port else null;
    redis = if cfg.exporters.redis.enable then config.services.prometheus.exporters.redis.port else null;
    nginx = if cfg.exporters.nginx.enable then config.services.prometheus.exporters.nginx.port else null;
    caddy = if cfg.exporters.caddy.enable then cfg.exporters.caddy.port else null;
  };

  # --- the fleet, as the server sees it -------------------------------------------------------
  discovered = lib.mapAttrs (name: c: {
    address = c.config.services.nixmon.address;
    targets = c.config.services.nixmon.exposedTargets;
    labels = c.config.services.nixmon.labels;
  }) (lib.filterAttrs (_: c: c.config.services.nixmon.enable or false) cfg.nixosConfigurations);
  self' = lib.optionalAttrs cfg.monitorSelf {
    ${hostName} = {
      address = "127.0.0.1";
      targets = exposed;
      labels = cfg.labels;
    };
  };
  # Later wins: hosts written by hand override discovered ones, which override the server itself
  # (so a server listed in nixosConfigurations is scraped at its own address).
  fleet = self' // discovered // cfg.hosts;
  fleetNames = lib.attrNames fleet; # sorted
  exporterNames = lib.sort lib.lessThan (lib.unique (lib.concatMap (n: lib.attrNames fleet.${n}.targets) fleetNames));

  prometheusPrefix = if cfg.proxy.enable then "/prometheus" else "";
  alertmanagerPrefix = if cfg.proxy.enable then "/alertmanager" else "";

  hostJobs = map (exporter: {
    job_name = exporter;
    static_configs = map (n: {
      targets = [ (h.hostPort fleet.${n}.address fleet.${n}.targets.${exporter}) ];
      labels = { host = n; } // fleet.${n}.labels;
    }) (lib.filter (n: fleet.${n}.targets ? ${exporter}) fleetNames);
  }) exporterNames;

  serverJob = name: port: path: {
    job_name = name;
    metrics_path = path;
    static_configs = [
      {
        targets = [ "127.0.0.1:${toString port}" ];
        labels.host = hostName;
      }
    ];
  };
  serverJobs = [
    (serverJob "prometheus" cfg.prometheus.port "${prometheusPrefix}/metrics")
  ]
  ++ lib.optional cfg.alerting.enable (serverJob "alertmanager" cfg.alerting.port "${alertmanagerPrefix}/metrics")
  ++ lib.optional cfg.loki.enable (serverJob "loki" cfg.loki.port "/metrics")
  ++ lib.optional cfg.grafana.enable (serverJob "grafana" cfg.grafana.port "/metrics")
  ++ lib.optional cfg.victoriametrics.enable (serverJob "victoriametrics" cfg.victoriametrics.port "/metrics");

  # --- rules: every *.yml / *.yaml at the top of rules/ (promtool unit tests excluded) ---------
  isRuleFile =
    name: type:
    type == "regular"
    && (lib.hasSuffix ".yml" name || lib.hasSuffix ".yaml" name)
    && !(lib.hasSuffix "_test.yml" name || lib.hasSuffix "_test.yaml" name || lib.hasSuffix ".test.yml" name);
  ruleFilesIn =
    dir:
    if dir != null && builtins.pathExists dir then
      map (n: dir + "/${n}") (lib.attrNames (lib.filterAttrs isRuleFile (builtins.readDir dir)))
    else
      [ ];

  # --- alerting ---------------------------------------------------------------------------------
  cred = name: "/run/credentials/alertmanager.service/${name}";
  webhookList =
    lib.optional cfg.alerting.homeAssistant.enable ({ name = "home-assistant"; } // cfg.alerting.homeAssistant)
    ++ lib.optional cfg.alerting.nextcloudTalk.enable ({ name = "nextcloud-talk"; } // cfg.alerting.nextcloudTalk)
    ++ lib.mapAttrsToList (name: w: { name = "webhook-${name}"; } // w) cfg.alerting.webhooks;
  webhookConfig =
    w:
    {
      send_resolved = w.sendResolved;
    }
    // (if w.urlFile != null then { url_file = cred w.name; } else { url = w.url; });
  receiverFor =
    severity:
    lib.filterAttrs (_: v: v != [ ]) {
      name = severity;
      email_configs = lib.optionals (cfg.alerting.email.enable && lib.elem severity cfg.alerting.email.severities) (
      map (to: {
        inherit to;
        send_resolved = true;
      }) cfg.alerting.email.to
    );
      webhook_configs = map webhookConfig (lib.filter (w: lib.elem severity w.severities) webhookList);
    };
  alertmanagerConfig = {
    global = lib.optionalAttrs cfg.alerting.email.enable (
      {
        smtp_smarthost = cfg.alerting.email.smarthost;
        smtp_from = cfg.alerting.email.from;
        smtp_require_tls = cfg.alerting.email.requireTLS;
      }
      // lib.optionalAttrs (cfg.alerting.email.username != null) {
        smtp_auth_username = cfg.alerting.email.username;
      }
      // lib.optionalAttrs (cfg.alerting.email.passwordFile != null) {
        smtp_auth_password_file = cred "smtp-password";
      }
    );
    route = {
      receiver = "null";
      group_by = [
        "alertname"
        "host"
      ];
      group_wait = "30s";
      group_interval = "5m";
      repeat_interval = "4h";
      # Seed 001: critical at once and every 5 minutes, warning every 30 minutes, info logged only.
      routes = [
        {
          receiver = "critical";
          matchers = [ "severity=\"critical\"" ];
          group_wait = "10s";
          repeat_interval = "5m";
        }
        {
          receiver = "warning";
          matchers = [ "severity=\"warning\"" ];
          repeat_interval = "30m";
        }
        {
          receiver = "info";
          matchers = [ "severity=\"info\"" ];
          repeat_interval = "24h";
        }
      ];
    };
    # A critical alert silences the warning of the same name on the same host.
    inhibit_rules = [
      {
        source_matchers = [ "severity=\"critical\"" ];
        target_matchers = [ "severity=\"warning\"" ];
        equal = [
          "alertname"
          "host"
        ];
      }
    ];
    receivers = [ { name = "null"; } ] ++ map receiverFor severities;
  };
  alertmanagerCredentials =
    lib.optional (cfg.alerting.email.enable && cfg.alerting.email.passwordFile != null) "smtp-password:${toString cfg.alerting.email.passwordFile}"
    ++ map (w: "${w.name}:${toString w.urlFile}") (lib.filter (w: w.urlFile != null) webhookList);

  # --- firewall: exporter ports towards the server only ----------------------------------------
  firewallRules =
    sources: ports:
    let
      v4 = lib.filter (s: !h.isIPv6 s) sources;
      v6 = lib.filter h.isIPv6 sources;
      portList = lib.concatMapStringsSep ", " toString ports;
      nft = family: srcs: lib.optionalString (srcs != [ ]) "${family} saddr { ${lib.concatStringsSep ", " srcs} } tcp dport { ${portList} } accept\n";
      ipt =
        cmd: srcs:
        lib.concatMapStrings (
          s: lib.concatMapStrings (p: "${cmd} -A nixos-fw -p tcp -s ${s} --dport ${toString p} -j nixos-fw-accept\n") ports
        ) srcs;
      nftables = config.networking.nftables.enable;
      any = ports != [ ] && sources != [ ];
    in
    # The attribute names must not depend on the fleet: the module system checks every
    # definition's names before `config` exists, and the fleet is read from other hosts'
    # `config` (the server's own too, when it is in nixosConfigurations).
    {
      extraInputRules = mkIf (any && nftables) (nft "ip" v4 + nft "ip6" v6);
      extraCommands = mkIf (any && !nftables) (ipt "iptables" v4 + ipt "ip6tables" v6);
    };

  clientSources = cfg.server.allowedSources;
  # Who pushes logs to the server's Loki: every host but the server itself.
  fleetSources = lib.unique (map (n: fleet.${n}.address) (lib.filter (n: n != hostName) fleetNames));

  lokiPushUrl = "http://${h.hostPort (if isServer then "127.0.0.1" else cfg.server.address) cfg.loki.port}/loki/api/v1/push";

  alloyConfig = ''
    // Written by services.nixmon: the systemd journal to the monitoring server's Loki.
    loki.relabel "journal" {
      forward_to = []
      rule {
        source_labels = ["__journal__systemd_unit"]
        target_label  = "unit"
      }
      rule {
        source_labels = ["__journal_priority_keyword"]
        target_label  = "level"
      }
    }

    loki.source.journal "journal" {
      max_age       = "12h"
      relabel_rules = loki.relabel.journal.rules
      forward_to    = [loki.write.nixmon.receiver]
      labels        = {job = "systemd-journal", host = ${builtins.toJSON hostName}}
    }

    loki.write "nixmon" {
      endpoint {
        url = ${builtins.toJSON lokiPushUrl}
      }
    }
  '';

  grafanaState = "/var/lib/grafana";
  dashboardsDir = cfg.grafana.dashboardsDir;
  adminPasswordFile = if cfg.grafana.adminPasswordFile != null then cfg.grafana.adminPasswordFile else "${grafanaState}/nixmon-admin-password";
  secretKeyFile = if cfg.grafana.secretKeyFile != null then cfg.grafana.secretKeyFile else "${grafanaState}/nixmon-secret-key";

  webhookOptions =
    { defaultSeverities, what }:
    {
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "URL to post ${what} alerts to (visible in the store: prefer `urlFile` when the URL holds a token).";
      };
      urlFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "File holding the URL (read by Alertmanager through a systemd credential; needs Alertmanager >= 0.26).";
      };
      severities = mkOption {
        type = types.listOf (types.enum severities);
        default = defaultSeverities;
        description = "Severities routed to this receiver.";
      };
      sendResolved = mkOption {
        type = types.bool;
        default = true;
        description = "Also post when the alert resolves.";
      };
    };

  hostType = types.submodule (
    { name, ... }:
    {
      options = {
        address = mkOption {
          type = types.str;
          default = name;
          description = "Address Prometheus scrapes the host at.";
        };
        targets = mkOption {
          type = types.attrsOf types.port;
          default = {
            node = 9100;
            nixos = 9971;
            nod = 9972;
          };
          description = "Exporter name (the job) to port.";
        };
        labels = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "Extra labels on every series of this host.";
        };
      };
    }
  );
in
{
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
      default = exposed;
      defaultText = lib.literalMD "the ports of the exporters enabled on this host";
      description = "Exporter name to port, as this host runs them; the server reads it to build its scrape jobs.";
    };

    server = {
      address = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "10.0.0.1";
        description = "The monitoring server: where logs are pushed, and the only source allowed to scrape this host.";
      };
      allowedSources = mkOption {
        type = types.listOf types.str;
        default = lib.optional (cfg.server.address != null && !isServer) cfg.server.address;
        defaultText = lib.literalExpression "[ config.services.nixmon.server.address ]";
        description = "Addresses or CIDRs allowed to reach the exporters' ports (IP literals: the firewall resolves names only once, at load).";
      };
    };

    hosts = mkOption {
      type = types.attrsOf hostType;
      default = { };
      example = lib.literalExpression ''{ web = { address = "10.0.0.2"; }; db = { address = "10.0.0.3"; targets.postgres = 9187; }; }'';
      description = "Hosts to scrape, written by hand (server only). Override discovered ones of the same name.";
    };

    nixosConfigurations = mkOption {
      type = types.lazyAttrsOf types.raw;
      default = { };
      example = lib.literalExpression "self.nixosConfigurations";
      description = ''
        Discover hosts from a flake's `nixosConfigurations` (server only): every configuration that
        enables `services.nixmon` is scraped at its `services.nixmon.address`, on the ports its own
        configuration gives its exporters.
      '';
    };

    monitorSelf = mkOption {
      type = types.bool;
      default = true;
      description = "The server scrapes its own exporters on 127.0.0.1.";
    };

    scrapeInterval = mkOption {
      type = types.str;
      default = "30s";
      description = "Prometheus scrape and rule evaluation interval.";
    };

    retention = {
      metrics = mkOption {
        type = types.str;
        default = "90d";
        description = "How long Prometheus keeps samples.";
      };
      logs = mkOption {
        type = types.str;
        default = "90d";
        description = "How long Loki keeps logs.";
      };
    };

    exporters = {
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

    logs.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Ship the systemd journal to the server's Loki with Grafana Alloy.";
    };

    prometheus = {
      port = mkOption {
        type = types.port;
        default = 9090;
        description = "Prometheus port (listens on 127.0.0.1 behind the proxy, else on all addresses).";
      };
      rulesDir = mkOption {
        type = types.nullOr types.path;
        default = ../../rules;
        defaultText = lib.literalMD "this project's `rules/`";
        description = "Directory whose `*.yml` / `*.yaml` files are loaded as rule files (`*_test.yml` promtool tests are skipped).";
      };
      ruleParameters = mkOption {
        type = types.attrsOf (
          types.oneOf [
            types.str
            types.int
            types.float
          ]
        );
        default = { };
        example = {
          cpu_usage_percent = 80;
          reboot_required_for = "48h";
        };
        description = ''
          Thresholds of this project's alert rules (names, kinds and defaults in `rules/params.json`).
          When set, the rules are rendered with them (`rules/default.nix`) instead of loading the
          committed `rules/*.yml`; an unknown name or a value of the wrong kind stops evaluation.
        '';
      };
      extraRuleFiles = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "More rule files.";
      };
      extraScrapeConfigs = mkOption {
        type = types.listOf types.attrs;
        default = [ ];
        description = "More scrape jobs, in Prometheus' own syntax.";
      };
    };

    remoteWrite = mkOption {
      default = [ ];
      description = ''
        Long-term stores to ship every sample to (Prometheus `remote_write`), for fleets that outgrow
        one Prometheus: VictoriaMetrics (`http://vm:8428/api/v1/write`), Thanos Receive
        (`http://receive:19291/api/v1/receive`), Mimir (`http://mimir:9009/api/v1/push`).
      '';
      example = lib.literalExpression ''[ { url = "http://vm.example.com:8428/api/v1/write"; } ]'';
      type = types.listOf (
        types.submodule {
          options = {
            url = mkOption {
              type = types.str;
              description = "Remote write endpoint.";
            };
            name = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "Name of the queue in Prometheus' metrics.";
            };
            basicAuth = {
              username = mkOption {
                type = types.nullOr types.str;
                default = null;
                description = "Basic auth user.";
              };
              passwordFile = mkOption {
                type = types.nullOr types.str;
                default = null;
                description = "File with the basic auth password (must be readable by the prometheus user).";
              };
            };
            bearerTokenFile = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "File with a bearer token (must be readable by the prometheus user).";
            };
            queueConfig = mkOption {
              type = types.attrs;
              default = { };
              example = {
                max_samples_per_send = 10000;
              };
              description = "Prometheus `queue_config` tuning.";
            };
          };
        }
      );
    };

    victoriametrics = {
      enable = mkEnableOption "a VictoriaMetrics long-term store on the server, fed by remote_write and added to Grafana";
      port = mkOption {
        type = types.port;
        default = 8428;
        description = "VictoriaMetrics port (127.0.0.1).";
      };
      retention = mkOption {
        type = types.str;
        default = "1y";
        description = "VictoriaMetrics retention period.";
      };
    };

    alerting = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Alertmanager on the server.";
      };
      port = mkOption {
        type = types.port;
        default = 9093;
        description = "Alertmanager port (127.0.0.1).";
      };
      email = {
        enable = mkEnableOption "e-mail notifications";
        to = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Recipients.";
        };
        from = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Sender address.";
        };
        smarthost = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "smtp.example.com:587";
          description = "SMTP server, host:port.";
        };
        username = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "SMTP user.";
        };
        passwordFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "File with the SMTP password, read through a systemd credential.";
        };
        requireTLS = mkOption {
          type = types.bool;
          default = true;
          description = "Require STARTTLS.";
        };
        severities = mkOption {
          type = types.listOf (types.enum severities);
          default = [
            "critical"
            "warning"
          ];
          description = "Severities sent by e-mail.";
        };
      };
      homeAssistant =
        {
          enable = mkEnableOption "Home Assistant webhook notifications (a webhook trigger: https://ha/api/webhook/<id>)";
        }
        // webhookOptions {
          defaultSeverities = [
            "critical"
            "warning"
          ];
          what = "Home Assistant";
        };
      nextcloudTalk =
        {
          enable = mkEnableOption "Nextcloud Talk notifications (through a relay that accepts Alertmanager's webhook JSON: Talk bots need signed requests)";
        }
        // webhookOptions {
          defaultSeverities = [ "critical" ];
          what = "Nextcloud Talk";
        };
      webhooks = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = webhookOptions {
              defaultSeverities = [
                "critical"
                "warning"
              ];
              what = "these";
            };
          }
        );
        default = { };
        example = lib.literalExpression ''{ ntfy.url = "http://ntfy-alertmanager:8080/"; }'';
        description = "Generic webhooks (Alertmanager's webhook JSON).";
      };
    };

    grafana = {
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
        description = "File with the admin password; null: one is generated into ${grafanaState}/nixmon-admin-password on first start.";
      };
      secretKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "File with Grafana's secret key; null: one is generated into ${grafanaState}/nixmon-secret-key on first start.";
      };
      dashboardsDir = mkOption {
        type = types.nullOr types.path;
        default = ../../dashboards;
        defaultText = lib.literalMD "this project's `dashboards/`";
        description = "Directory of dashboard JSON files provisioned into the `nixmon` folder.";
      };
    };

    loki = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Loki on the server.";
      };
      port = mkOption {
        type = types.port;
        default = 3100;
        description = "Loki port (opened towards the fleet for log pushes).";
      };
    };

    proxy = {
      enable = mkEnableOption "an nginx reverse proxy with TLS in front of Grafana (/), Prometheus (/prometheus/) and Alertmanager (/alertmanager/)";
      domain = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "monitoring.example.com";
        description = "Virtual host name.";
      };
      enableACME = mkOption {
        type = types.bool;
        default = true;
        description = "Get a certificate from Let's Encrypt (security.acme must be configured).";
      };
      useACMEHost = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Use an existing (e.g. wildcard) ACME certificate instead.";
      };
      sslCertificate = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Certificate file, when not using ACME.";
      };
      sslCertificateKey = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Key file, when not using ACME.";
      };
      basicAuthFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "htpasswd file guarding /prometheus/ and /alertmanager/; without it they are not proxied at all.";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    # ---------------------------------------------------------------- every host
    {
      assertions = [
        {
          assertion = isServer || cfg.server.address != null;
          message = "services.nixmon.server.address must be set on clients (where logs go, who may scrape)";
        }
      ];

      services.prometheus.exporters.nixos.enable = mkDefault cfg.exporters.nixos.enable;
      services.nod.enable = mkDefault cfg.exporters.nod.enable;

      networking.firewall = firewallRules clientSources (lib.attrValues exposed);
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
          if (firstRedis.port or 6379) != 0 then
            [ "--redis.addr=redis://127.0.0.1:${toString (firstRedis.port or 6379)}" ]
          else
            [ "--redis.addr=unix://${firstRedis.unixSocket or "/run/redis/redis.sock"}" ];
      };
      # A Unix-socket-only Redis is reachable by its group.
      systemd.services.prometheus-redis-exporter.serviceConfig.SupplementaryGroups = lib.optional (
        (firstRedis.port or 6379) == 0
      ) (firstRedis.group or firstRedis.user or "redis");
    })

    (mkIf cfg.exporters.nginx.enable {
      services.nginx.statusPage = mkDefault true;
      services.prometheus.exporters.nginx.enable = true;
    })

    (mkIf cfg.exporters.caddy.enable {
      services.caddy.extraConfig = ''
        # services.nixmon: Caddy's metrics for Prometheus.
        http://:${toString cfg.exporters.caddy.port} {
          metrics /metrics
        }
      '';
    })

    (mkIf cfg.logs.enable {
      services.alloy.enable = true;
      environment.etc."alloy/nixmon.alloy".text = alloyConfig;
      # Reading the journal takes this group.
      systemd.services.alloy.serviceConfig.SupplementaryGroups = [ "systemd-journal" ];
    })

    # ---------------------------------------------------------------- the server
    (mkIf isServer (mkMerge [
      {
        assertions = [
          {
            assertion = cfg.proxy.enable -> cfg.proxy.domain != null;
            message = "services.nixmon.proxy.domain must be set when the proxy is enabled";
          }
          {
            assertion =
              cfg.proxy.enable
              -> (cfg.proxy.enableACME || cfg.proxy.useACMEHost != null || (cfg.proxy.sslCertificate != null && cfg.proxy.sslCertificateKey != null));
            message = "services.nixmon.proxy needs TLS: enableACME, useACMEHost, or sslCertificate and sslCertificateKey";
          }
          {
            # The parameters render this project's rules; another rulesDir would be dropped silently.
            assertion = cfg.prometheus.ruleParameters != { } -> cfg.prometheus.rulesDir == ../../rules;
            message = "services.nixmon.prometheus.ruleParameters renders this project's rules: leave prometheus.rulesDir at its default";
          }
          {
            assertion = cfg.alerting.email.enable -> (cfg.alerting.email.to != [ ] && cfg.alerting.email.from != null && cfg.alerting.email.smarthost != null);
            message = "services.nixmon.alerting.email needs to, from and smarthost";
          }
        ]
        ++ map (rw: {
          # Prometheus refuses a remote_write with two kinds of credentials.
          assertion = !(rw.basicAuth.username != null && rw.bearerTokenFile != null);
          message = "services.nixmon.remoteWrite ${rw.url}: set basicAuth or bearerTokenFile, not both";
        }) cfg.remoteWrite
        ++ map (w: {
          assertion = (w.url == null) != (w.urlFile == null);
          message = "services.nixmon.alerting: receiver ${w.name} needs exactly one of url and urlFile";
        }) webhookList;

        services.prometheus = {
          enable = true;
          port = cfg.prometheus.port;
          listenAddress = if cfg.proxy.enable then "127.0.0.1" else "0.0.0.0";
          webExternalUrl = mkIf cfg.proxy.enable "https://${cfg.proxy.domain}/prometheus/";
          retentionTime = cfg.retention.metrics;
          globalConfig = {
            scrape_interval = cfg.scrapeInterval;
            evaluation_interval = cfg.scrapeInterval;
          };
          scrapeConfigs = serverJobs ++ hostJobs ++ cfg.prometheus.extraScrapeConfigs;
          ruleFiles =
            (
              if cfg.prometheus.ruleParameters == { } then
                ruleFilesIn cfg.prometheus.rulesDir
              else
                lib.attrValues (import ../../rules { values = cfg.prometheus.ruleParameters; }).files
            )
            ++ cfg.prometheus.extraRuleFiles;
          alertmanagers = lib.optional cfg.alerting.enable (
            {
              static_configs = [ { targets = [ "127.0.0.1:${toString cfg.alerting.port}" ]; } ];
            }
            // lib.optionalAttrs cfg.proxy.enable { path_prefix = alertmanagerPrefix; }
          );
          remoteWrite =
            map (
              rw:
              lib.filterAttrs (_: v: v != null && v != { }) {
                inherit (rw) url name;
                basic_auth =
                  if rw.basicAuth.username != null then
                    {
                      inherit (rw.basicAuth) username;
                    }
                    // lib.optionalAttrs (rw.basicAuth.passwordFile != null) { password_file = rw.basicAuth.passwordFile; }
                  else
                    null;
                bearer_token_file = rw.bearerTokenFile;
                queue_config = rw.queueConfig;
              }
            ) cfg.remoteWrite
            ++ lib.optional cfg.victoriametrics.enable {
              name = "victoriametrics";
              url = "http://127.0.0.1:${toString cfg.victoriametrics.port}/api/v1/write";
            };
          # promtool cannot read credential files inside the build sandbox.
          checkConfig = mkIf (lib.any (rw: rw.basicAuth.passwordFile != null || rw.bearerTokenFile != null) cfg.remoteWrite) (
            mkDefault "syntax-only"
          );
        };
      }

      (mkIf cfg.alerting.enable {
        services.prometheus.alertmanager = {
          enable = true;
          port = cfg.alerting.port;
          listenAddress = "127.0.0.1";
          webExternalUrl = mkIf cfg.proxy.enable "https://${cfg.proxy.domain}/alertmanager/";
          configuration = alertmanagerConfig;
        };
        systemd.services.alertmanager.serviceConfig.LoadCredential = alertmanagerCredentials;
      })

      (mkIf cfg.loki.enable {
        services.loki = {
          enable = true;
          configuration = {
            auth_enabled = false;
            server = {
              http_listen_address = "0.0.0.0";
              http_listen_port = cfg.loki.port;
              grpc_listen_address = "127.0.0.1";
              grpc_listen_port = 9096;
            };
            common = {
              path_prefix = "/var/lib/loki";
              replication_factor = 1;
              ring = {
                instance_addr = "127.0.0.1";
                kvstore.store = "inmemory";
              };
              storage.filesystem = {
                chunks_directory = "/var/lib/loki/chunks";
                rules_directory = "/var/lib/loki/rules";
              };
            };
            schema_config.configs = [
              {
                from = "2024-01-01";
                store = "tsdb";
                object_store = "filesystem";
                schema = "v13";
                index = {
                  prefix = "index_";
                  period = "24h";
                };
              }
            ];
            limits_config.retention_period = cfg.retention.logs;
            compactor = {
              working_directory = "/var/lib/loki/compactor";
              retention_enabled = true;
              delete_request_store = "filesystem";
            };
            analytics.reporting_enabled = false;
          };
        };
        # Clients push their journal here.
        networking.firewall = firewallRules fleetSources [ cfg.loki.port ];
      })

      (mkIf cfg.grafana.enable {
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
              secret_key = "$__file{${secretKeyFile}}";
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
        systemd.services.grafana.preStart = lib.mkBefore (
          lib.concatMapStrings
            (f: ''
              if [ ! -s ${f} ]; then (umask 077; head -c 24 /dev/urandom | base64 > ${f}); fi
            '')
            (
              lib.optional (cfg.grafana.adminPasswordFile == null) adminPasswordFile
              ++ lib.optional (cfg.grafana.secretKeyFile == null) secretKeyFile
            )
        );
        networking.firewall.allowedTCPPorts = lib.optional (cfg.grafana.openFirewall && !cfg.proxy.enable) cfg.grafana.port;
      })

      (mkIf cfg.victoriametrics.enable {
        services.victoriametrics = {
          enable = true;
          listenAddress = "127.0.0.1:${toString cfg.victoriametrics.port}";
          retentionPeriod = cfg.victoriametrics.retention;
        };
      })

      (mkIf cfg.proxy.enable {
        services.nginx = {
          enable = true;
          recommendedProxySettings = true;
          recommendedTlsSettings = true;
          recommendedGzipSettings = true;
          virtualHosts.${cfg.proxy.domain} = {
            forceSSL = true;
            enableACME = cfg.proxy.enableACME && cfg.proxy.useACMEHost == null && cfg.proxy.sslCertificate == null;
            # nginx's sslCertificate(Key) take no null: set only when given.
            useACMEHost = cfg.proxy.useACMEHost;
            sslCertificate = mkIf (cfg.proxy.sslCertificate != null) cfg.proxy.sslCertificate;
            sslCertificateKey = mkIf (cfg.proxy.sslCertificateKey != null) cfg.proxy.sslCertificateKey;
            locations =
              lib.optionalAttrs cfg.grafana.enable {
                "/" = {
                  proxyPass = "http://127.0.0.1:${toString cfg.grafana.port}";
                  proxyWebsockets = true;
                };
              }
              // lib.optionalAttrs (cfg.proxy.basicAuthFile != null) (
                {
                  "/prometheus/" = {
                    proxyPass = "http://127.0.0.1:${toString cfg.prometheus.port}";
                    basicAuthFile = cfg.proxy.basicAuthFile;
                  };
                }
                // lib.optionalAttrs cfg.alerting.enable {
                  "/alertmanager/" = {
                    proxyPass = "http://127.0.0.1:${toString cfg.alerting.port}";
                    basicAuthFile = cfg.proxy.basicAuthFile;
                  };
                }
              );
          };
        };
        networking.firewall.allowedTCPPorts = [
          80
          443
        ];
      })
    ]))
  ]);
}
