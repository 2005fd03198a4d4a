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
  # Firewall rules take IP literals only: nixpkgs checks the nftables ruleset at build time
  # (nftables.nix, checkRuleset) without DNS, and both backends would resolve a name once, at
  # load, early in boot.
  isIPv4 =
    a:
    let
      m = builtins.match "([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})(/([0-9]{1,2}))?" a;
    in
    m != null
    && lib.all (o: lib.toInt o <= 255) (lib.sublist 0 4 m)
    && (lib.elemAt m 5 == null || lib.toInt (lib.elemAt m 5) <= 32);
  isIPv6Literal = a: lib.hasInfix ":" a && builtins.match "[0-9a-fA-F:.]+(/[0-9]{1,3})?" a != null;
  isIPOrCIDR = a: isIPv4 a || isIPv6Literal a;

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
  # nixpkgs (alertmanager.nix) passes the file through envsubst before Alertmanager reads it:
  # `$` is written `$$` to reach Alertmanager as it was given.
  escapeEnvsubst =
    v:
    if builtins.isString v then
      lib.replaceStrings [ "$" ] [ "$$" ] v
    else if builtins.isList v then
      map escapeEnvsubst v
    else if builtins.isAttrs v then
      lib.mapAttrs (_: escapeEnvsubst) v
    else
      v;
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
      # As the multi-host NixOS monitoring stack routes them: critical at once and every 5 minutes,
      # warning every 30 minutes, info logged only.
      # The user's own routes first: a matching one takes the alert (unless it says `continue`).
      routes = cfg.alerting.extraRoutes ++ [
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
    inhibit_rules = cfg.alerting.extraInhibitRules ++ [
      {
        source_matchers = [ "severity=\"critical\"" ];
        target_matchers = [ "severity=\"warning\"" ];
        equal = [
          "alertname"
          "host"
        ];
      }
    ];
    receivers = [ { name = "null"; } ] ++ map receiverFor severities ++ map (lib.filterAttrs (n: _: n != "_module")) cfg.alerting.extraReceivers;
  };
  # Other definitions of services.prometheus.alertmanager.configuration: nixpkgs merges them with
  # `//` (types.attrs), so a key nixmon also writes replaces nixmon's or is replaced by it.
  foreignAlertmanagerKeys = lib.concatMap (
    d:
    lib.optional (!(lib.hasSuffix "/nixmon.nix" (toString d.file)) && builtins.isAttrs d.value) {
      inherit (d) file;
      keys = lib.intersectLists (lib.attrNames d.value) (lib.attrNames alertmanagerConfig);
    }
  ) options.services.prometheus.alertmanager.configuration.definitionsWithLocations;
  clashingAlertmanagerKeys = lib.filter (d: d.keys != [ ]) foreignAlertmanagerKeys;
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
  # Who pushes logs to the server's Loki: every host but the server itself, by IP.
  fleetAddresses = lib.unique (map (n: fleet.${n}.address) (lib.filter (n: n != hostName) fleetNames));
  fleetByName = lib.filter (n: n != hostName && !isIPOrCIDR fleet.${n}.address) fleetNames;

  lokiPushUrl = "http://${h.hostPort (if isServer then "127.0.0.1" else cfg.server.address) cfg.loki.port}/loki/api/v1/push";

  # Component names must be unique across every .alloy file Alloy loads (alloy.nix): every
  # label here starts with "nixmon" so a user's `loki.source.journal "journal"` can sit beside it.
  alloyConfig = ''
    // Written by services.nixmon: the systemd journal to the monitoring server's Loki.
    loki.relabel "nixmon_journal" {
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

    loki.source.journal "nixmon_journal" {
      max_age       = "12h"
      relabel_rules = loki.relabel.nixmon_journal.rules
      forward_to    = [loki.write.nixmon.receiver]
      labels        = {job = "systemd-journal", host = ${builtins.toJSON hostName}}
    }

    loki.write "nixmon" {
      endpoint {
        url = ${builtins.toJSON lokiPushUrl}
      }
    }
  '';
  # Alloy loads every *.alloy file of the directory configPath names (alloy.nix; default
  # /etc/alloy). nixmon's file goes into that directory when it is one under /etc; a single file
  # or a directory elsewhere (the store) cannot take a second file.
  alloyDir = toString config.services.alloy.configPath;
  alloyDirUsable = lib.hasPrefix "/etc/" alloyDir && !(lib.hasSuffix ".alloy" alloyDir);
  alloyEtcName = "${lib.removeSuffix "/" (lib.removePrefix "/etc/" alloyDir)}/nixmon.alloy";

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
  grafanaState = toString config.services.grafana.dataDir;
  lokiState = toString config.services.loki.dataDir;
  # nixmon's key file is used only when nobody set services.grafana.settings.security.secret_key.
  # Submodule values (nixpkgs' scrape and queue configs) handed on as plain definitions: without
  # the module system's `_module` and the nulls of unset keys.
  plain =
    v:
    if builtins.isAttrs v && !(v ? outPath) then
      lib.mapAttrs (_: plain) (lib.filterAttrs (n: x: n != "_module" && x != null) v)
    else if builtins.isList v then
      map plain v
    else
      v;
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
        default = lib.optional (cfg.server.address != null && !isServer && isIPOrCIDR cfg.server.address) cfg.server.address;
        defaultText = lib.literalMD "`[ config.services.nixmon.server.address ]` when that is an IP address";
        description = "IP addresses or CIDRs allowed to reach the exporters' ports (no host names: the firewall would resolve them once, at load, and nixpkgs' nftables check has no DNS).";
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
        # nixpkgs' own scrape_config type (prometheus/default.nix): a closed submodule, so a key it
        # does not know is reported here, at the user's definition.
        type = types.listOf options.services.prometheus.scrapeConfigs.type.nestedTypes.elemType;
        visible = "shallow";
        default = [ ];
        example = lib.literalExpression ''[ { job_name = "router"; static_configs = [ { targets = [ "192.168.1.1:9100" ]; } ]; } ]'';
        description = "More scrape jobs, with the keys {option}`services.prometheus.scrapeConfigs` accepts.";
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
              # nixpkgs' own queue_config type (prometheus/default.nix): a closed submodule.
              type = (options.services.prometheus.remoteWrite.type.nestedTypes.elemType.getSubOptions [ ]).queue_config.type;
              visible = "shallow";
              default = null;
              example = {
                max_samples_per_send = 10000;
              };
              description = "Prometheus `queue_config` tuning, with the keys {option}`services.prometheus.remoteWrite` accepts.";
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
      extraReceivers = mkOption {
        type = types.listOf (
          types.submodule {
            freeformType = types.attrsOf types.anything;
            options.name = mkOption {
              type = types.str;
              description = "Receiver name, for {option}`services.nixmon.alerting.extraRoutes`.";
            };
          }
        );
        default = [ ];
        example = lib.literalExpression ''[ { name = "db-team"; webhook_configs = [ { url = "http://hooks.lan/db"; } ]; } ]'';
        description = ''
          More Alertmanager receivers, in Alertmanager's syntax, added to nixmon's. Use this (and
          `extraRoutes`) instead of {option}`services.prometheus.alertmanager.configuration`:
          nixpkgs merges that option shallowly, so a `receivers` or `route` set there would replace
          nixmon's. Values are written as given (`$` is escaped for the envsubst nixpkgs runs).
        '';
      };
      extraRoutes = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
        example = lib.literalExpression ''[ { receiver = "db-team"; matchers = [ "team=\"db\"" ]; } ]'';
        description = "Alertmanager routes tried before nixmon's severity routes (add `continue = true` to let nixmon's routes see the alert too).";
      };
      extraInhibitRules = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
        description = "More Alertmanager inhibit rules, added to nixmon's.";
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
      allowedSources = mkOption {
        type = types.listOf types.str;
        default = lib.filter isIPOrCIDR fleetAddresses;
        defaultText = lib.literalMD "the fleet's addresses that are IP addresses";
        example = [ "10.0.0.0/24" ];
        description = "IP addresses or CIDRs allowed to push logs to Loki. Hosts addressed by name are not in the default (a warning names them): list their network here.";
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
        {
          assertion = lib.all isIPOrCIDR clientSources;
          message = "services.nixmon.server.allowedSources: ${
            lib.concatStringsSep ", " (lib.filter (a: !isIPOrCIDR a) clientSources)
          } is not an IP address or CIDR; firewall rules need one (a host name would be resolved once, at load, and fails nixpkgs' nftables ruleset check)";
        }
        {
          assertion = cfg.logs.enable -> alloyDirUsable;
          message = "services.nixmon.logs: services.alloy.configPath is ${alloyDir}, a single file or a directory outside /etc, so nixmon cannot add its journal pipeline beside it; put your configuration in environment.etc.\"alloy/<name>.alloy\" (leaving configPath at /etc/alloy) or point configPath at a directory under /etc";
        }
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
      warnings = lib.optional (!isServer && cfg.server.address != null && !isIPOrCIDR cfg.server.address && cfg.server.allowedSources == [ ]) "services.nixmon: the server's address ${cfg.server.address} is a host name, which firewall rules cannot use; nobody may scrape this host's exporters until services.nixmon.server.allowedSources lists the server's IP address or network";

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

    (mkIf cfg.logs.enable {
      services.alloy.enable = true;
      environment.etc.${alloyEtcName}.text = alloyConfig;
      systemd.services.alloy = {
        # alloy.nix reloads Alloy when /etc/alloy/config.alloy changes, not for other files.
        reloadTriggers = [ config.environment.etc.${alloyEtcName}.source ];
        # Reading the journal takes this group.
        serviceConfig.SupplementaryGroups = [ "systemd-journal" ];
      };
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
        ++ [
          {
            assertion = lib.all isIPOrCIDR cfg.loki.allowedSources;
            message = "services.nixmon.loki.allowedSources: ${
              lib.concatStringsSep ", " (lib.filter (a: !isIPOrCIDR a) cfg.loki.allowedSources)
            } is not an IP address or CIDR; firewall rules need one";
          }
          {
            assertion = !cfg.alerting.enable || clashingAlertmanagerKeys == [ ];
            message = "services.prometheus.alertmanager.configuration is also set in ${
              lib.concatMapStringsSep ", " (d: "${toString d.file} (${lib.concatStringsSep ", " d.keys})") clashingAlertmanagerKeys
            }: nixpkgs merges that option with //, so those keys replace nixmon's or are replaced by them. Use services.nixmon.alerting.extraReceivers, extraRoutes and extraInhibitRules, or set services.nixmon.alerting.enable = false to write the whole configuration yourself";
          }
        ]
        ++ map (rw: {
          # Prometheus' basic_auth needs a username; nixmon would drop the password silently.
          assertion = rw.basicAuth.passwordFile != null -> rw.basicAuth.username != null;
          message = "services.nixmon.remoteWrite ${rw.url}: basicAuth.passwordFile needs basicAuth.username";
        }) cfg.remoteWrite
        ++ map (rw: {
          # Prometheus refuses a remote_write with two kinds of credentials.
          assertion = !(rw.basicAuth.username != null && rw.bearerTokenFile != null);
          message = "services.nixmon.remoteWrite ${rw.url}: set basicAuth or bearerTokenFile, not both";
        }) cfg.remoteWrite
        ++ map (w: {
          assertion = (w.url == null) != (w.urlFile == null);
          message = "services.nixmon.alerting: receiver ${w.name} needs exactly one of url and urlFile";
        }) webhookList;
        warnings = lib.optional (cfg.loki.enable && cfg.logs.enable && fleetByName != [ ]) "services.nixmon: ${
          lib.concatMapStringsSep ", " (n: "${n} (${fleet.${n}.address})") fleetByName
        } addressed by name: firewall rules need IP addresses, so Loki does not accept their logs until services.nixmon.loki.allowedSources lists their addresses or network";

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
          scrapeConfigs = serverJobs ++ hostJobs ++ plain cfg.prometheus.extraScrapeConfigs;
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
                queue_config = if rw.queueConfig == null then null else plain rw.queueConfig;
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
          configuration = escapeEnvsubst alertmanagerConfig;
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
              path_prefix = lokiState;
              replication_factor = 1;
              ring = {
                instance_addr = "127.0.0.1";
                kvstore.store = "inmemory";
              };
              storage.filesystem = {
                chunks_directory = "${lokiState}/chunks";
                rules_directory = "${lokiState}/rules";
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
              working_directory = "${lokiState}/compactor";
              retention_enabled = true;
              delete_request_store = "filesystem";
            };
            analytics.reporting_enabled = false;
          };
        };
        # Clients push their journal here.
        networking.firewall = firewallRules cfg.loki.allowedSources [ cfg.loki.port ];
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
