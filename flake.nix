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

      # Each flake module has a key. The module system imports a module once per key
      # (nixpkgs lib/modules.nix: collectModules keeps the first module of each key, with its
      # imports); a module without one is keyed by where it is imported ("…:anon-N"), so
      # nixosModules.default and nixosModules.nod imported together would each set
      # services.nod.package, and a package option takes one definition only. With keys, any
      # combination of these modules, in any order and any number of times, is imported once.
      flakeModule = name: imports: {
        key = "${toString ./flake.nix}#nixosModules.${name}";
        _file = "${toString ./flake.nix}#nixosModules.${name}";
        inherit imports;
      };
      exporterModule = flakeModule "nixos-exporter" [
        ./nix/modules/nixos-exporter.nix
        (
          { pkgs, ... }:
          {
            services.prometheus.exporters.nixos.package = lib.mkDefault (package pkgs);
          }
        )
      ];
      nodModule = flakeModule "nod" [
        ./nix/modules/nod.nix
        (
          { pkgs, ... }:
          {
            services.nod.package = lib.mkDefault (package pkgs);
          }
        )
      ];
      stackModule = flakeModule "default" [
        exporterModule
        nodModule
        # Written as nix/modules/default.nix writes it: a path import is keyed by its path, so the
        # folder (./nix/modules/nixmon) would be a second module declaring the same options.
        ./nix/modules/nixmon/default.nix
      ];
    in
    {
      overlays.default = import ./nix/overlay.nix { inherit revision; };

      packages = forAllSystems (pkgs: {
        default = pkgs.nixmon;
        nixmon = pkgs.nixmon;
      });

      # A shell with everything the build and the tests use, plus tools for working on the C++.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ pkgs.nixmon ];
          packages = [
            pkgs.python3 # the end-to-end tests
            pkgs.clang-tools # clang-format, clang-tidy, clangd
            pkgs.gdb
          ];
        };
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
