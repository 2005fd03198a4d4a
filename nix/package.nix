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
  libyaml,
  libxcrypt,
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
    libyaml # --web.config.file (exporter-toolkit YAML)
    libxcrypt # bcrypt hashes of basic_auth_users
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
  ];

  # There is no .git in the build: CMake falls back to "unknown"; give it the flake's revision.
  postPatch = ''
    substituteInPlace CMakeLists.txt \
      --replace-warn 'set(NIXMON_GIT_REVISION "unknown")' 'set(NIXMON_GIT_REVISION "${revision}")'
  '';

  # CMake finds cpp-httplib through pkg-config (as Debian ships it); nixpkgs' CMake-built
  # httplib may come without a .pc file, so one is written when pkg-config does not know it.
  preConfigure = ''
    if ! pkg-config --exists cpp-httplib; then
      mkdir -p "$TMPDIR/pkgconfig"
      cat > "$TMPDIR/pkgconfig/cpp-httplib.pc" <<EOF
    Name: cpp-httplib
    Description: C++ HTTP/HTTPS server and client library (header only)
    Version: ${httplib.version}
    Cflags: -I${lib.getDev httplib}/include
    EOF
      export PKG_CONFIG_PATH="$TMPDIR/pkgconfig''${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    fi
  '';

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
