# services.nixmon.victoriametrics on the server: a VictoriaMetrics long-term store on 127.0.0.1.
# Prometheus feeds it through remote_write (prometheus.nix) and Grafana reads it (grafana.nix).
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
    types
    ;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; }) isServer;
in
{
  options.services.nixmon.victoriametrics = {
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

  config = mkIf (cfg.enable && isServer && cfg.victoriametrics.enable) {
    services.victoriametrics = {
      enable = true;
      listenAddress = "127.0.0.1:${toString cfg.victoriametrics.port}";
      retentionPeriod = cfg.victoriametrics.retention;
    };
  };
}
