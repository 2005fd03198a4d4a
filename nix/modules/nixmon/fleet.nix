# services.nixmon on the server: which hosts it scrapes. Written by hand (`hosts`), discovered from
# a flake's nixosConfigurations, and the server itself. The fleet these make is derived in
# shared.nix; Prometheus scrapes it and Loki takes its logs.
{ lib, ... }:

let
  inherit (lib) mkOption types;

  hostType = types.submodule (
    { name, ... }:
    {
      options = {
        address = mkOption {
          type = types.str;
          default = name;
          description = "Address Prometheus scrapes the host at.";
        };
        targets = mkOption {
          type = types.attrsOf types.port;
          default = {
            node = 9100;
            nixos = 9971;
            nod = 9972;
          };
          description = "Exporter name (the job) to port.";
        };
        labels = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "Extra labels on every series of this host.";
        };
      };
    }
  );
in
{
  options.services.nixmon = {
    hosts = mkOption {
      type = types.attrsOf hostType;
      default = { };
      example = lib.literalExpression ''{ web = { address = "10.0.0.2"; }; db = { address = "10.0.0.3"; targets.postgres = 9187; }; }'';
      description = "Hosts to scrape, written by hand (server only). Override discovered ones of the same name.";
    };

    nixosConfigurations = mkOption {
      type = types.lazyAttrsOf types.raw;
      default = { };
      example = lib.literalExpression "self.nixosConfigurations";
      description = ''
        Discover hosts from a flake's `nixosConfigurations` (server only): every configuration that
        enables `services.nixmon` is scraped at its `services.nixmon.address`, on the ports its own
        configuration gives its exporters.
      '';
    };

    monitorSelf = mkOption {
      type = types.bool;
      default = true;
      description = "The server scrapes its own exporters on 127.0.0.1.";
    };
  };
}
