{
  description = "nixmon: monitoring for NixOS hosts and fleets (nixos-exporter, nod, NixOS modules)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      revision = self.shortRev or self.dirtyShortRev or "unknown";
      pkgsFor = system: import nixpkgs {
        inherit system;
        overlays = [ self.overlays.default ];
      };
      forAllSystems = f: lib.genAttrs systems (system: f (pkgsFor system));

      # The modules default to pkgs.nixmon (overlay) or build this checkout; through the flake they
      # use the flake's own build, which knows its revision.
      package = pkgs: pkgs.callPackage ./nix/package.nix { inherit revision; };
      exporterModule =
        { pkgs, ... }:
        {
          imports = [ ./nix/modules/nixos-exporter.nix ];
          services.prometheus.exporters.nixos.package = lib.mkDefault (package pkgs);
        };
      nodModule =
        { pkgs, ... }:
        {
          imports = [ ./nix/modules/nod.nix ];
          services.nod.package = lib.mkDefault (package pkgs);
        };
      stackModule = {
        imports = [
          exporterModule
          nodModule
          ./nix/modules/nixmon.nix
        ];
      };
    in
    {
      overlays.default = import ./nix/overlay.nix { inherit revision; };

      packages = forAllSystems (pkgs: {
        default = pkgs.nixmon;
        nixmon = pkgs.nixmon;
      });

      nixosModules = {
        default = stackModule;
        nixmon = stackModule;
        nixos-exporter = exporterModule;
        nod = nodModule;
      };

      # `nix flake check` builds the package (its checkPhase runs the unit tests) and, on
      # x86_64-linux with KVM, boots the VM tests.
      checks = forAllSystems (
        pkgs:
        {
          package = pkgs.nixmon;
        }
        // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == "x86_64-linux") {
          vm-exporter-nod = pkgs.testers.runNixOSTest (import ./nix/tests/exporter-nod.nix { module = self.nixosModules.default; });
          vm-stack = pkgs.testers.runNixOSTest (import ./nix/tests/stack.nix { module = self.nixosModules.default; });
        }
      );
    };
}
