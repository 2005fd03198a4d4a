# services.nixmon.proxy: nginx with TLS in front of the server's Grafana (/), and of Prometheus
# (/prometheus/) and Alertmanager (/alertmanager/) when a password file guards them. Behind it
# the three listen on 127.0.0.1 under those paths (shared.nix: prometheusPrefix, alertmanagerPrefix).
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
    types
    ;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; }) isServer;
in
{
  options.services.nixmon.proxy = {
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

  config = mkIf (cfg.enable && isServer) (mkMerge [
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
      ];
    }

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
  ]);
}
