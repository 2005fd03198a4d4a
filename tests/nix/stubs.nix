# Stand-ins for the NixOS options that nixmon's modules set or read and that nixpkgs' `lib` alone
# does not declare (they live in nixpkgs/nixos/modules, which the tests do not have).
#
# Each stand-in has the type nixpkgs declares, so a definition NixOS would refuse is refused here
# too: closed submodules where nixpkgs has them (an unknown key is "option does not exist"),
# `types.attrs` where nixpkgs uses it (definitions merge with a shallow `//`: a later key replaces
# a whole earlier one), the JSON / YAML / INI format types where nixpkgs uses `pkgs.formats`
# (deep merge, conflicting leaves fail), and nixpkgs' defaults. Options nixmon never touches are
# left out; sub-options nobody sets are kept only where they make a submodule closed in the same
# way. The comment above each group names the nixpkgs file it mirrors.
#
# Also `pkgs`: a fake package set with just what the modules use (fake store paths, nothing built).
{ lib, config, ... }:

let
  inherit (lib) mkOption types;
  opt = type: default: mkOption { inherit type default; };
  # An option nixpkgs declares without a default: reading it undefined fails, as on NixOS.
  required = type: mkOption { inherit type; };
  # prometheus/default.nix's `mkOpt`: null by default, dropped from the YAML when null.
  nullable = type: opt (types.nullOr type) null;

  # nixos/lib/systemd-unit-options.nix (`unitOption`): a list definition anywhere makes the value
  # the concatenation of all definitions (scalars included); otherwise all must be equal.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    check = v: builtins.isBool v || builtins.isInt v || builtins.isString v || builtins.isPath v || builtins.isList v || (v ? outPath);
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.any (d: builtins.isList d.value) defs' then
        lib.concatMap (d: lib.toList d.value) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  # pkgs/pkgs-lib/formats.nix: `formats.json { }` / `formats.yaml { }` value type.
  formatValue =
    let
      valueType =
        types.nullOr (
          types.oneOf [
            types.bool
            types.int
            types.float
            types.str
            types.path
            (types.attrsOf valueType)
            (types.listOf valueType)
          ]
        )
        // {
          description = "JSON value";
        };
    in
    valueType;
  # pkgs/pkgs-lib/formats.nix: `formats.ini { listToValue = …; }` type (sections of atoms or lists).
  iniAtom = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
    ]
  );
  iniType = types.attrsOf (types.attrsOf (types.either iniAtom (types.listOf iniAtom)));

  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  # A store path that changes with the text, like pkgs.writeText's (no store is written).
  fakeText = name: text: "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" text)}-${name}";

  # --- nixos/modules/services/monitoring/prometheus/default.nix (promTypes) -------------------
  basicAuth = types.submodule {
    options = {
      password = nullable types.str;
      password_file = nullable types.str;
      username = required types.str;
    };
  };
  tlsConfig = types.submodule {
    options = lib.genAttrs [ "ca_file" "cert_file" "key_file" "server_name" ] (_: nullable types.str) // {
      insecure_skip_verify = nullable types.bool;
    };
  };
  staticConfig = types.submodule {
    options = {
      labels = opt (types.attrsOf types.str) { };
      targets = required (types.listOf types.str);
    };
  };
  relabelConfig = types.submodule {
    options = {
      action = nullable (
        types.enum [
          "replace"
          "lowercase"
          "uppercase"
          "keep"
          "drop"
          "hashmod"
          "labelmap"
          "labeldrop"
          "labelkeep"
        ]
      );
      modulus = nullable types.int;
      regex = nullable types.str;
      replacement = nullable types.str;
      separator = nullable types.str;
      source_labels = nullable (types.listOf types.str);
      target_label = nullable types.str;
    };
  };
  # The service discovery blocks are closed submodules in nixpkgs too; nixmon writes none, so
  # their contents are left open here (the key itself must still be one nixpkgs knows).
  sdConfigs = nullable (types.listOf types.attrs);
  scrapeConfig = types.submodule {
    options =
      lib.genAttrs [
        "azure_sd_configs"
        "consul_sd_configs"
        "digitalocean_sd_configs"
        "dns_sd_configs"
        "docker_sd_configs"
        "dockerswarm_sd_configs"
        "ec2_sd_configs"
        "eureka_sd_configs"
        "file_sd_configs"
        "gce_sd_configs"
        "hetzner_sd_configs"
        "http_sd_configs"
        "kubernetes_sd_configs"
        "kuma_sd_configs"
        "lightsail_sd_configs"
        "linode_sd_configs"
        "marathon_sd_configs"
        "nerve_sd_configs"
        "openstack_sd_configs"
        "puppetdb_sd_configs"
        "scaleway_sd_configs"
        "serverset_sd_configs"
        "triton_sd_configs"
        "uyuni_sd_configs"
      ] (_: sdConfigs)
      // {
        authorization = opt (types.nullOr types.attrs) null;
        basic_auth = nullable basicAuth;
        bearer_token = nullable types.str;
        bearer_token_file = nullable types.str;
        body_size_limit = nullable types.str;
        fallback_scrape_protocol = nullable types.str;
        honor_labels = nullable types.bool;
        honor_timestamps = nullable types.bool;
        job_name = required types.str;
        label_limit = nullable types.int;
        label_name_length_limit = nullable types.int;
        label_value_length_limit = nullable types.int;
        metric_relabel_configs = nullable (types.listOf relabelConfig);
        metrics_path = nullable types.str;
        params = nullable (types.attrsOf (types.listOf types.str));
        proxy_url = nullable types.str;
        relabel_configs = nullable (types.listOf relabelConfig);
        sample_limit = nullable types.int;
        scheme = nullable (
          types.enum [
            "http"
            "https"
          ]
        );
        scrape_interval = nullable types.str;
        scrape_protocols = nullable (types.listOf types.str);
        scrape_timeout = nullable types.str;
        static_configs = nullable (types.listOf staticConfig);
        target_limit = nullable types.int;
        tls_config = nullable tlsConfig;
      };
  };
  remoteWriteConfig = types.submodule {
    options = {
      basic_auth = nullable basicAuth;
      bearer_token = nullable types.str;
      bearer_token_file = nullable types.str;
      headers = nullable (types.attrsOf types.str);
      metadata_config = nullable (
        types.submodule {
          options = {
            send = nullable types.bool;
            send_interval = nullable types.str;
          };
        }
      );
      name = nullable types.str;
      proxy_url = nullable types.str;
      queue_config = nullable (
        types.submodule {
          options = {
            batch_send_deadline = nullable types.str;
            capacity = nullable types.int;
            max_backoff = nullable types.str;
            max_samples_per_send = nullable types.int;
            max_shards = nullable types.int;
            min_backoff = nullable types.str;
            min_shards = nullable types.int;
          };
        }
      );
      remote_timeout = nullable types.str;
      sigv4 = nullable (
        types.submodule {
          options = lib.genAttrs [ "access_key" "profile" "region" "role_arn" "secret_key" ] (_: nullable types.str);
        }
      );
      tls_config = nullable tlsConfig;
      url = required types.str;
      write_relabel_configs = nullable (types.listOf relabelConfig);
    };
  };
  globalConfig = types.submodule {
    options = {
      evaluation_interval = nullable types.str;
      external_labels = nullable (types.attrsOf types.str);
      query_log_file = nullable types.str;
      scrape_interval = nullable types.str;
      scrape_timeout = nullable types.str;
    };
  };

  # --- nixos/modules/services/monitoring/prometheus/exporters.nix (mkExporterOpts) -----------
  exporter =
    port: extra:
    opt (types.submodule {
      options = {
        enable = opt types.bool false;
        port = opt types.port port;
        listenAddress = opt types.str "0.0.0.0";
        extraFlags = opt (types.listOf types.str) [ ];
        openFirewall = opt types.bool false;
        firewallFilter = opt (types.nullOr types.str) null;
        firewallRules = opt (types.nullOr types.lines) null;
        user = opt types.str "${toString port}-exporter";
        group = opt types.str "${toString port}-exporter";
      }
      // extra;
    }) { };

  # --- nixos/modules/services/monitoring/grafana.nix ------------------------------------------
  grafanaDatasource = types.submodule {
    freeformType = types.attrsOf formatValue;
    options = {
      access = opt (types.enum [
        "proxy"
        "direct"
      ]) "proxy";
      editable = opt types.bool false;
      jsonData = opt (types.nullOr types.attrs) null;
      name = required types.str;
      secureJsonData = opt (types.nullOr types.attrs) null;
      type = required types.str;
      uid = opt (types.nullOr types.str) null;
      url = opt types.str "";
    };
  };
  grafanaDashboardProvider = types.submodule {
    freeformType = types.attrsOf formatValue;
    options = {
      options.path = required types.path;
      name = opt types.str "default";
      type = opt types.str "file";
    };
  };
  grafanaCfg = config.services.grafana;

  # --- nixos/modules/services/databases/redis.nix ---------------------------------------------
  redisName = name: "redis" + lib.optionalString (name != "") "-${name}";

  # --- nixos/modules/services/web-servers/nginx/{default,vhost-options,location-options}.nix --
  nginxLocation = types.submodule {
    options = {
      proxyPass = opt (types.nullOr types.str) null;
      proxyWebsockets = opt types.bool false;
      basicAuthFile = opt (types.nullOr types.path) null;
      extraConfig = opt types.lines "";
      # location-options.nix: a `return` directive.
      return = opt (types.nullOr types.str) null;
      recommendedProxySettings = opt types.bool config.services.nginx.recommendedProxySettings;
    };
  };
  nginxVhost = types.submodule {
    options = {
      forceSSL = opt types.bool false;
      addSSL = opt types.bool false;
      onlySSL = opt types.bool false;
      enableACME = opt types.bool false;
      useACMEHost = opt (types.nullOr types.str) null;
      # No default and no null, as in nixpkgs: set only when there is a file.
      sslCertificate = required types.path;
      sslCertificateKey = required types.path;
      basicAuthFile = opt (types.nullOr types.path) null;
      locations = opt (types.attrsOf nginxLocation) { };
      extraConfig = opt types.lines "";
    };
  };
in
{
  options = {
    # nixos/modules/misc/assertions.nix
    assertions = opt (types.listOf types.unspecified) [ ];
    warnings = opt (types.listOf types.str) [ ];

    networking = {
      # nixos/modules/tasks/network-interfaces.nix
      hostName = opt types.str "nixos";
      domain = opt (types.nullOr types.str) null;
      # nixos/modules/services/networking/nftables.nix
      nftables = {
        enable = opt types.bool false;
        checkRuleset = opt types.bool true;
      };
      # nixos/modules/services/networking/firewall.nix, firewall-iptables.nix, firewall-nftables.nix
      firewall = {
        enable = opt types.bool true;
        allowedTCPPorts = opt (types.listOf types.port) [ ];
        extraCommands = opt types.lines "";
        extraStopCommands = opt types.lines "";
        extraInputRules = opt types.lines "";
      };
    };

    # nixos/modules/config/users-groups.nix (the options nixmon's modules use; closed like nixpkgs')
    users.users = opt (types.attrsOf (
      types.submodule (
        { name, ... }:
        {
          options = {
            name = opt types.str name;
            description = opt types.str "";
            uid = opt (types.nullOr types.int) null;
            isSystemUser = opt types.bool false;
            isNormalUser = opt types.bool false;
            group = opt types.str "";
            extraGroups = opt (types.listOf types.str) [ ];
            home = opt types.path "/var/empty";
            createHome = opt types.bool false;
          };
        }
      )
    )) { };
    users.groups = opt (types.attrsOf (
      types.submodule (
        { name, ... }:
        {
          options = {
            name = opt types.str name;
            gid = opt (types.nullOr types.int) null;
            members = opt (types.listOf types.str) [ ];
          };
        }
      )
    )) { };

    environment = {
      # nixos/modules/config/system-path.nix, nixos/modules/config/shells-environment.nix
      systemPackages = opt (types.listOf types.package) [ ];
      sessionVariables = opt (types.attrsOf types.str) { };
      # nixos/modules/system/etc/etc.nix: `source` follows `text` (pkgs.writeText).
      etc = opt (types.attrsOf (
        types.submodule (
          { name, config, ... }:
          {
            options = {
              enable = opt types.bool true;
              target = opt types.str name;
              text = opt (types.nullOr types.lines) null;
              source = required types.path;
              mode = opt types.str "symlink";
              user = opt types.str "+0";
              group = opt types.str "+0";
            };
            config.source = lib.mkIf (config.text != null) (lib.mkDefault (fakeText "etc-${baseNameOf name}" config.text));
          }
        )
      )) { };
    };

    nix = {
      package = opt types.anything (fakePackage "nix-2.31.2" // { version = "2.31.2"; });
      settings = opt (types.attrsOf types.anything) { };
    };

    # nixos/lib/systemd-unit-options.nix, nixos/modules/system/boot/systemd.nix (closed submodule)
    systemd.services = opt (types.attrsOf (
      types.submodule {
        options = {
          enable = opt types.bool true;
          description = opt types.str "";
          wantedBy = opt (types.listOf types.str) [ ];
          requiredBy = opt (types.listOf types.str) [ ];
          after = opt (types.listOf types.str) [ ];
          before = opt (types.listOf types.str) [ ];
          wants = opt (types.listOf types.str) [ ];
          requires = opt (types.listOf types.str) [ ];
          partOf = opt (types.listOf types.str) [ ];
          path = opt (types.listOf (types.either types.package types.str)) [ ];
          environment = opt (types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]))) { };
          preStart = opt types.lines "";
          postStart = opt types.lines "";
          script = opt types.lines "";
          reloadTriggers = opt (types.listOf unitOption) [ ];
          restartTriggers = opt (types.listOf unitOption) [ ];
          unitConfig = opt (types.attrsOf unitOption) { };
          serviceConfig = opt (types.attrsOf unitOption) { };
        };
      }
    )) { };

    services = {
      prometheus = {
        # nixos/modules/services/monitoring/prometheus/default.nix
        enable = opt types.bool false;
        port = opt types.port 9090;
        listenAddress = opt types.str "0.0.0.0";
        webExternalUrl = opt (types.nullOr types.str) null;
        retentionTime = opt (types.nullOr types.str) null;
        globalConfig = opt globalConfig { };
        scrapeConfigs = opt (types.listOf scrapeConfig) [ ];
        ruleFiles = opt (types.listOf types.path) [ ];
        rules = opt (types.listOf types.str) [ ];
        alertmanagers = opt (types.listOf types.attrs) [ ];
        remoteWrite = opt (types.listOf remoteWriteConfig) [ ];
        checkConfig = opt (types.either types.bool (types.enum [ "syntax-only" ])) true;
        extraFlags = opt (types.listOf types.str) [ ];
        # nixos/modules/services/monitoring/prometheus/exporters.nix: one submodule option;
        # third-party exporters (ours) declare sub-options into it.
        exporters = mkOption {
          default = { };
          type = types.submodule {
            options = {
              # exporters/node.nix
              node = exporter 9100 {
                enabledCollectors = opt (types.listOf types.str) [ ];
                disabledCollectors = opt (types.listOf types.str) [ ];
              };
              # exporters/postgres.nix
              postgres = exporter 9187 {
                runAsLocalSuperUser = opt types.bool false;
                dataSourceName = opt types.str "user=postgres database=postgres host=/run/postgresql sslmode=disable";
                environmentFile = opt (types.nullOr types.path) null;
              };
              # exporters/redis.nix
              redis = exporter 9121 { };
              # exporters/nginx.nix
              nginx = exporter 9113 {
                scrapeUri = opt types.str "http://localhost/nginx_status";
                sslVerify = opt types.bool true;
                constLabels = opt (types.listOf types.str) [ ];
              };
              # exporters/pve.nix (its `extraOpts`, as of nixpkgs commit 3b20077 seen in a fork,
              # faukah/nixpkgs: environmentFile, configFile and server.{keyFile,certFile} are
              # `nullOr path`; one bool per collector, default true; the package option is left out)
              pve = exporter 9221 {
                environmentFile = opt (types.nullOr types.path) null;
                configFile = opt (types.nullOr types.path) null;
                server = {
                  keyFile = opt (types.nullOr types.path) null;
                  certFile = opt (types.nullOr types.path) null;
                };
                collectors = lib.genAttrs [ "status" "version" "node" "cluster" "resources" "config" "replication" ] (
                  _: opt types.bool true
                );
              };
            };
          };
        };
        # nixos/modules/services/monitoring/prometheus/alertmanager.nix
        alertmanager = {
          enable = opt types.bool false;
          port = opt types.port 9093;
          listenAddress = opt types.str "";
          webExternalUrl = opt (types.nullOr types.str) null;
          # Shallow `//` merge of every definition (types.attrs); the file goes through envsubst.
          configuration = opt (types.nullOr types.attrs) null;
          configText = opt (types.nullOr types.lines) null;
          checkConfig = opt types.bool true;
          environmentFile = opt (types.nullOr types.path) null;
          extraFlags = opt (types.listOf types.str) [ ];
        };
      };

      # nixos/modules/services/monitoring/grafana.nix
      grafana = {
        enable = opt types.bool false;
        dataDir = opt types.path "/var/lib/grafana";
        openFirewall = opt types.bool false;
        settings = opt (types.submodule {
          freeformType = iniType;
          options = {
            server = {
              http_addr = opt types.str "127.0.0.1";
              http_port = opt types.port 3000;
              domain = opt types.str "localhost";
              root_url = opt types.str "%(protocol)s://%(domain)s:%(http_port)s/";
              protocol = opt (types.enum [
                "http"
                "https"
                "h2"
                "socket"
              ]) "http";
            };
            security = {
              admin_user = opt types.str "admin";
              admin_password = opt types.str "admin";
              # No default since NixOS 26.05 (an assertion asks for one, below).
              secret_key = opt (types.nullOr types.str) null;
            };
            analytics.reporting_enabled = opt types.bool false;
            # grafana.nix declares [users] (allow_sign_up a bool, default false); [auth] and
            # [auth.generic_oauth] are left to the freeform INI type.
            users.allow_sign_up = opt types.bool false;
            database = {
              type = opt (types.enum [
                "mysql"
                "sqlite3"
                "postgres"
              ]) "sqlite3";
              path = opt types.path "${grafanaCfg.dataDir}/data/grafana.db";
            };
          };
        }) { };
        provision = {
          enable = opt types.bool false;
          datasources = opt (types.submodule {
            options.path = opt (types.nullOr types.path) null;
            options.settings = opt (types.nullOr (
              types.submodule {
                options = {
                  apiVersion = opt types.int 1;
                  datasources = opt (types.listOf grafanaDatasource) [ ];
                  deleteDatasources = opt (types.listOf types.attrs) [ ];
                  prune = opt types.bool false;
                };
              }
            )) null;
          }) { };
          dashboards = opt (types.submodule {
            options.path = opt (types.nullOr types.path) null;
            options.settings = opt (types.nullOr (
              types.submodule {
                options = {
                  apiVersion = opt types.int 1;
                  providers = opt (types.listOf grafanaDashboardProvider) [ ];
                };
              }
            )) null;
          }) { };
        };
      };

      # nixos/modules/services/monitoring/cadvisor.nix (its `options.services.cadvisor`, as of
      # nixpkgs commit 3b20077 seen in a fork, faukah/nixpkgs; older nixpkgs lacks extraOptions
      # and has `port` as types.int): the options nixmon sets and those that keep the set as
      # nixpkgs has it; storageDriverPasswordFile has
      # no default there (a default is defined in its config part while storageDriverPassword is
      # non-empty, which it is by default).
      cadvisor = {
        enable = opt types.bool false;
        listenAddress = opt types.str "127.0.0.1";
        port = opt types.port 8080;
        storageDriver = opt (types.nullOr types.str) null;
        storageDriverHost = opt types.str "localhost:8086";
        storageDriverDb = opt types.str "root";
        storageDriverUser = opt types.str "root";
        storageDriverPassword = opt types.str "root";
        storageDriverSecure = opt types.bool false;
        extraOptions = opt (types.listOf types.str) [ ];
      };

      # nixos/modules/services/monitoring/loki.nix
      loki = {
        enable = opt types.bool false;
        dataDir = opt types.path "/var/lib/loki";
        configuration = opt (types.attrsOf formatValue) { };
        configFile = opt (types.nullOr types.path) null;
        user = opt types.str "loki";
        group = opt types.str "loki";
      };

      # nixos/modules/services/monitoring/alloy.nix
      alloy = {
        enable = opt types.bool false;
        configPath = opt types.path "/etc/alloy";
        extraFlags = opt (types.listOf types.str) [ ];
      };

      # nixos/modules/services/databases/victoriametrics.nix
      victoriametrics = {
        enable = opt types.bool false;
        listenAddress = opt types.str ":8428";
        retentionPeriod = opt types.str "1";
      };

      # nixos/modules/services/web-servers/nginx/default.nix
      nginx = {
        enable = opt types.bool false;
        statusPage = opt types.bool false;
        recommendedProxySettings = opt types.bool false;
        recommendedTlsSettings = opt types.bool false;
        recommendedGzipSettings = opt types.bool false;
        virtualHosts = opt (types.attrsOf nginxVhost) { };
      };

      # nixos/modules/services/web-servers/caddy/default.nix: `extraConfig` only reaches Caddy
      # through the generated Caddyfile, which is not used once `settings` is non-empty (JSON)
      # or `configFile` is set.
      caddy = {
        enable = opt types.bool false;
        extraConfig = opt types.lines "";
        globalConfig = opt types.lines "";
        settings = opt (types.attrsOf formatValue) { };
        configFile = opt types.path (
          if config.services.caddy.settings != { } then
            fakeText "caddy.json" (builtins.toJSON config.services.caddy.settings)
          else
            "${fakeText "Caddyfile-formatted" config.services.caddy.extraConfig}/Caddyfile"
        );
      };

      # nixos/modules/services/databases/postgresql.nix
      postgresql.enable = opt types.bool false;

      # nixos/modules/services/databases/redis.nix (closed submodule per server)
      redis.servers = opt (types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              enable = opt types.bool false;
              user = opt types.str (redisName name);
              port = opt types.port (if name == "" then 6379 else 0);
              openFirewall = opt types.bool false;
              bind = opt (types.nullOr types.str) "127.0.0.1";
              unixSocket = opt (types.nullOr types.path) "/run/${redisName name}/redis.sock";
              unixSocketPerm = opt types.int 660;
              requirePass = opt (types.nullOr types.str) null;
              requirePassFile = opt (types.nullOr types.path) null;
              settings = opt (types.attrsOf (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ])) { };
            };
          }
        )
      )) { };
    };
  };

  # What nixpkgs' modules check on their own options, where nixmon's definitions can trip it.
  config.assertions =
    # grafana.nix (NixOS 26.05): no default secret key any more.
    lib.optional grafanaCfg.enable {
      assertion = grafanaCfg.settings.security.secret_key != null;
      message = "Grafana's secret key (services.grafana.settings.security.secret_key) doesn't have a default value anymore.";
    }
    # alertmanager.nix
    ++ lib.optional config.services.prometheus.alertmanager.enable {
      assertion = config.services.prometheus.alertmanager.configuration != null || config.services.prometheus.alertmanager.configText != null;
      message = "Can not enable alertmanager without a configuration. Set either the `configuration` or `configText` attribute.";
    }
    # loki.nix
    ++ lib.optional config.services.loki.enable {
      assertion = (config.services.loki.configuration == { } -> config.services.loki.configFile != null) && (config.services.loki.configFile != null -> config.services.loki.configuration == { });
      message = "Please specify either 'services.loki.configuration' or 'services.loki.configFile'.";
    };

  config._module.args.pkgs = {
    nixmon = fakePackage "nixmon-0.1.0";
    git = fakePackage "git-2.51.0";
    writeShellScript = name: text: fakeText name text;
    writeText = name: text: fakeText name text;
    # The flake's modules build their package with callPackage: a fake that says what it was given.
    callPackage = path: args: fakePackage "nixmon-flake" // { fromFile = toString path; inherit args; };
  };
}
