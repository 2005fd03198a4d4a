# services.nod: Nix build and substitution statistics from Nix's json-log-path stream.
#
# The original Rust nod's NixOS module had `enable` and `retainDays`, pinned the socket and the
# database to fixed system paths, set nix.settings.json-log-path and exported NOD_SOCKET to every
# session.
# This one keeps that and makes sure Nix never writes a regular file where the socket belongs.
#
# Why that can happen: when json-log-path does not name a Unix socket, Nix opens it as a regular
# file (O_CREAT|O_APPEND) and appends to it forever. So:
#  - the socket lives in a RuntimeDirectory= that systemd creates when nod starts and removes when
#    it stops: with nod down there is no directory, Nix's open() fails (Nix prints an error and
#    builds on), and no file is created;
#  - nix-daemon is ordered after nod, and nod counts as started only once its socket exists
#    (ExecStartPost waits for it), so daemon workers find the socket from their first connection;
#  - nod itself removes a non-socket at its path before bind() (it must: see
#    shared/reference/nix-log-format.md), which covers the instant between mkdir and bind.
# Who connects: every nix-daemon worker (root) and every `nix` client run by a user (as that
# user), so by default the socket is connectable by everyone (0666); `socketGroup` narrows it.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption mkIf types;
  h = import ./lib.nix { inherit lib; };
  cfg = config.services.nod;
  # Which Nix runs here, and whether it knows json-log-path. A Nix that does not warns about an
  # unknown setting on every command, and NixOS' build-time check of nix.conf (nix.checkConfig,
  # nixos/modules/config/nix.nix) turns that warning into an error: the system would not build.
  # So the setting is written only where it exists, decided from the package's identity, since
  # the version numbers of the three implementations are not comparable:
  #  - Nix (pname "nix", pkgs/tools/package-management/nix): json-log-path since 2.30;
  #  - Lix (pname "lix", version 2.9x, pkgs/tools/package-management/lix/common-lix.nix): none;
  #  - Determinate Nix (pname "determinate-nix", the `nix` flake of DeterminateSystems/nix-src,
  #    which its NixOS module puts in nix.package): the version is Determinate's own (3.x, from
  #    .version-determinate; `nix --version` prints "nix (Determinate Nix 3.x.y) 2.3x.z"), and the
  #    package does not expose the Nix version it is based on. json-log-path, writing to a Unix
  #    socket as to a file, is there since Determinate Nix 3.1.0 (based on Nix 2.27.1).
  # Any other package is taken for Nix with Nix's version numbers.
  nixPackage = config.nix.package;
  nixName = lib.getName nixPackage;
  nixVersion = lib.getVersion nixPackage;
  nixFlavour =
    if nixName == "lix" then
      {
        title = "Lix ${nixVersion}";
        hasJsonLogPath = false;
        why = "its 2.9x versions are its own, not Nix's: Lix has no such setting";
      }
    else if nixName == "determinate-nix" then
      {
        title = "Determinate Nix ${nixVersion}";
        hasJsonLogPath = lib.versionAtLeast nixVersion "3.1";
        why = "Determinate Nix added json-log-path in 3.1.0";
      }
    else
      {
        title = "Nix ${nixVersion}";
        hasJsonLogPath = lib.versionAtLeast nixVersion "2.30";
        why = "Nix 2.30 added it";
      };
  nixHasJsonLogPath = nixFlavour.hasJsonLogPath;

  waitForSocket = pkgs.writeShellScript "nod-wait-socket" ''
    # nod counts as started once its socket exists, so units ordered after nod (nix-daemon) can
    # rely on it. Wait as long as nod runs (TimeoutStartSec bounds it) and fail as soon as it
    # exits; a schema upgrade, which can take minutes, is nod-upgrade.service's, before this.
    while kill -0 "$MAINPID" 2>/dev/null; do
      [ -S ${cfg.socket} ] && exit 0
      sleep 0.1
    done
    echo "nod exited before creating ${cfg.socket}" >&2
    exit 1
  '';

  # Who owns and reaches the database, the same for nod and nod-upgrade. The runtime and state
  # directories take the unit's group: with socketGroup set, that group (and root) can reach the
  # socket and the database, nobody else; the database stays private to the group (UMask).
  databaseAccess = {
    User = "nod";
    Group = if cfg.socketGroup == null then "nod" else cfg.socketGroup;
    UMask = "0027";
    StateDirectory = "nod";
    StateDirectoryMode = "0750";
  };

  globalArgs = [
    "--socket=${cfg.socket}"
    "--db=${cfg.database}"
  ];
  args = globalArgs ++ [
    "daemon"
    "--retain-days=${toString cfg.retainDays}"
    "--socket-mode=${if cfg.socketGroup == null then "0666" else "0660"}"
  ]
  ++ lib.optional cfg.metrics.enable "--metrics.listen=${h.hostPort cfg.metrics.listenAddress cfg.metrics.port}"
  ++ cfg.extraFlags;
in
{
  options.services.nod = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Run the nod daemon and point Nix's json-log-path at it.";
    };

    package = mkOption {
      type = types.package;
      default = h.defaultPackage pkgs;
      defaultText = lib.literalExpression "pkgs.nixmon";
      description = "Package providing `bin/nod`.";
    };

    retainDays = mkOption {
      type = types.ints.positive;
      default = 180;
      description = "Days of events to keep; older ones are deleted by the daemon.";
    };

    socket = mkOption {
      type = types.str;
      default = "/run/nod/nod.sock";
      readOnly = true;
      description = "The daemon's socket (fixed): Nix writes its log stream there and `nod` queries it. Exported as `NOD_SOCKET`.";
    };

    database = mkOption {
      type = types.str;
      default = "/var/lib/nod/nod.db";
      readOnly = true;
      description = "The SQLite database (fixed). Exported as `NOD_DB` for the CLI's read-only fallback.";
    };

    socketGroup = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "wheel";
      description = ''
        `null`: every local user may connect to the socket (Nix clients run by users write to it,
        users query it). A group name: only root and that group may; `nix` commands run by
        other users then print an error about json-log-path (and still work).
      '';
    };

    metrics = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Serve Prometheus metrics (`--metrics.listen`).";
      };
      listenAddress = mkOption {
        type = types.str;
        default = "0.0.0.0";
        description = "Address for the metrics endpoint.";
      };
      port = mkOption {
        type = types.port;
        default = 9972;
        description = "Port for the metrics endpoint.";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Open the metrics port for everyone ({option}`services.nixmon` opens it towards the server only).";
      };
    };

    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra arguments for `nod daemon`.";
    };
  };

  config = mkIf cfg.enable {
    warnings = lib.optional (!nixHasJsonLogPath) ''
      services.nod: ${nixFlavour.title} has no json-log-path (${nixFlavour.why}), so it is not set and
      nothing reaches nod's socket by itself. Feed nod with
      `nix build --log-format internal-json 2>&1 >/dev/null | nod ingest` (see "nod ingest" in
      nixmon's README), or use a nix.package that has json-log-path.
    '';

    nix.settings = mkIf nixHasJsonLogPath { json-log-path = cfg.socket; };

    environment.systemPackages = [ cfg.package ];
    environment.sessionVariables = {
      NOD_SOCKET = cfg.socket;
      NOD_DB = cfg.database;
    };

    users.users.nod = {
      isSystemUser = true;
      group = "nod";
      description = "nod daemon";
    };
    users.groups.nod = { };

    networking.firewall.allowedTCPPorts = lib.optional (cfg.metrics.enable && cfg.metrics.openFirewall) cfg.metrics.port;

    # A schema upgrade after a nod update (about 15 s per 10M rows, docs/nod-schema.md) runs here,
    # before nod.service: with nod's runtime directory not yet there, Nix cannot create a regular
    # file where the socket belongs, and the old daemon has already stopped (systemd orders a
    # unit's stop before the start of what it requires), so nothing writes the old schema.
    systemd.services.nod-upgrade = {
      description = "nod: upgrade the database to this nod's schema";
      before = [ "nod.service" ];
      requiredBy = [ "nod.service" ];
      serviceConfig = h.hardening // databaseAccess // {
        Type = "oneshot";
        ExecStart = "${cfg.package}/bin/nod ${h.escapeSystemdArgs (globalArgs ++ [ "upgrade" ])}";
        TimeoutStartSec = "30min";
      };
    };

    systemd.services.nod = {
      description = "nod: Nix build and substitution statistics";
      wantedBy = [ "multi-user.target" ];
      before = [ "nix-daemon.service" ];
      after = [ "nod-upgrade.service" ];
      serviceConfig = h.hardening // databaseAccess // {
        ExecStart = "${cfg.package}/bin/nod ${h.escapeSystemdArgs args}";
        ExecStartPost = "${waitForSocket}";
        Restart = "always";
        RestartSec = "2s";
        # nod sets the socket's mode itself (--socket-mode above).
        RuntimeDirectory = "nod";
        RuntimeDirectoryMode = if cfg.socketGroup == null then "0755" else "0750";
      };
    };

    # Workers open json-log-path when a client connects: start them only once nod listens.
    systemd.services.nix-daemon = {
      after = [ "nod.service" ];
      wants = [ "nod.service" ];
    };
  };
}
