# services.nixmon.exporters.cadvisor: cAdvisor on this host, for CPU, memory and throttling per
# cgroup, which on NixOS means per systemd service (every unit has a cgroup of its own under
# /system.slice) as well as per container. Runs nixpkgs' services.cadvisor; its port joins
# services.nixmon.exposedTargets, so the server scrapes it (job `cadvisor`) and the firewall opens
# it towards the server only, as for the other exporters.
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
in
{
  options.services.nixmon.exporters.cadvisor = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        cAdvisor ({option}`services.cadvisor`) reporting every cgroup, systemd services included
        (`--docker_only=false`), not only containers. Its port is {option}`services.cadvisor.port`
        (8080 unless set), listening on every address and open towards the server only.
      '';
    };
  };

  config = mkIf (cfg.enable && cfg.exporters.cadvisor.enable) {
    services.cadvisor = {
      enable = true;
      # nixpkgs listens on 127.0.0.1; the server scrapes from elsewhere (firewall.nix opens the
      # port towards it only).
      listenAddress = mkDefault "0.0.0.0";
      # cAdvisor's raw cgroup handler reports each cgroup under its path (the `id` label), so a
      # systemd service is id="/system.slice/<unit>.service". With docker_only it would report
      # only the root cgroup besides Docker's containers, and no service at all. false is
      # cAdvisor's own default (container/raw/factory.go): written out so that it stays so.
      extraOptions = [ "--docker_only=false" ];
    };
  };
}
