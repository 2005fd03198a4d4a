# A stand-in for `import nixpkgs { system; overlays; }`, just enough to evaluate flake.nix's
# outputs without nixpkgs: real lib (from NIXMON_NIXPKGS_LIB), overlays applied, and
#  - callPackage as nixpkgs has it (lib.callPackageWith over the package set): a package
#    function is really called, and an argument that is neither in the set nor given nor
#    defaulted aborts the evaluation, as it does with nixpkgs;
#  - fake packages under nixpkgs' real attribute names (nix/package.nix says where each is
#    defined), so a misspelt or invented name fails here the way it fails on NixOS;
#  - a stdenv.mkDerivation that calls its `finalAttrs: { … }` function the way nixpkgs does
#    (pkgs/stdenv/generic/make-derivation.nix) and keeps the attributes it was given.
# `crossSystem` makes the host platform one the build platform cannot execute.
{
  system ? "x86_64-linux",
  crossSystem ? null,
  overlays ? [ ],
  ...
}:
let
  lib = import (/. + builtins.getEnv "NIXMON_NIXPKGS_LIB");
  storePath = name: "/nix/store/00000000000000000000000000000000-${name}";
  fake =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = storePath name;
    }
    // extra;
  # A library or tool: the name is its nixpkgs attribute, so a test can tell which one a list holds.
  package = attr: fake attr { fakeAttr = attr; };

  buildPlatform = {
    inherit system;
    canExecute = platform: platform.system == system;
  };
  hostPlatform = {
    system = if crossSystem == null then system else crossSystem;
  };

  mkDerivation =
    fnOrAttrs:
    let
      attrs = if builtins.isFunction fnOrAttrs then lib.fix (self: fnOrAttrs (self // { finalPackage = drv; })) else fnOrAttrs;
      drv =
        attrs
        // fake "${attrs.pname}-${attrs.version}" {
          # What mkDerivation was given, unchanged.
          drvAttrs = attrs;
        }
        // (attrs.passthru or { });
    in
    drv;

  base = final: {
    inherit lib system;
    stdenv = {
      inherit buildPlatform hostPlatform mkDerivation;
    };
    # What callPackage was asked to build (`fromFile`), and with which explicit arguments.
    callPackage =
      fn: args:
      lib.callPackageWith final fn args
      // {
        fromFile = toString fn;
        inherit args;
      };
    mkShell = args: fake "nix-shell" { shellAttrs = args; };
    testers.runNixOSTest = test: test // { isNixOSTest = true; };
    writeShellScript = name: text: storePath name;
  }
  // lib.genAttrs [
    # nix/package.nix
    "cmake"
    "ninja"
    "pkg-config"
    "fmt"
    "cli11"
    "sqlite"
    "simdjson"
    "libnats-c"
    "httplib"
    "openssl"
    "zlib"
    "brotli"
    "libyaml"
    "libxcrypt"
    "gtest"
    "python3"
    "nix"
    "prometheus"
    # flake.nix's devShell, the modules
    "clang-tools"
    "gdb"
    "git"
  ] package;
in
lib.fix (final: lib.foldl' (prev: overlay: prev // overlay final prev) (base final) overlays)
