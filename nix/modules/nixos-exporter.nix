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
    "restart"
    "channel"
  ];

  # Secrets reach the unit through systemd credentials: the service reads them from
  # $CREDENTIALS_DIRECTORY (%d), never from the world-readable store or the caller's path.
  credentials =
    lib.optional (cfg.flake.nats.credentialsFile != null) "nats-credentials:${toString cfg.flake.nats.credentialsFile}"
    ++ lib.optional (cfg.flake.nats.nkeySeedFile != null) "nats-nkey-seed:${toString cfg.flake.nats.nkeySeedFile}"
    ++ lib.optional (channelNats && cfg.channel.nats.credentialsFile != null) "channel-nats-credentials:${toString cfg.channel.nats.credentialsFile}"
    ++ lib.optional (channelNats && cfg.channel.nats.nkeySeedFile != null) "channel-nats-nkey:${toString cfg.channel.nats.nkeySeedFile}"
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
      "--flake.nats.url=${natsUrl cfg.flake.nats.url}"
      "--flake.nats.subject=${cfg.flake.nats.subject}"
    ]
  );

  # The channel collector's flags, only while it runs (like the flake's under flake.enable).
  channelFlags = lib.optionals channelCollector (
    lib.optional (!cfg.channel.upstreamCheck) "--no-channel.upstream-check"
    ++ lib.optional (cfg.channel.checkInterval != null) "--channel.check-interval=${cfg.channel.checkInterval}"
    ++ lib.optional (cfg.channel.httpTimeout != null) "--channel.http-timeout=${cfg.channel.httpTimeout}"
    ++ lib.optionals channelNats [
      "--channel.nats.enable"
      "--channel.nats.url=${natsUrl cfg.channel.nats.url}"
      "--channel.nats.subject=${cfg.channel.nats.subject}"
    ]
  );

  # Arguments that name a credential must keep their %d specifier: they are not escaped.
  credentialFlags =
    lib.optional (cfg.flake.enable && cfg.flake.nats.enable && cfg.flake.nats.credentialsFile != null) "--flake.nats.credentials-file=%d/nats-credentials"
    ++ lib.optional (cfg.flake.enable && cfg.flake.nats.enable && cfg.flake.nats.nkeySeedFile != null) "--flake.nats.nkey-seed-file=%d/nats-nkey-seed"
    ++ lib.optional (channelNats && cfg.channel.nats.credentialsFile != null) "--channel.nats.credentials-file=%d/channel-nats-credentials"
    ++ lib.optional (channelNats && cfg.channel.nats.nkeySeedFile != null) "--channel.nats.nkey-seed-file=%d/channel-nats-nkey"
    ++ lib.optional (cfg.webConfigFile != null) "--web.config.file=%d/web-config";

  storeFlags =
    lib.optional (cfg.store.checkInterval != null) "--collector.store.check-interval=${cfg.store.checkInterval}"
    ++ lib.optional (cfg.gc.checkInterval != null) "--collector.gc.check-interval=${cfg.gc.checkInterval}"
    ++ lib.optional cfg.gc.runtimeRoots "--collector.gc.runtime-roots"
    ++ lib.optional (cfg.gc.rootsTop != null) "--collector.gc.roots.top=${toString cfg.gc.rootsTop}";

  # The boot collector runs unless switched off: the binary's default (collector-table.cc) is on.
  bootCollector = cfg.collectors.boot != false && !(lib.elem "--no-collector.boot" cfg.extraFlags);

  # The restart and channel collectors are off unless switched on (collector-table.cc).
  gcCollector = cfg.collectors.gc != false && !(lib.elem "--no-collector.gc" cfg.extraFlags);
  restartCollector = cfg.collectors.restart == true || lib.elem "--collector.restart" cfg.extraFlags;
  channelCollector = cfg.collectors.channel == true || lib.elem "--collector.channel" cfg.extraFlags;
  channelNats = channelCollector && cfg.channel.nats.enable;

  # Root's channel list, as nix-channel writes it (src/exporter/channel/root-channels.hh). Root's
  # home is 0700, so the channel collector would read it as unreadable: no URLs, no upstream check.
  # With the collector on, the unit mounts /root as an empty tmpfs (ProtectHome=tmpfs) with just
  # these two files bound in read-only; `-`: skipped where the host has no such file
  # (systemd.exec(5), BindReadOnlyPaths=). /home and /run/user stay empty too.
  #
  # Derived from systemd.exec(5) and systemd's src/core/namespace.c, not from a running unit:
  # - ProtectHome=true hides the three directories and bind mounts cannot be nested under it;
  #   the man page points to ProtectHome=tmpfs for exactly this ("while still allowing necessary
  #   directories to be made visible when listed in BindPaths= or BindReadOnlyPaths=").
  # - An explicit ProtectHome= wins over the read-only one DynamicUser= implies (unit.c upgrades
  #   only "no").
  # - systemd creates a missing bind target and its parents (namespace.c: mkdir_parents, mode
  #   0755), in a read-only tmpfs too, so /root/.local/state/nix need not exist there; the man
  #   page's own example is TemporaryFileSystem=/var:ro with BindReadOnlyPaths=/var/lib/systemd.
  # - But the tmpfs on /root is mode 0700, owned by root (namespace.c, protect_home_tmpfs_table;
  #   /home and /run/user get 0755): the man page's "mostly equivalent to TemporaryFileSystem=
  #   with :ro" hides that. The dynamic user cannot traverse it, so the unit keeps
  #   CAP_DAC_READ_SEARCH (which the boot collector, on by default, already has) whenever the
  #   channel collector runs, and with it the secret hides below. A second tmpfs on /root
  #   (TemporaryFileSystem=/root, default mode 0755) is no way round: at one path systemd keeps
  #   one mount entry, by a priority that ranks the two tmpfs entries equal.
  # nix-channel rewrites the list in place (O_TRUNC, nix-channel.cc writeChannels), so a bound list
  # follows --add and --remove; a list first created after the unit started is seen after a
  # restart. NixOS creates /root/.nix-channels at boot (nix-channel.nix, a tmpfiles rule) while
  # nix.channel.enable is on.
  channelListBinds = map (p: "-" + p) [
    "/root/.nix-channels"
    "/root/.local/state/nix/channels"
  ];

  # The upstream check is HTTPS through cpp-httplib, which verifies against OpenSSL's default
  # verify paths (SSL_CTX_set_default_verify_paths), and those honour SSL_CERT_FILE: name the bundle NixOS installs (nixos/modules/security/ca.nix: "NixOS canonical
  # location", environment.etc."ssl/certs/ca-certificates.crt") rather than depend on where the
  # package's OpenSSL was built to look. Network: the hardening allows AF_INET/AF_INET6 and sets
  # no PrivateNetwork= or IPAddressDeny=; name resolution goes through /etc and nscd's socket.
  caBundle = "/etc/ssl/certs/ca-certificates.crt";

  natsUrl = url: if lib.isList url then lib.concatStringsSep "," url else url;

  # The NATS sharing options of the flake and channel collectors: the same options, each with
  # its own subject and wording.
  natsOptions = descriptions: {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = descriptions.enable;
    };
    # A string, as in the Go nixos-exporter's module (kept as given), or a list of the servers of
    # one cluster, handed to the exporter comma-separated.
    url = mkOption {
      type = types.either types.str (types.nonEmptyListOf (types.strMatching "[^, ]+"));
      default = "nats://localhost:4222";
      example = [
        "nats://nats1.lan:4222"
        "nats://nats2.lan:4222"
        "nats://nats3.lan:4222"
      ];
      description = "NATS server URL, or a list of the URLs of one cluster's servers: the first is tried first, the others when it fails, in random order.";
    };
    subject = mkOption {
      type = types.str;
      default = descriptions.subject;
      description = descriptions.subjectDescription;
    };
    credentialsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = descriptions.credentialsFile;
    };
    nkeySeedFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = descriptions.nkeySeedFile;
    };
  };

  # Reading another process's /proc/PID/exe, maps (and fd, cwd, environ for runtime roots) passes
  # the kernel's ptrace access check in PTRACE_MODE_READ_FSCREDS mode (proc(5); ptrace(2), "Ptrace
  # access mode checking"): the unit's dynamic user owns none of the processes, so it needs
  # CAP_SYS_PTRACE, which also covers non-dumpable processes (sshd, setuid programs). It is a read
  # check only: no ptrace(2) call is made (SystemCallFilter= keeps denying @debug with the rest of
  # what @system-service lacks). It has to be a capability of the initial user namespace:
  # PrivateUsers= stays off. ProtectProc=invisible (hidepid) would hide the very processes, so it
  # is relaxed to "default" (see serviceConfig). ProcSubset= stays "all": only /proc/PID is read,
  # but the gc collector's runtime roots read /proc/sys/kernel too.
  ptraceNeeded = cfg.gc.runtimeRoots || restartCollector;

  # The gc collector reads Nix's temporary roots, /nix/var/nix/temproots/<pid>: root's files, mode
  # 0600 (NixOS/nix 2.28.0 src/libstore/gc.cc:64, createTempRootsFile, through openLockFile in
  # src/libstore/unix/pathlocks.cc:21, which creates with mode 0600).
  # Without them the paths a running build holds and its lock files and partial outputs would
  # count as reclaimable; the exporter then leaves those figures out as unknown.
  dacReadSearchNeeded = bootCollector || channelCollector || gcCollector;

  capabilities =
    lib.optional ptraceNeeded "CAP_SYS_PTRACE" ++ lib.optional dacReadSearchNeeded "CAP_DAC_READ_SEARCH";

  # Why a capability. NixOS mounts the ESP with fmask=0077,dmask=0077 on current installs:
  # nixos-generate-config keeps a vfat mount's fmask/dmask in hardware-configuration.nix
  # (nixos/modules/installer/tools/nixos-generate-config.pl) and the manual mounts the ESP with
  # umask=077 (bootctl warns that a world-readable ESP exposes its entropy file). Only root or
  # CAP_DAC_READ_SEARCH can then list /boot/loader/entries; vfat has one owner and group for the
  # whole file system, so a supplementary group does not help, and widening the mask would expose
  # that file again.
  #
  # CAP_DAC_READ_SEARCH bypasses read and search permission everywhere: the exporter can read any
  # file the unit does not hide. ProtectSystem=strict keeps it read-only, ProtectHome= hides /home
  # and /root (with the channel collector, /root holds root's channel list alone: see
  # channelListBinds), and the capability also allows open_by_handle_at(2), which opens files by handle past
  # any mount view: SystemCallFilter=~@privileged (lib.nix) denies it (systemd's @privileged set
  # lists it). PrivateUsers= stays off: it would make the capability one of a user namespace, which
  # counts only on files whose owner and group are mapped into it. On top, secretHides makes the
  # well-known secret stores inaccessible. That is a mitigation, a deny-list, not an allow-list: a
  # secret kept anywhere else stays readable.
  #
  # An allow-list view (RootDirectory= with only what the collectors read bound in) was tried and
  # left: it cannot be checked against a real systemd here, and a unit that fails to start would
  # break the exporter for everyone, the boot collector being on by default; and it hides the
  # indirect GC roots under /var, /srv and elsewhere (gcroots/auto links to `result` links there),
  # which makes the gc collector's reclaimable figures wrong on CI builders.
  #
  # Nothing here is read by a collector (src/exporter; tests/e2e/test_nix_modules.py checks the
  # paths its sources name) or by the flake collector's nix and git, which read /etc/nix (netrc for
  # private flakes) and /etc/ssl. TLS files the web config names must live elsewhere (the option
  # says so). /etc/ssh also holds ssh_config and
  # the known hosts; the unit has no ssh on its PATH, so git+ssh flake URLs do not work in it
  # anyway. `-`: skipped where the host has no such path. /run/credentials is not listed: systemd
  # already hides other units' credentials there, and hiding it would hide the unit's own.
  secretHides = map (p: "-" + p) [
    "/etc/shadow"
    "/etc/gshadow"
    "/etc/ssh"
    # NixOS's keys ramfs (nixos/modules/tasks/filesystems.nix).
    "/run/keys"
    # sops-nix and agenix: /run/secrets and /run/agenix are links into the .d generations.
    "/run/secrets"
    "/run/secrets.d"
    "/run/agenix"
    "/run/agenix.d"
    "/var/lib/acme"
    "/var/lib/sops-nix"
  ];

  args = [
    "--listen=${h.hostPort cfg.listenAddress cfg.port}"
    "--scrape.timeout=${cfg.scrapeTimeout}"
    "--log.level=${cfg.logLevel}"
  ]
  ++ collectorFlags
  ++ storeFlags
  ++ flakeFlags
  ++ channelFlags
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
      rootsTop = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = null;
        example = 25;
        description = ''
          How many GC roots besides the system generations get their own
          `nixos_gc_root_exclusive_nar_bytes` series, largest first; the rest are summed as
          `root="other"` (`--collector.gc.roots.top`). `null` keeps the exporter's default (10).
        '';
      };
    };

    channel = {
      upstreamCheck = mkOption {
        type = types.bool;
        default = true;
        description = ''
          While the channel collector runs (`collectors.channel`), ask each of root's channels
          for its upstream revision (`<URL>/git-revision` over HTTPS, in the background). Off
          (`--no-channel.upstream-check`): only what is on the host, for hosts that cannot reach
          their channel servers.
        '';
      };
      checkInterval = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "6h";
        description = "Interval between upstream checks of each root channel (`--channel.check-interval`, Go duration); `null` keeps the exporter's default (1h).";
      };
      httpTimeout = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "10s";
        description = "Timeout of connecting, sending and each read of one upstream request (`--channel.http-timeout`, Go duration); `null` keeps the exporter's default (30s).";
      };
      nats = natsOptions {
        subject = "nixos-exporter.channel-rev";
        enable = "Share channel revisions with the other hosts through NATS: one host of a fleet asks upstream per interval (`--channel.nats.enable`).";
        subjectDescription = "NATS subject for channel revisions.";
        credentialsFile = "NATS credentials file (optional); handed to the unit as a systemd credential. Give a string, not a Nix path, or it is copied into the world-readable store.";
        nkeySeedFile = "NATS NKey user key file (optional; `--channel.nats.nkey-seed-file`); handed to the unit as a systemd credential. Give a string, not a Nix path, or it is copied into the world-readable store.";
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
        into the world-readable store. The certificate, key and client CA files it names are read
        by the exporter itself: while the boot or channel collector runs, the unit cannot see the usual
        secret stores (`/run/secrets`, `/run/agenix`, `/run/keys`, `/var/lib/acme`, …), so keep
        those files elsewhere.
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
      nats = natsOptions {
        subject = "nixos-exporter.remote-rev";
        enable = "Share the remote revision with the other hosts through NATS.";
        subjectDescription = "NATS subject for revision updates.";
        credentialsFile = "NATS credentials file (optional); handed to the unit as a systemd credential.";
        nkeySeedFile = "NATS NKey user key file (optional; `--flake.nats.nkey-seed-file`); handed to the unit as a systemd credential.";
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
      {
        assertion = cfg.channel.nats.enable -> channelCollector;
        message = "services.prometheus.exporters.nixos.channel.nats.enable requires collectors.channel = true";
      }
      {
        assertion = !(cfg.channel.nats.credentialsFile != null && cfg.channel.nats.nkeySeedFile != null);
        message = "services.prometheus.exporters.nixos.channel.nats: set credentialsFile or nkeySeedFile, not both";
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
      environment =
        lib.optionalAttrs cfg.flake.enable {
          # nix keeps its fetcher cache under $HOME/.cache; a dynamic user has no home of its own.
          HOME = "/var/cache/nixos-exporter";
          NIX_CONFIG = "extra-experimental-features = nix-command flakes";
        }
        // lib.optionalAttrs channelCollector { SSL_CERT_FILE = caBundle; };
      serviceConfig = h.hardening // {
        ExecStart = "${cfg.package}/bin/nixos-exporter ${
          lib.concatStringsSep " " ([ (h.escapeSystemdArgs args) ] ++ credentialFlags)
        }";
        Restart = "on-failure";
        RestartSec = "5s";

        # Reads world-readable state (profiles, /run/*-system, the store database), and with
        # CAP_DAC_READ_SEARCH /boot when the boot collector runs (see capabilities) and root's
        # channel list when the channel collector runs (see channelListBinds).
        DynamicUser = true;
        LoadCredential = credentials;
        CacheDirectory = "nixos-exporter";
        CacheDirectoryMode = "0700";
        ProtectProc = if ptraceNeeded then "default" else "invisible";
        CapabilityBoundingSet = if capabilities == [ ] then "" else capabilities;
        AmbientCapabilities = if capabilities == [ ] then "" else capabilities;
        RemoveIPC = true;
        UMask = "0077";
      }
      // lib.optionalAttrs dacReadSearchNeeded { InaccessiblePaths = secretHides; }
      // lib.optionalAttrs channelCollector {
        ProtectHome = "tmpfs";
        BindReadOnlyPaths = channelListBinds;
      };
    };
  };
}
