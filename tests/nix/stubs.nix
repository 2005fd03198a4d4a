# Stand-ins for the NixOS options that nixmon's modules set or read and that nixpkgs' `lib` alone
# does not declare (they live in nixpkgs/nixos/modules, which the tests do not have). Loosely typed
# on purpose: they accept what NixOS accepts, merge the way NixOS merges where it matters (lists
# concatenate, conflicting scalars fail), and carry NixOS' defaults where the modules read them.
#
# Declared here:
#   assertions, warnings                                   (nixos/modules/misc/assertions.nix)
#   networking.hostName, networking.domain,
#   networking.nftables.enable,
#   networking.firewall.{allowedTCPPorts,extraCommands,extraInputRules}
#   users.users, users.groups
#   environment.{systemPackages,sessionVariables,etc}
#   nix.package, nix.settings
#   systemd.services.<name>.{wantedBy,requiredBy,after,before,wants,path,environment,preStart,serviceConfig,…}
#   services.prometheus.{enable,port,listenAddress,webExternalUrl,retentionTime,globalConfig,
#     scrapeConfigs,ruleFiles,alertmanagers,remoteWrite,checkConfig}
#   services.prometheus.exporters.{node,postgres,redis,nginx}.{enable,port,…}  (a submodule, as in
#     nixpkgs, so `services.prometheus.exporters.nixos` is declared into it the way it is on NixOS)
#   services.prometheus.alertmanager.{enable,port,listenAddress,webExternalUrl,configuration}
#   services.grafana.{enable,settings,provision.{enable,datasources.settings,dashboards.settings}}
#   services.loki.{enable,configuration}, services.alloy.enable,
#   services.victoriametrics.{enable,listenAddress,retentionPeriod},
#   services.nginx.{enable,statusPage,recommended*Settings,virtualHosts},
#   services.caddy.{enable,extraConfig}, services.postgresql.enable, services.redis.servers
# and `pkgs`, a fake package set with just what the modules use (fake store paths, nothing built).
{ lib, ... }:

let
  inherit (lib) mkOption types;
  anything = types.anything;
  opt = type: default: mkOption { inherit type default; };
  # systemd unit settings: lists concatenate, scalars must agree (NixOS' unitOption does the same).
  unitValue = types.either (types.listOf types.str) (types.either types.str (types.either types.bool types.int));
  exporter =
    port: extra:
    opt (types.submodule {
      freeformType = types.attrsOf anything;
      options = {
        enable = opt types.bool false;
        port = opt types.port port;
        listenAddress = opt types.str "0.0.0.0";
        openFirewall = opt types.bool false;
        extraFlags = opt (types.listOf types.str) [ ];
      }
      // extra;
    }) { };
  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
in
{
  options = {
    assertions = opt (types.listOf types.unspecified) [ ];
    warnings = opt (types.listOf types.str) [ ];

    networking = {
      hostName = opt types.str "nixos";
      domain = opt (types.nullOr types.str) null;
      nftables.enable = opt types.bool false;
      firewall = {
        allowedTCPPorts = opt (types.listOf types.port) [ ];
        extraCommands = opt types.lines "";
        extraInputRules = opt types.lines "";
      };
    };

    users.users = opt (types.attrsOf anything) { };
    users.groups = opt (types.attrsOf anything) { };

    environment = {
      systemPackages = opt (types.listOf types.package) [ ];
      sessionVariables = opt (types.attrsOf types.str) { };
      etc = opt (types.attrsOf anything) { };
    };

    nix = {
      package = opt anything (fakePackage "nix-2.31.2" // { version = "2.31.2"; });
      settings = opt (types.attrsOf anything) { };
    };

    systemd.services = opt (types.attrsOf (
      types.submodule {
        freeformType = types.attrsOf anything;
        options = {
          description = opt types.str "";
          wantedBy = opt (types.listOf types.str) [ ];
          after = opt (types.listOf types.str) [ ];
          before = opt (types.listOf types.str) [ ];
          wants = opt (types.listOf types.str) [ ];
          requiredBy = opt (types.listOf types.str) [ ];
          path = opt (types.listOf anything) [ ];
          environment = opt (types.attrsOf types.str) { };
          preStart = opt types.lines "";
          serviceConfig = opt (types.attrsOf unitValue) { };
        };
      }
    )) { };

    services = {
      prometheus = {
        enable = opt types.bool false;
        port = opt types.port 9090;
        listenAddress = opt types.str "0.0.0.0";
        webExternalUrl = opt (types.nullOr types.str) null;
        retentionTime = opt (types.nullOr types.str) null;
        globalConfig = opt (types.attrsOf anything) { };
        scrapeConfigs = opt (types.listOf anything) [ ];
        ruleFiles = opt (types.listOf types.path) [ ];
        alertmanagers = opt (types.listOf anything) [ ];
        remoteWrite = opt (types.listOf anything) [ ];
        checkConfig = opt (types.either types.bool (types.enum [ "syntax-only" ])) true;
        # nixpkgs declares the exporters as one submodule option; third-party exporters (ours)
        # declare sub-options into it.
        exporters = mkOption {
          default = { };
          type = types.submodule {
            options = {
              node = exporter 9100 { enabledCollectors = opt (types.listOf types.str) [ ]; };
              postgres = exporter 9187 { runAsLocalSuperUser = opt types.bool false; };
              redis = exporter 9121 { };
              nginx = exporter 9113 { };
            };
          };
        };
        alertmanager = {
          enable = opt types.bool false;
          port = opt types.port 9093;
          listenAddress = opt types.str "";
          webExternalUrl = opt (types.nullOr types.str) null;
          configuration = opt (types.nullOr (types.attrsOf anything)) null;
        };
      };
      # Plain options, not submodules, as in NixOS: the module system then pushes nixmon's
      # conditional definitions down to each leaf (a submodule would evaluate them all at once).
      grafana = {
        enable = opt types.bool false;
        settings = opt (types.attrsOf anything) { };
        provision = {
          enable = opt types.bool false;
          datasources.settings = opt (types.nullOr (types.attrsOf anything)) null;
          dashboards.settings = opt (types.nullOr (types.attrsOf anything)) null;
        };
      };
      loki = {
        enable = opt types.bool false;
        configuration = opt (types.attrsOf anything) { };
      };
      alloy.enable = opt types.bool false;
      victoriametrics = {
        enable = opt types.bool false;
        listenAddress = opt types.str ":8428";
        retentionPeriod = opt types.str "1";
      };
      nginx = {
        enable = opt types.bool false;
        statusPage = opt types.bool false;
        recommendedProxySettings = opt types.bool false;
        recommendedTlsSettings = opt types.bool false;
        recommendedGzipSettings = opt types.bool false;
        virtualHosts = opt (types.attrsOf anything) { };
      };
      caddy = {
        enable = opt types.bool false;
        extraConfig = opt types.lines "";
      };
      postgresql.enable = opt types.bool false;
      redis.servers = opt (types.attrsOf anything) { };
    };
  };

  config._module.args.pkgs = {
    nixmon = fakePackage "nixmon-0.1.0";
    git = fakePackage "git-2.51.0";
    writeShellScript = name: text: "/nix/store/00000000000000000000000000000000-${name}";
    # The flake's modules build their package with callPackage: a fake that says what it was given.
    callPackage = path: args: fakePackage "nixmon-flake" // { fromFile = toString path; inherit args; };
  };
}
