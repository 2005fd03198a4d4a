# services.nixmon.alerting on the server: Alertmanager. Critical / warning / info routes, e-mail
# and webhook receivers (Home Assistant, Nextcloud Talk, generic) with their secrets read through
# systemd credentials, and the user's own receivers, routes and inhibit rules added to nixmon's.
{
  config,
  options,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    types
    ;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; }) isServer;
  severities = [
    "critical"
    "warning"
    "info"
  ];

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
  # `//` (types.attrs), so a key nixmon also writes replaces nixmon's or is replaced by it. nixmon's
  # own definition is the one made in this file.
  foreignAlertmanagerKeys = lib.concatMap (
    d:
    lib.optional (toString d.file != toString ./alertmanager.nix && builtins.isAttrs d.value) {
      inherit (d) file;
      keys = lib.intersectLists (lib.attrNames d.value) (lib.attrNames alertmanagerConfig);
    }
  ) options.services.prometheus.alertmanager.configuration.definitionsWithLocations;
  clashingAlertmanagerKeys = lib.filter (d: d.keys != [ ]) foreignAlertmanagerKeys;
  alertmanagerCredentials =
    lib.optional (cfg.alerting.email.enable && cfg.alerting.email.passwordFile != null) "smtp-password:${toString cfg.alerting.email.passwordFile}"
    ++ map (w: "${w.name}:${toString w.urlFile}") (lib.filter (w: w.urlFile != null) webhookList);

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
in
{
  options.services.nixmon.alerting = {
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

  config = mkIf (cfg.enable && isServer) (mkMerge [
    {
      assertions = [
        {
          assertion = cfg.alerting.email.enable -> (cfg.alerting.email.to != [ ] && cfg.alerting.email.from != null && cfg.alerting.email.smarthost != null);
          message = "services.nixmon.alerting.email needs to, from and smarthost";
        }
        {
          assertion = !cfg.alerting.enable || clashingAlertmanagerKeys == [ ];
          message = "services.prometheus.alertmanager.configuration is also set in ${
            lib.concatMapStringsSep ", " (d: "${toString d.file} (${lib.concatStringsSep ", " d.keys})") clashingAlertmanagerKeys
          }: nixpkgs merges that option with //, so those keys replace nixmon's or are replaced by them. Use services.nixmon.alerting.extraReceivers, extraRoutes and extraInhibitRules, or set services.nixmon.alerting.enable = false to write the whole configuration yourself";
        }
      ]
      ++ map (w: {
        assertion = (w.url == null) != (w.urlFile == null);
        message = "services.nixmon.alerting: receiver ${w.name} needs exactly one of url and urlFile";
      }) webhookList;
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
  ]);
}
