# services.nixmon on the server: the `nixmon` command on PATH, already pointed at this server's
# Prometheus and Alertmanager, and `nixmon reload` made possible without opening anything.
#
# The URLs go into the login environment (NIXMON_PROMETHEUS_URL, NIXMON_ALERTMANAGER_URL, read by
# nixmon when --prometheus / --alertmanager are not given), with the path prefix Prometheus and
# Alertmanager serve under behind the proxy.
#
# Reloading Prometheus over HTTP needs its lifecycle API (--web.enable-lifecycle), which also
# serves /-/quit to anyone who reaches the port. So it is switched on only where no other machine
# can reach it:
#   - Prometheus must listen on loopback. prometheus.nix makes it listen on 127.0.0.1 when the proxy
#     is on and on 0.0.0.0 otherwise, so `reload` defaults to the proxy's switch. On 0.0.0.0 the
#     lifecycle API stays off (nixmon reload then reports Prometheus' 403 and still reloads
#     Alertmanager); asking for `reload` there gets a warning that says why it is not done.
#   - The proxy forwards /prometheus/ and /alertmanager/ to the world (behind basic auth): their
#     lifecycle endpoints (/-/reload, /-/quit) are answered 403 there. /-/healthy and /-/ready stay
#     open, since outside health checks and load balancers ask them. Alertmanager's /-/reload is
#     always served (it has no switch), so this closes it on the proxy as well; it listens on
#     127.0.0.1 only (alertmanager.nix). The locations are case-insensitive regular expressions:
#     nginx tries them before the /prometheus/ prefix, on the URI after decoding %-escapes and
#     merging slashes, and they also catch "/-/reload/" and other spellings the servers' routers
#     would redirect to the real endpoint.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    types
    ;
  h = import ../lib.nix { inherit lib; };
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; })
    isServer
    prometheusPrefix
    alertmanagerPrefix
    ;
  loopback = [
    "127.0.0.1"
    "::1"
    "localhost"
  ];
  prometheusOnLoopback = builtins.elem config.services.prometheus.listenAddress loopback;
  lifecycle = cfg.cli.reload && prometheusOnLoopback;
  proxied = cfg.proxy.enable && cfg.proxy.basicAuthFile != null;
in
{
  options.services.nixmon.cli = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Put `nixmon` on the server's PATH with the URLs of its Prometheus and Alertmanager preset.";
    };
    package = mkOption {
      type = types.package;
      default = h.defaultPackage pkgs;
      defaultText = lib.literalExpression "pkgs.nixmon";
      description = "Package providing `bin/nixmon`.";
    };
    reload = mkOption {
      type = types.bool;
      default = cfg.proxy.enable;
      defaultText = lib.literalExpression "config.services.nixmon.proxy.enable";
      description = ''
        Let `nixmon reload` reload Prometheus: its lifecycle API (`--web.enable-lifecycle`), only
        while Prometheus listens on loopback (with the proxy on), never through the proxy.
      '';
    };
  };

  config = mkIf (cfg.enable && isServer && cfg.cli.enable) (mkMerge [
    {
      environment.systemPackages = [ cfg.cli.package ];
      environment.sessionVariables = {
        NIXMON_PROMETHEUS_URL = "http://127.0.0.1:${toString cfg.prometheus.port}${prometheusPrefix}";
        NIXMON_ALERTMANAGER_URL = "http://127.0.0.1:${toString cfg.alerting.port}${alertmanagerPrefix}";
      };
      warnings = lib.optional (cfg.cli.reload && !prometheusOnLoopback) (
        "services.nixmon.cli.reload: Prometheus listens on ${config.services.prometheus.listenAddress}, so its "
        + "lifecycle API (which also lets anyone who reaches the port stop it) stays off and `nixmon reload` "
        + "reloads Alertmanager only. Enable services.nixmon.proxy (Prometheus then listens on 127.0.0.1), "
        + "or set services.nixmon.cli.reload = false to silence this."
      );
    }
    (mkIf lifecycle { services.prometheus.extraFlags = [ "--web.enable-lifecycle" ]; })
    (mkIf proxied {
      services.nginx.virtualHosts.${cfg.proxy.domain}.locations = {
        "~* ^${prometheusPrefix}/-/(reload|quit)".return = "403";
      }
      // lib.optionalAttrs cfg.alerting.enable {
        "~* ^${alertmanagerPrefix}/-/(reload|quit)".return = "403";
      };
    })
  ]);
}
