# nixmon: nixos-exporter, nod and the nixmon command, built with CMake from nixpkgs' libraries
# (the same libraries Debian provides to scripts/setup.sh; README.md says why each is there).
#
# Every argument is a nixpkgs attribute of that exact name (callPackage supplies it by name and
# fails on one it does not know). Where each is defined in nixpkgs:
#   cmake, ninja, cli11, simdjson, libyaml, gtest, brotli,
#   prometheus, httplib, libnats-c          pkgs/by-name/<xx>/<name>/package.nix
#   pkg-config (build-support/pkg-config-wrapper), fmt (= fmt_12), sqlite, openssl (= openssl_3_6),
#   zlib, libxcrypt, python3 (= python314), nix (= nixVersions.stable)
#                                           pkgs/top-level/all-packages.nix
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
  # The NATS C client (nats.c): ships libnats.pc, which CMakeLists.txt asks pkg-config for.
  libnats-c,
  # cpp-httplib, header only in nixpkgs; CMakeLists.txt finds httplib.h on the include path and
  # enables TLS, gzip and brotli itself, linking openssl, zlib and brotli below.
  httplib,
  openssl,
  zlib,
  brotli,
  libyaml,
  libxcrypt,
  gtest,
  python3,
  nix,
  prometheus,
  # The revision baked into nixos_exporter_build_info; the flake passes its own.
  revision ? "unknown",
  # End-to-end tests start real Nix and Prometheus; the sandbox has loopback, but a store-in-a-store
  # Nix is slow and brittle, so only the unit and golden tests run by default.
  withEndToEndTests ? false,
}:

let
  # ctest names every end-to-end test e2e.<name> (tests/CMakeLists.txt).
  endToEndTests = "^e2e[.]";
in
stdenv.mkDerivation (finalAttrs: {
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
      && !(builtins.elem top [
        "nix"
        "result"
        ".git"
        "flake.nix"
        "flake.lock"
      ]);
  };

  strictDeps = true;

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
    libnats-c
    httplib
    openssl
    zlib
    brotli
    libyaml # --web.config.file (exporter-toolkit YAML)
    libxcrypt # bcrypt hashes of basic_auth_users
  ];

  # stdenv drops checkInputs and nativeCheckInputs when doCheck is off, and turns doCheck off
  # itself when the build platform cannot run the host's binaries (cross compilation), without
  # changing finalAttrs.doCheck (pkgs/stdenv/generic/make-derivation.nix, doCheck'). Saying so
  # here keeps finalAttrs.doCheck, and so NIXMON_TESTS, true only when gtest is really there.
  doCheck = stdenv.buildPlatform.canExecute stdenv.hostPlatform;

  checkInputs = [ gtest ];
  nativeCheckInputs = lib.optionals withEndToEndTests [
    python3
    nix
    prometheus
  ];

  cmakeFlags = [
    (lib.cmakeBool "NIXMON_TESTS" finalAttrs.doCheck)
    (lib.cmakeBool "NIXMON_BENCH" false)
  ];

  # There is no .git in the build: CMake falls back to "unknown"; give it the flake's revision.
  postPatch = ''
    substituteInPlace CMakeLists.txt \
      --replace-warn 'set(NIXMON_GIT_REVISION "unknown")' 'set(NIXMON_GIT_REVISION "${revision}")'
  '';

  checkPhase = ''
    runHook preCheck
    ctest --output-on-failure -j $NIX_BUILD_CORES ${
      lib.optionalString (!withEndToEndTests) "--exclude-regex '${endToEndTests}'"
    }
    runHook postCheck
  '';

  meta = {
    description = "Monitoring for NixOS hosts and fleets: nixos-exporter and nod";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "nixos-exporter";
  };
})
