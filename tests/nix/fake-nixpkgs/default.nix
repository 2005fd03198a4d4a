# A stand-in for `import nixpkgs { system; overlays; }`, just enough to evaluate flake.nix's
# outputs without nixpkgs: real lib (from NIXMON_NIXPKGS_LIB), fake derivations, overlays applied.
{
  system ? "x86_64-linux",
  overlays ? [ ],
  ...
}:
let
  lib = import (/. + builtins.getEnv "NIXMON_NIXPKGS_LIB");
  fake = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  } // extra;
  base = {
    inherit lib system;
    stdenv.hostPlatform.system = system;
    # What callPackage was asked to build, and with which arguments.
    callPackage = path: args: fake "nixmon-0.1.0" { fromFile = toString path; inherit args; };
    testers.runNixOSTest = test: test // { isNixOSTest = true; };
    git = fake "git" { };
    writeShellScript = name: text: "/nix/store/00000000000000000000000000000000-${name}";
  };
in
lib.fix (final: lib.foldl' (prev: overlay: prev // overlay final prev) base overlays)
