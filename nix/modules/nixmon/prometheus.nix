# services.nixmon on the server: Prometheus. A scrape job per exporter with a target per host of
# the fleet, the server's own services, this project's alert rules, and remote_write to long-term
# stores (and to the server's VictoriaMetrics).
{
  config,
  options,
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
  h = import ../lib.nix { inherit lib; };
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; })
    isServer
    fleet
    fleetNames
    prometheusPrefix
    alertmanagerPrefix
    ;
  hostName = config.networking.hostName;

  exporterNames = lib.sort lib.lessThan (lib.unique (lib.concatMap (n: lib.attrNames fleet.${n}.targets) fleetNames));

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
in
{
  options.services.nixmon = {
    scrapeInterval = mkOption {
      type = types.str;
      default = "30s";
      description = "Prometheus scrape and rule evaluation interval.";
    };

    retention.metrics = mkOption {
      type = types.str;
      default = "90d";
      description = "How long Prometheus keeps samples.";
    };

    prometheus = {
      port = mkOption {
        type = types.port;
        default = 9090;
        description = "Prometheus port (listens on 127.0.0.1 behind the proxy, else on all addresses).";
      };
      rulesDir = mkOption {
        type = types.nullOr types.path;
        default = ../../../rules;
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
  };

  config = mkIf (cfg.enable && isServer) {
    assertions = [
      {
        # The parameters render this project's rules; another rulesDir would be dropped silently.
        assertion = cfg.prometheus.ruleParameters != { } -> cfg.prometheus.rulesDir == ../../../rules;
        message = "services.nixmon.prometheus.ruleParameters renders this project's rules: leave prometheus.rulesDir at its default";
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
    }) cfg.remoteWrite;

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
            lib.attrValues (import ../../../rules { values = cfg.prometheus.ruleParameters; }).files
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
  };
}
