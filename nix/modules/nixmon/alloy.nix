# services.nixmon.logs: every host ships its systemd journal to the server's Loki with Grafana
# Alloy, in a file of its own beside the user's Alloy configuration.
{
  config,
  lib,
  ...
}:

let
  inherit (lib) mkOption mkIf types;
  h = import ../lib.nix { inherit lib; };
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; }) isServer;
  hostName = config.networking.hostName;

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
in
{
  options.services.nixmon.logs.enable = mkOption {
    type = types.bool;
    default = true;
    description = "Ship the systemd journal to the server's Loki with Grafana Alloy.";
  };

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [
        {
          assertion = cfg.logs.enable -> alloyDirUsable;
          message = "services.nixmon.logs: services.alloy.configPath is ${alloyDir}, a single file or a directory outside /etc, so nixmon cannot add its journal pipeline beside it; put your configuration in environment.etc.\"alloy/<name>.alloy\" (leaving configPath at /etc/alloy) or point configPath at a directory under /etc";
        }
      ];
    }

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
  ]);
}
