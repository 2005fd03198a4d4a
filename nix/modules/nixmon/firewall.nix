# services.nixmon on every host: the exporters' ports open towards the monitoring server only
# (server.allowedSources), and the checks on how a client names its server.
{
  config,
  lib,
  ...
}:

let
  inherit (lib) mkOption mkIf types;
  cfg = config.services.nixmon;
  inherit (import ./shared.nix { inherit config lib; })
    isServer
    isIPOrCIDR
    exposed
    firewallRules
    ;
  clientSources = cfg.server.allowedSources;
in
{
  options.services.nixmon.server.allowedSources = mkOption {
    type = types.listOf types.str;
    default = lib.optional (cfg.server.address != null && !isServer && isIPOrCIDR cfg.server.address) cfg.server.address;
    defaultText = lib.literalMD "`[ config.services.nixmon.server.address ]` when that is an IP address";
    description = "IP addresses or CIDRs allowed to reach the exporters' ports (no host names: the firewall would resolve them once, at load, and nixpkgs' nftables check has no DNS).";
  };

  config = mkIf cfg.enable {
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
    ];
    warnings = lib.optional (!isServer && cfg.server.address != null && !isIPOrCIDR cfg.server.address && cfg.server.allowedSources == [ ]) "services.nixmon: the server's address ${cfg.server.address} is a host name, which firewall rules cannot use; nobody may scrape this host's exporters until services.nixmon.server.allowedSources lists the server's IP address or network";

    networking.firewall = firewallRules clientSources (lib.attrValues exposed);
  };
}
