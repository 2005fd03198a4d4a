# What the files of services.nixmon share: values derived from the configuration (what this host
# exposes, the fleet the server scrapes) and the firewall helper. Not a module: each file imports
# it with its own `config`, so nothing here becomes an option.
{ config, lib }:

let
  h = import ../lib.nix { inherit lib; };
  cfg = config.services.nixmon;
  hostName = config.networking.hostName;

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

  # --- what this host exposes (read by the server through nixosConfigurations) ----------------
  exposed = lib.filterAttrs (_: p: p != null) {
    node = if cfg.exporters.node.enable then config.services.prometheus.exporters.node.port else null;
    nixos = if cfg.exporters.nixos.enable then config.services.prometheus.exporters.nixos.port else null;
    nod = if cfg.exporters.nod.enable && config.services.nod.metrics.enable then config.services.nod.metrics.port else null;
    postgres = if cfg.exporters.postgres.enable then config.services.prometheus.exporters.postgres.port else null;
    redis = if cfg.exporters.redis.enable then config.services.prometheus.exporters.redis.port else null;
    nginx = if cfg.exporters.nginx.enable then config.services.prometheus.exporters.nginx.port else null;
    caddy = if cfg.exporters.caddy.enable then cfg.exporters.caddy.port else null;
    cadvisor = if cfg.exporters.cadvisor.enable then config.services.cadvisor.port else null;
  };

  # --- the fleet, as the server sees it (options in fleet.nix) --------------------------------
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

  # --- firewall: ports towards given sources only -----------------------------------------------
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
      extraInputRules = lib.mkIf (any && nftables) (nft "ip" v4 + nft "ip6" v6);
      extraCommands = lib.mkIf (any && !nftables) (ipt "iptables" v4 + ipt "ip6tables" v6);
    };
in
{
  inherit
    isIPOrCIDR
    exposed
    fleet
    fleetNames
    firewallRules
    ;
  isServer = cfg.role == "server";
  # Behind the proxy, Prometheus and Alertmanager serve under these paths.
  prometheusPrefix = if cfg.proxy.enable then "/prometheus" else "";
  alertmanagerPrefix = if cfg.proxy.enable then "/alertmanager" else "";
}
