# Evaluates nixmon's NixOS modules with the real module system of nixpkgs' `lib` (path given by
# the caller: NIXMON_NIXPKGS_LIB) on top of ./stubs.nix, and extracts what the tests check.
# Uses only builtins Nix 2.8 has.
{ nixpkgsLib }:
let
  lib = import nixpkgsLib;
  repo = ../..;

  eval =
    modules:
    lib.evalModules {
      modules = [
        ./stubs.nix
        (repo + "/nix/modules/default.nix")
      ]
      ++ modules;
    };

  # Nulls dropped recursively, paths as strings: what nixpkgs' prometheus module does to its
  # options (filterValidPrometheus) before writing them out as YAML.
  clean =
    v:
    if builtins.isAttrs v && !(v ? outPath) then
      lib.mapAttrs (_: clean) (lib.filterAttrs (n: x: x != null && n != "_module") v)
    else if builtins.isList v then
      map clean (lib.filter (x: x != null) v)
    else if builtins.isPath v then
      toString v
    else
      v;

  # Options nixpkgs declares without a default (nginx's sslCertificate) throw when read unset:
  # left out, as they are absent from what NixOS writes.
  definedOnly =
    v:
    if builtins.isAttrs v && !(v ? outPath) then
      lib.mapAttrs (_: definedOnly) (lib.filterAttrs (_: x: (builtins.tryEval x).success) v)
    else
      v;

  # prometheus.yml as nixpkgs' services.prometheus writes it (its promConfig), minus the rules
  # file it generates from `services.prometheus.rules` (not used by nixmon).
  prometheusYml =
    p:
    clean {
      global = p.globalConfig;
      scrape_configs = p.scrapeConfigs;
      remote_write = p.remoteWrite;
      rule_files = p.ruleFiles;
      alerting.alertmanagers = p.alertmanagers;
    };

  unit =
    c: name:
    let
      s = c.systemd.services.${name} or null;
    in
    if s == null then
      null
    else
      clean {
        inherit (s)
          wantedBy
          requiredBy
          after
          before
          wants
          environment
          preStart
          serviceConfig
          reloadTriggers
          restartTriggers
          ;
        path = map toString s.path;
      };

  summary =
    r:
    let
      c = r.config;
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
    in
    # Like NixOS, stop at failed assertions: values behind them may not evaluate.
    if failedAssertions != [ ] then
      {
        inherit failedAssertions;
        warnings = c.warnings;
      }
    else
    {
      inherit failedAssertions;
      warnings = c.warnings;
      units = lib.genAttrs [
        "prometheus-nixos-exporter"
        "nod"
        "nod-upgrade"
        "nix-daemon"
        "alertmanager"
        "grafana"
        "alloy"
        "prometheus-redis-exporter"
        "caddy"
      ] (unit c);
      firewall = c.networking.firewall;
      nixSettings = c.nix.settings;
      sessionVariables = c.environment.sessionVariables;
      systemPackages = map (p: p.name or (toString p)) c.environment.systemPackages;
      users = builtins.attrNames c.users.users;
      exposedTargets = c.services.nixmon.exposedTargets or { };
      prometheus = {
        inherit (c.services.prometheus)
          enable
          port
          listenAddress
          webExternalUrl
          retentionTime
          checkConfig
          extraFlags
          ;
        yml = prometheusYml c.services.prometheus;
      };
      exporters = lib.mapAttrs (_: e: clean (removeAttrs e [ "package" ])) c.services.prometheus.exporters;
      alertmanager = clean c.services.prometheus.alertmanager;
      grafana = clean c.services.grafana;
      loki = clean c.services.loki;
      alloy = c.services.alloy;
      etc = lib.mapAttrs (_: e: e.text or null) c.environment.etc;
      nginx = clean (definedOnly c.services.nginx);
      postgresql = c.services.postgresql;
      caddyExtraConfig = c.services.caddy.extraConfig;
      caddySettings = clean c.services.caddy.settings;
      etcSources = lib.mapAttrs (_: e: e.source) c.environment.etc;
      victoriametrics = clean c.services.victoriametrics;
      cadvisor = c.services.cadvisor;
    };
in
{
  inherit lib eval summary clean;
  # Shorthand for the tests: the summary of a configuration made of `modules`.
  run = modules: summary (eval modules);
}
