# Small helpers shared by the modules. Only builtins that Nix 2.8 has, so the evaluation tests run
# on Debian's nix-bin.
{ lib }:
rec {
  # One argument of a systemd ExecStart= line. systemd unquotes "…" with C escapes (what JSON
  # produces for a string) and expands % specifiers and $ variables, so those two are doubled.
  escapeSystemdArg = arg: lib.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString arg));

  escapeSystemdArgs = args: lib.concatMapStringsSep " " escapeSystemdArg args;

  # host:port for a listen address or a scrape target; IPv6 literals get brackets.
  hostPort =
    host: port:
    if lib.hasInfix ":" host && !(lib.hasPrefix "[" host) then "[${host}]:${toString port}" else "${host}:${toString port}";

  isIPv6 = addr: lib.hasInfix ":" addr;

  # The sandbox both daemons run in: read-only system, no devices, no capabilities, network
  # only over unix/inet sockets. Units add what they need on top (`//`).
  hardening = {
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    ProtectHostname = true;
    ProtectClock = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectProc = "invisible";
    NoNewPrivileges = true;
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    RestrictAddressFamilies = [
      "AF_UNIX"
      "AF_INET"
      "AF_INET6"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
    ];
    # A forbidden call fails with EPERM instead of killing the process.
    SystemCallErrorNumber = "EPERM";
  };

  # The package the modules run when none is given: the overlay's `pkgs.nixmon` if applied, else
  # built here from this checkout.
  defaultPackage = pkgs: pkgs.nixmon or (pkgs.callPackage ../package.nix { });
}
