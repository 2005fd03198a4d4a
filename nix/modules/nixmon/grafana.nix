# services.nixmon.grafana on the server: Grafana with the stack's datasources (Prometheus, Loki,
# Alertmanager, VictoriaMetrics) and this project's dashboards provisioned, an admin password
# and secret key made on first start, and optional single sign-on through an OpenID Connect
# provider (Grafana's generic OAuth).
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
  oidc = cfg.grafana.oidc;
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
    oidc = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Single sign-on through an OpenID Connect provider (Kanidm, Keycloak, Authentik, Authelia,
          Dex, ...), as Grafana's generic OAuth (`[auth.generic_oauth]`). Register Grafana with the
          provider with the redirect URL `<root_url>login/generic_oauth`.
        '';
      };
      name = mkOption {
        type = types.str;
        default = "OIDC";
        example = "Kanidm";
        description = "The provider's name on Grafana's login button.";
      };
      clientId = mkOption {
        type = types.str;
        default = "";
        example = "grafana";
        description = "OAuth client id Grafana is registered under at the provider.";
      };
      clientSecretFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/secrets/grafana-oidc-secret";
        description = ''
          File with the client secret, readable by the grafana user; Grafana reads it itself
          (`$__file{...}`), so the secret never enters the Nix store. An absolute path outside it.
        '';
      };
      scopes = mkOption {
        type = types.listOf types.str;
        default = [
          "openid"
          "profile"
          "email"
        ];
        description = "Scopes requested.";
      };
      authUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://idm.example.com/ui/oauth2";
        description = "The provider's authorization endpoint (`authorization_endpoint` of its OpenID configuration).";
      };
      tokenUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://idm.example.com/oauth2/token";
        description = "The provider's token endpoint (`token_endpoint`).";
      };
      apiUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://idm.example.com/oauth2/openid/grafana/userinfo";
        description = "The provider's userinfo endpoint (`userinfo_endpoint`).";
      };
      roleAttributePath = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "contains(groups[*], 'grafana_admins@idm.example.com') && 'Admin' || 'Viewer'";
        description = ''
          JMESPath over the ID token and userinfo claims that yields the Grafana role (`Viewer`,
          `Editor`, `Admin`, `GrafanaAdmin`). null: new users get
          {option}`services.grafana.settings.users.auto_assign_org_role`.
        '';
      };
      roleAttributeStrict = mkOption {
        type = types.bool;
        default = false;
        description = "Refuse the login when {option}`roleAttributePath` yields no role (instead of the default role).";
      };
      allowAssignGrafanaAdmin = mkOption {
        type = types.bool;
        default = false;
        description = "Let {option}`roleAttributePath` yield `GrafanaAdmin` (server administrator).";
      };
      allowSignUp = mkOption {
        type = types.bool;
        default = true;
        description = "Create a Grafana user on the first login of someone the provider knows; false: only users that exist in Grafana already may log in.";
      };
      usePkce = mkOption {
        type = types.bool;
        default = true;
        description = "Use PKCE (RFC 7636) in the authorization code flow.";
      };
      disableLoginForm = mkOption {
        type = types.bool;
        default = false;
        description = "Hide Grafana's user name and password form: everyone logs in through the provider.";
      };
    };
    dashboardsDir = mkOption {
      type = types.nullOr types.path;
      default = ../../../dashboards;
      defaultText = lib.literalMD "this project's `dashboards/`";
      description = "Directory of dashboard JSON files provisioned into the `nixmon` folder.";
    };
  };

  config = mkIf (cfg.enable && isServer && cfg.grafana.enable) {
    assertions = [
      {
        assertion = oidc.enable -> oidc.clientId != "" && oidc.clientSecretFile != null;
        message = "services.nixmon.grafana.oidc needs clientId and clientSecretFile";
      }
      {
        assertion = oidc.enable -> oidc.authUrl != null && oidc.tokenUrl != null && oidc.apiUrl != null;
        message = "services.nixmon.grafana.oidc needs the provider's authUrl, tokenUrl and apiUrl (Grafana's generic OAuth does not discover them)";
      }
      {
        assertion = oidc.clientSecretFile != null -> lib.hasPrefix "/" oidc.clientSecretFile && !(lib.hasPrefix builtins.storeDir oidc.clientSecretFile);
        message = "services.nixmon.grafana.oidc.clientSecretFile must be an absolute path outside the Nix store";
      }
      {
        # Without another way in, nobody could log in at all.
        assertion = oidc.disableLoginForm -> oidc.enable;
        message = "services.nixmon.grafana.oidc.disableLoginForm without oidc.enable leaves no way to log in";
      }
      {
        assertion = oidc.enable && oidc.roleAttributeStrict -> oidc.roleAttributePath != null;
        message = "services.nixmon.grafana.oidc.roleAttributeStrict without roleAttributePath refuses every login";
      }
      {
        assertion = oidc.enable && oidc.allowAssignGrafanaAdmin -> oidc.roleAttributePath != null;
        message = "services.nixmon.grafana.oidc.allowAssignGrafanaAdmin needs roleAttributePath (the only way to yield GrafanaAdmin)";
      }
      {
        # The provider redirects the browser back to root_url; nixpkgs' default names localhost.
        assertion =
          oidc.enable
          -> cfg.proxy.enable || config.services.grafana.settings.server.domain != "localhost" || !(lib.hasInfix "%(domain)s" config.services.grafana.settings.server.root_url);
        message = "services.nixmon.grafana.oidc: the provider redirects back to Grafana's root_url, which names localhost; enable services.nixmon.proxy or set services.grafana.settings.server.domain or root_url";
      }
    ];

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
      }
      // lib.optionalAttrs oidc.enable {
        # Grafana reads `$__file{path}` from the file at start (its file provider): the secret
        # stays out of the generated grafana.ini, which is in the store.
        "auth.generic_oauth" = {
          enabled = true;
          inherit (oidc) name;
          client_id = oidc.clientId;
          client_secret = "$__file{${toString oidc.clientSecretFile}}";
          scopes = lib.concatStringsSep " " oidc.scopes;
          auth_url = oidc.authUrl;
          token_url = oidc.tokenUrl;
          api_url = oidc.apiUrl;
          role_attribute_strict = oidc.roleAttributeStrict;
          allow_assign_grafana_admin = oidc.allowAssignGrafanaAdmin;
          allow_sign_up = oidc.allowSignUp;
          use_pkce = oidc.usePkce;
        }
        // lib.optionalAttrs (oidc.roleAttributePath != null) { role_attribute_path = oidc.roleAttributePath; };
      }
      // lib.optionalAttrs oidc.disableLoginForm {
        auth.disable_login_form = true;
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
