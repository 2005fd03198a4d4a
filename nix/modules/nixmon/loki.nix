# services.nixmon.loki on the server: Loki, keeping the journals the fleet's hosts push (alloy.nix),
# reachable through the firewall from the fleet's addresses only.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    types
    ;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; })
    isServer
    isIPOrCIDR
    fleet
    fleetNames
    firewallRules
    ;
  hostName = config.networking.hostName;
  lokiState = toString config.services.loki.dataDir;

  # Who pushes logs to the server's Loki: every host but the server itself, by IP.
  fleetAddresses = lib.unique (map (n: fleet.${n}.address) (lib.filter (n: n != hostName) fleetNames));
  fleetByName = lib.filter (n: n != hostName && !isIPOrCIDR fleet.${n}.address) fleetNames;
in
{
  options.services.nixmon = {
    retention.logs = mkOption {
      type = types.str;
      default = "90d";
      description = "How long Loki keeps logs.";
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
  };

  config = mkIf (cfg.enable && isServer) (mkMerge [
    {
      assertions = [
        {
          assertion = lib.all isIPOrCIDR cfg.loki.allowedSources;
          message = "services.nixmon.loki.allowedSources: ${
            lib.concatStringsSep ", " (lib.filter (a: !isIPOrCIDR a) cfg.loki.allowedSources)
          } is not an IP address or CIDR; firewall rules need one";
        }
      ];
      warnings = lib.optional (cfg.loki.enable && cfg.logs.enable && fleetByName != [ ]) "services.nixmon: ${
        lib.concatMapStringsSep ", " (n: "${n} (${fleet.${n}.address})") fleetByName
      } addressed by name: firewall rules need IP addresses, so Loki does not accept their logs until services.nixmon.loki.allowedSources lists their addresses or network";
    }

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
  ]);
}
