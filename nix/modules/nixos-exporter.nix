# services.prometheus.exporters.nixos: the nixos-exporter as a NixOS service.
#
# Drop-in for the archived Go nixos-exporter's module: every option it had keeps its name,
# type, default and meaning, and its two assertions stay. New: one switch per collector, scrape
# timeout, log level, web config (TLS/basic auth), extra flags, and a hardened unit.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    types
    ;
  h = import ./lib.nix { inherit lib; };
  cfg = config.services.prometheus.exporters.nixos;

  # Collectors the binary knows besides `flake` (which the Go exporter's flake.enable switches).
  collectorNames = [
    "generation"
    "system"
    "reboot"
    "boot"
    "upgrade"
    "store"
    "gc"
  ];

  # Secrets reach the unit through systemd credentials: the service reads them from
  # $CREDENTIALS_DIRECTORY (%d), never from the world-readable store or the caller's path.
  credentials =
    lib.optional (cfg.flake.nats.credentialsFile != null) "nats-credentials:${toString cfg.flake.nats.credentialsFile}"
    ++ lib.optional (cfg.flake.nats.nkeySeedFile != null) "nats-nkey-seed:${toString cfg.flake.nats.nkeySeedFile}"
    ++ lib.optional (cfg.webConfigFile != null) "web-config:${toString cfg.webConfigFile}";

  collectorFlags = lib.concatLists (
    lib.mapAttrsToList (
      name: on:
      if on == null then
        [ ]
      else if on then
        [ "--collector.${name}" ]
      else
        [ "--no-collector.${name}" ]
    ) cfg.collectors
  );

  flakeFlags = lib.optionals cfg.flake.enable (
    [
      "--collector.flake"
      "--flake.url=${cfg.flake.url}"
      "--flake.check-interval=${cfg.flake.checkInterval}"
    ]
    ++ lib.optionals cfg.flake.nats.enable [
      "--flake.nats.enable"
      "--flake.nats.url=${cfg.flake.nats.url}"
      "--flake.nats.subject=${cfg.flake.nats.subject}"
    ]
  );

  # Arguments that name a credential must keep their %d specifier: they are not escaped.
  credentialFlags =
    lib.optional (cfg.flake.enable && cfg.flake.nats.enable && cfg.flake.nats.credentialsFile != null) "--flake.nats.credentials-file=%d/nats-credentials"
    ++ lib.optional (cfg.flake.enable && cfg.flake.nats.enable && cfg.flake.nats.nkeySeedFile != null) "--flake.nats.nkey-seed-file=%d/nats-nkey-seed"
    ++ lib.optional (cfg.webConfigFile != null) "--web.config.file=%d/web-config";

  storeFlags =
    lib.optional (cfg.store.checkInterval != null) "--collector.store.check-interval=${cfg.store.checkInterval}"
    ++ lib.optional (cfg.gc.checkInterval != null) "--collector.gc.check-interval=${cfg.gc.checkInterval}"
    ++ lib.optional cfg.gc.runtimeRoots "--collector.gc.runtime-roots";

  # The boot collector runs unless switched off: the binary's default (collector-table.cc) is on.
  bootCollector = cfg.collectors.boot != false && !(lib.elem "--no-collector.boot" cfg.extraFlags);

  # `--path.root=DIR` in extraFlags: the collectors read under DIR, so DIR joins the view.
  pathRoots = map (f: lib.removePrefix "--path.root=" f) (lib.filter (lib.hasPrefix "--path.root=") cfg.extraFlags);

  # /etc as the exporter sees it when it holds CAP_DAC_READ_SEARCH: links into the running system's
  # etc (static -> /run/current-system/etc; the others into static, as NixOS's own /etc links are),
  # so a switch shows at once and nothing that is only in the host's mutable /etc (shadow, SSH host
  # keys, netrc) is reachable. The directory is copied to the store with its links as they are.
  etcView = builtins.path {
    path = ./nixos-exporter-etc;
    name = "nixos-exporter-etc";
  };

  # Everything the collectors read (src/exporter: nixos-system.hh, store-db.hh, gc-roots.cc,
  # boot.cc, upgrade.cc; tests/e2e/test_nix_modules.py checks each path the sources name is here).
  # `-`: optional, skipped when the host has no such path. /proc comes from MountAPIVFS=.
  hostReads = [
    "/nix/store"
    "/nix/var/nix/profiles"
    "/nix/var/nix/db"
    "/nix/var/nix/gcroots"
    # /run/current-system and /run/booted-system must stay links that follow a switch, and systemd
    # binds a link's target, not the link (nixpkgs' systemd-confinement.nix works around the same):
    # so /run itself, without the mounts below it (norbind). It also holds /run/nscd, through
    # which the flake collector's nix looks names up.
    # What NixOS and systemd keep secret in /run is each its own mount and so stays out: /run/keys
    # (ramfs, nixos/modules/tasks/filesystems.nix), /run/credentials/<unit>, /run/user/<uid>, and
    # sops-nix's and agenix's ramfs.
    "/run:/run:norbind"
    "${etcView}:/etc"
    "-/boot"
    "-/efi"
    "-/var/lib/systemd/timers"
  ];

  viewPaths =
    hostReads
    ++ pathRoots
    # `nix flake metadata` as a user who does not own the store goes through the daemon.
    ++ lib.optional cfg.flake.enable "-/nix/var/nix/daemon-socket"
    ++ cfg.extraReadOnlyPaths;

  capabilities =
    lib.optional cfg.gc.runtimeRoots "CAP_SYS_PTRACE" ++ lib.optional bootCollector "CAP_DAC_READ_SEARCH";

  # Why a capability, and why this view. NixOS mounts the ESP with fmask=0077,dmask=0077 on
  # current installs: nixos-generate-config keeps a vfat mount's fmask/dmask in
  # hardware-configuration.nix and the manual mounts the ESP with umask=077 (bootctl warns that a
  # world-readable ESP exposes its entropy file). Only root or CAP_DAC_READ_SEARCH can then list
  # /boot/loader/entries; vfat has one owner and group for the whole file system, so a
  # supplementary group does not help, and widening the mask would expose that file again.
  # CAP_DAC_READ_SEARCH bypasses read and search permission everywhere, so the unit sees an
  # allow-list of paths instead of the host's tree:
  # - RootDirectory=/var/empty with TemporaryFileSystem=/ and BindReadOnlyPaths=, as nixpkgs'
  #   systemd-confinement module builds its views (nixos/modules/security/systemd-confinement.nix).
  #   TemporaryFileSystem=/ alone would do nothing here: ProtectSystem=strict, which DynamicUser=
  #   implies, takes precedence over it and the host's / stays visible (reported to systemd,
  #   still open);
  #   under RootDirectory= the root is an empty directory whatever wins.
  # - MountAPIVFS= gives /proc (runtime GC roots), /sys and /dev inside that root. PrivateUsers= is
  #   left off: it would make the capability one of a user namespace, which counts only on files
  #   whose owner and group are mapped into it.
  # - The capability also allows open_by_handle_at(2), which opens files by handle past any mount
  #   view; SystemCallFilter=~@privileged (lib.nix) denies it (systemd's @privileged set lists it).
  # The cost: indirect GC roots (gcroots/auto links to `result` links) outside the view, which were
  # already hidden under /home and /root by ProtectHome=, are not followed.
  fsView = lib.optionalAttrs bootCollector {
    RootDirectory = "/var/empty";
    TemporaryFileSystem = "/";
    PrivateMounts = true;
    MountAPIVFS = true;
    BindReadOnlyPaths = viewPaths;
  };

  args = [
    "--listen=${h.hostPort cfg.listenAddress cfg.port}"
    "--scrape.timeout=${cfg.scrapeTimeout}"
    "--log.level=${cfg.logLevel}"
  ]
  ++ collectorFlags
  ++ storeFlags
  ++ flakeFlags
  ++ cfg.extraFlags;
in
{
  options.services.prometheus.exporters.nixos = {
    enable = mkEnableOption "the NixOS exporter (generations, reboot reasons, boot, store and flake metrics)";

    package = mkOption {
      type = types.package;
      default = h.defaultPackage pkgs;
      defaultText = lib.literalExpression "pkgs.nixmon";
      description = "Package providing `bin/nixos-exporter`.";
    };

    port = mkOption {
      type = types.port;
      default = 9971;
      description = "Port to listen on.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "0.0.0.0";
      description = "Address to listen on (IPv4 or IPv6 literal, or a host name).";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open {option}`port` in the firewall for everyone. The monitoring stack
        ({option}`services.nixmon`) opens it towards the monitoring server only; leave this off
        when using it.
      '';
    };

    collectors = lib.genAttrs collectorNames (
      name:
      mkOption {
        type = types.nullOr types.bool;
        default = null;
        example = true;
        description = ''
          Switch the `${name}` collector on (`--collector.${name}`) or off
          (`--no-collector.${name}`); `null` keeps the exporter's own default.
        '';
      }
    );

    store.checkInterval = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "1m";
      description = "How often the store collector checks whether the store database changed (`--collector.store.check-interval`); `null` keeps the exporter's default.";
    };

    gc = {
      checkInterval = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "10m";
        description = "How often the gc collector checks the store database and the GC roots (`--collector.gc.check-interval`); `null` keeps the exporter's default.";
      };
      runtimeRoots = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Count store paths used by running processes as GC roots, as `nix-store --gc` does
          (`--collector.gc.runtime-roots`). Reading other processes' `/proc` entries takes
          CAP_SYS_PTRACE: the unit is given it, and sees every process.
        '';
      };
    };

    scrapeTimeout = mkOption {
      type = types.str;
      default = "10s";
      description = "How long a scrape waits for a collector before reporting it failed (Go duration).";
    };

    logLevel = mkOption {
      type = types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = "info";
      description = "Log level (logfmt on the journal).";
    };

    webConfigFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/nixos-exporter-web.yml";
      description = ''
        Prometheus exporter-toolkit web configuration (TLS certificate and key, client CA,
        `basic_auth_users`), passed as `--web.config.file`. Read through a systemd credential,
        so the file may be readable by root only. Give a string, not a Nix path, or it is copied
        into the world-readable store.
      '';
    };

    extraReadOnlyPaths = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/var/lib/acme/exporter.example.org" ];
      description = ''
        Further paths the exporter reads, such as the TLS certificate, key and client CA that
        {option}`webConfigFile` names. While the boot collector runs, the unit holds
        CAP_DAC_READ_SEARCH (to read an ESP mounted `fmask=0077`) and sees only the paths its
        collectors read plus these, bound read-only (`BindReadOnlyPaths=` syntax; a leading `-`
        skips a path that does not exist). Without the boot collector the unit sees the whole
        file system read-only and this has no effect.
      '';
    };

    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--path.root=/host" ];
      description = "Extra command-line arguments.";
    };

    flake = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Enable the flake collector (compares the running revision with the flake's latest).";
      };
      url = mkOption {
        type = types.str;
        default = "";
        example = "github:myuser/myconfig";
        description = "Flake URL for revision comparison (required if the flake collector is enabled).";
      };
      checkInterval = mkOption {
        type = types.str;
        default = "1h";
        description = "Interval between remote flake checks (Go duration).";
      };
      nats = {
        enable = mkOption {
          type = types.bool;
          default = false;
          description = "Share the remote revision with the other hosts through NATS.";
        };
        url = mkOption {
          type = types.str;
          default = "nats://localhost:4222";
          description = "NATS server URL.";
        };
        subject = mkOption {
          type = types.str;
          default = "nixos-exporter.remote-rev";
          description = "NATS subject for revision updates.";
        };
        credentialsFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "NATS credentials file (optional); handed to the unit as a systemd credential.";
        };
        nkeySeedFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "NATS NKey seed file (optional); handed to the unit as a systemd credential.";
        };
      };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.flake.enable -> cfg.flake.url != "";
        message = "services.prometheus.exporters.nixos.flake.url must be set when flake.enable is true";
      }
      {
        assertion = cfg.flake.nats.enable -> cfg.flake.enable;
        message = "services.prometheus.exporters.nixos.flake.nats.enable requires flake.enable";
      }
      {
        # The exporter refuses both at once (one NATS identity per connection).
        assertion = !(cfg.flake.nats.credentialsFile != null && cfg.flake.nats.nkeySeedFile != null);
        message = "services.prometheus.exporters.nixos.flake.nats: set credentialsFile or nkeySeedFile, not both";
      }
    ];

    networking.firewall.allowedTCPPorts = lib.optional cfg.openFirewall cfg.port;

    systemd.services.prometheus-nixos-exporter = {
      description = "Prometheus exporter for NixOS";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      # The flake collector runs `nix flake metadata`, which fetches with git.
      path = lib.optionals cfg.flake.enable [
        config.nix.package
        pkgs.git
      ];
      environment = lib.optionalAttrs cfg.flake.enable {
        # nix keeps its fetcher cache under $HOME/.cache; a dynamic user has no home of its own.
        HOME = "/var/cache/nixos-exporter";
        NIX_CONFIG = "extra-experimental-features = nix-command flakes";
      };
      serviceConfig = h.hardening // {
        ExecStart = "${cfg.package}/bin/nixos-exporter ${
          lib.concatStringsSep " " ([ (h.escapeSystemdArgs args) ] ++ credentialFlags)
        }";
        Restart = "on-failure";
        RestartSec = "5s";

        # Reads world-readable state (profiles, /run/*-system, the store database), and /boot
        # with CAP_DAC_READ_SEARCH inside fsView when the boot collector runs.
        DynamicUser = true;
        LoadCredential = credentials;
        CacheDirectory = "nixos-exporter";
        CacheDirectoryMode = "0700";
        ProtectProc = if cfg.gc.runtimeRoots then "default" else "invisible";
        CapabilityBoundingSet = if capabilities == [ ] then "" else capabilities;
        AmbientCapabilities = if capabilities == [ ] then "" else capabilities;
        RemoveIPC = true;
        UMask = "0077";
      }
      // fsView;
    };
  };
}
