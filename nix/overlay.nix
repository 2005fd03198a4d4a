# Adds `nixmon` (both binaries) to a nixpkgs package set. The modules default to `pkgs.nixmon`
# when it exists, so applying this overlay is all a configuration needs.
{ revision ? "unknown" }:
final: prev: {
  nixmon = final.callPackage ./package.nix { inherit revision; };
}
