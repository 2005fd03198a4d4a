# nixmon: nixos-exporter and nod, built with CMake from nixpkgs' libraries (the same libraries
# Debian provides to scripts/setup.sh; README.md says why each is there).
{
  lib,
  stdenv,
  cmake,
  ninja,
  pkg-config,
  fmt,
  cli11,
  sqlite,
  simdjson,
  cnats,
  httplib,
  openssl,
  zlib,
  brotli,
  gtest,
  gbenchmark,
  python3,
  nix,
  prometheus,
  # The revision baked into nixos_exporter_build_info; the flake passes its own.
  revision ? "unknown",
  # End-to-end tests start real Nix and Prometheus; the sandbox has loopback, but a store-in-a-store
  # Nix is slow and brittle, so only the unit and golden tests run by default.
  withEndToEndTests ? false,
}:

stdenv.mkDerivation {
  pname = "nixmon";
  version = "0.1.0";

  # Only what the build reads: no build directories, no Nix files (editing a module must not
  # rebuild the binaries).
  src = lib.cleanSourceWith {
    src = ../.;
    filter =
      path: type:
      let
        rel = lib.removePrefix (toString ../. + "/") (toString path);
        top = builtins.head (lib.splitString "/" rel);
      in
      !(lib.hasPrefix "build" top)
      && !(builtins.elem top [ "nix" "result" ".git" "flake.nix" "flake.lock" ]);
  };

  nativeBuildInputs = [
    cmake
    ninja
    pkg-config
  ];

  buildInputs = [
    fmt
    cli11
    sqlite
    simdjson
    cnats
    httplib
    openssl
    zlib
    brotli
  ];

  nativeCheckInputs = [
    python3
  ]
  ++ lib.optionals withEndToEndTests [
    nix
    prometheus
  ];
  checkInputs = [
    gtest
    gbenchmark
  ];

  cmakeFlags = [
    (lib.cmakeBool "NIXMON_TESTS" true)
    (lib.cmakeBool "NIXMON_BENCH" false)
    (lib.cmakeFeature "NIXMON_GIT_REVISION" revision)
  ];

  doCheck = true;
  checkPhase = ''
    runHook preCheck
    ctest --output-on-failure -j $NIX_BUILD_CORES ${lib.optionalString (!withEndToEndTests) "-E '^e2e[.]'"}
    runHook postCheck
  '';

  meta = {
    description = "Monitoring for NixOS hosts and fleets: nixos-exporter and nod";
    platforms = lib.platforms.linux;
    mainProgram = "nixos-exporter";
  };
}
