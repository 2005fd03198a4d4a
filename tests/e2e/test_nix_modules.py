"""The NixOS modules under nix/modules, evaluated with the real module system of nixpkgs' lib
(NIXMON_NIXPKGS_LIB; see nixeval.py) by Debian's real nix-instantiate: defaults, every option set,
assertions on bad combinations, and the generated units, scrape jobs, routes and provisioning."""
import json
import os
import re
import stat
import subprocess
import sys
import unittest

import harness as h
import nixeval as n

PKG = "/nix/store/00000000000000000000000000000000-nixmon-0.1.0"

# Every option of the Go nixos-exporter's module, with its default: the drop-in promise.
GO_EXPORTER_OPTIONS = {
    "enable": False,
    "port": 9971,
    "listenAddress": "0.0.0.0",
    "openFirewall": False,
    "flake.enable": False,
    "flake.url": "",
    "flake.checkInterval": "1h",
    "flake.nats.enable": False,
    "flake.nats.url": "nats://localhost:4222",
    "flake.nats.subject": "nixos-exporter.remote-rev",
    "flake.nats.credentialsFile": None,
    "flake.nats.nkeySeedFile": None,
}

EVERY_EXPORTER_OPTION = """{
          services.prometheus.exporters.nixos = {
            enable = true;
            package = { type = "derivation"; name = "x"; outPath = "/nix/store/11111111111111111111111111111111-x"; };
            port = 9000;
            listenAddress = "::";
            openFirewall = true;
            collectors = { generation = true; system = true; reboot = false; boot = true; upgrade = false; store = true; gc = false; restart = true; channel = true; };
            store.checkInterval = "2m";
            gc = { checkInterval = "15m"; runtimeRoots = true; rootsTop = 25; };
            channel = {
              upstreamCheck = false;
              checkInterval = "6h";
              httpTimeout = "10s";
              nats = {
                enable = true;
                url = "nats://nats.lan:4222";
                subject = "fleet.channel-rev";
                credentialsFile = null;
                nkeySeedFile = "/run/secrets/channel.nk";
              };
            };
            scrapeTimeout = "5s";
            logLevel = "debug";
            webConfigFile = "/run/secrets/web.yml";
            extraFlags = [ "--path.root=/host" ];
            flake = {
              enable = true;
              url = "github:me/cfg?dir=hosts&ref=a%2Fb";
              checkInterval = "30m";
              nats = {
                enable = true;
                url = "nats://nats.lan:4222";
                subject = "fleet.rev";
                credentialsFile = "/run/secrets/nats.creds";
                nkeySeedFile = null;
              };
            };
          };
        }"""

EVERY_NOD_OPTION = """{ services.nod = {
          enable = true;
          package = { type = "derivation"; name = "y"; outPath = "/nix/store/22222222222222222222222222222222-y"; };
          retainDays = 30;
          socketGroup = "wheel";
          metrics = { enable = true; listenAddress = "127.0.0.1"; port = 9000; openFirewall = true; };
          extraFlags = [ "--max-connections=64" ];
        }; }"""

CLIENT = """{
  networking.hostName = "web";
  services.nixmon = { enable = true; server.address = "10.0.0.1"; address = "10.0.0.2"; };
  services.prometheus.exporters.nixos.port = 9999;
  services.postgresql.enable = true;
}"""


class Base(unittest.TestCase):
    def setUp(self):
        self.lib = n.require_lib(self)

    def run_modules(self, *modules):
        return n.run(list(modules), self.lib)

    def assertNoFailures(self, s):
        self.assertEqual(s["failedAssertions"], [])

    def options_left_at_default(self, module_file, config_text):
        """Options declared in nix/modules/<module_file> (a file, or a folder given with its "/")
        whose value in the configuration `config_text` equals their value in an empty
        configuration: what an "every option set" test forgot. Read-only options are left out."""
        expr = f"""let
          r = h.eval [ ({config_text}) ];
          d = h.eval [ ];
          ours = lib.filter (o: lib.any (x: lib.hasInfix "/nix/modules/{module_file}" (toString x)) o.declarations
                                && !(o.readOnly or false)
                                && !(lib.any (p: p == "<name>" || p == "*") o.loc))
                   (lib.optionAttrSetToDocList r.options);
          # Evaluated configurations (nixosConfigurations) hold functions: compare their names.
          get = c: o: let v = lib.attrByPath o.loc "<missing>" c; in
            builtins.toJSON (if lib.hasInfix "raw value" o.type then builtins.attrNames v else h.clean v);
        in map (o: o.name) (lib.filter (o: get r.config o == get d.config o) ours)"""
        return n.nix_eval(expr, self.lib)


class ExporterModule(Base):
    def test_defaults(self):
        s = self.run_modules("{ services.prometheus.exporters.nixos.enable = true; }")
        self.assertNoFailures(s)
        u = s["units"]["prometheus-nixos-exporter"]
        self.assertEqual(u["serviceConfig"]["ExecStart"],
                         f'{PKG}/bin/nixos-exporter "--listen=0.0.0.0:9971" "--scrape.timeout=10s" "--log.level=info"')
        self.assertEqual(u["wantedBy"], ["multi-user.target"])
        sc = u["serviceConfig"]
        # The boot collector is on by default: it reads the ESP with CAP_DAC_READ_SEARCH (BootCollectorCapability).
        for k, v in {"DynamicUser": True, "ProtectSystem": "strict", "ProtectHome": True, "NoNewPrivileges": True,
                     "CapabilityBoundingSet": ["CAP_DAC_READ_SEARCH"], "PrivateDevices": True,
                     "MemoryDenyWriteExecute": True}.items():
            self.assertEqual(sc[k], v, k)
        self.assertIn("-/etc/shadow", sc["InaccessiblePaths"])
        self.assertEqual(sc["LoadCredential"], [])
        # Without the flake collector nothing is put on PATH.
        self.assertEqual(u["path"], [])
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])

    def test_disabled_defines_nothing(self):
        s = self.run_modules("{ }")
        self.assertIsNone(s["units"]["prometheus-nixos-exporter"])

    def test_go_exporter_options_keep_names_and_defaults(self):
        def nix_list(path):
            return "[ " + " ".join(n.string(p) for p in path.split(".")) + " ]"
        # nixpkgs declares services.prometheus.exporters as one submodule option (so do the stubs):
        # the exporter's options are that submodule's.
        expr = "let o = ((h.eval [ ]).options.services.prometheus.exporters.type.getSubOptions [ ]).nixos; in { " + " ".join(
            f"{n.string(k)} = (lib.attrByPath {nix_list(k)} null o).default;" for k in GO_EXPORTER_OPTIONS) + " }"
        self.assertEqual(n.nix_eval(expr, self.lib), GO_EXPORTER_OPTIONS)

    def test_every_option_set(self):
        s = self.run_modules(EVERY_EXPORTER_OPTION)
        self.assertNoFailures(s)
        u = s["units"]["prometheus-nixos-exporter"]
        self.assertEqual(
            u["serviceConfig"]["ExecStart"],
            "/nix/store/11111111111111111111111111111111-x/bin/nixos-exporter "
            '"--listen=[::]:9000" "--scrape.timeout=5s" "--log.level=debug" '
            '"--collector.boot" "--collector.channel" "--no-collector.gc" "--collector.generation" "--no-collector.reboot" '
            '"--collector.restart" "--collector.store" "--collector.system" "--no-collector.upgrade" '
            '"--collector.store.check-interval=2m" "--collector.gc.check-interval=15m" "--collector.gc.runtime-roots" '
            '"--collector.gc.roots.top=25" '
            # % is a systemd specifier: doubled, so the exporter sees the URL as written.
            '"--collector.flake" "--flake.url=github:me/cfg?dir=hosts&ref=a%%2Fb" "--flake.check-interval=30m" '
            '"--flake.nats.enable" "--flake.nats.url=nats://nats.lan:4222" "--flake.nats.subject=fleet.rev" '
            '"--no-channel.upstream-check" "--channel.check-interval=6h" "--channel.http-timeout=10s" '
            '"--channel.nats.enable" "--channel.nats.url=nats://nats.lan:4222" "--channel.nats.subject=fleet.channel-rev" '
            '"--path.root=/host" '
            # Secrets by systemd credential: %d is $CREDENTIALS_DIRECTORY, left for systemd.
            "--flake.nats.credentials-file=%d/nats-credentials --channel.nats.nkey-seed-file=%d/channel-nats-nkey "
            "--web.config.file=%d/web-config")
        self.assertEqual(u["serviceConfig"]["LoadCredential"],
                         ["nats-credentials:/run/secrets/nats.creds", "channel-nats-nkey:/run/secrets/channel.nk",
                          "web-config:/run/secrets/web.yml"])
        self.assertEqual(u["path"], ["/nix/store/00000000000000000000000000000000-nix-2.31.2",
                                     "/nix/store/00000000000000000000000000000000-git-2.51.0"])
        self.assertEqual(u["environment"]["HOME"], "/var/cache/nixos-exporter")
        self.assertEqual(u["environment"]["SSL_CERT_FILE"], "/etc/ssl/certs/ca-certificates.crt")
        self.assertEqual(u["serviceConfig"]["ProtectHome"], "tmpfs")
        # Runtime GC roots are read from other processes' /proc: that needs CAP_SYS_PTRACE; the boot
        # collector's ESP, CAP_DAC_READ_SEARCH.
        self.assertEqual(u["serviceConfig"]["AmbientCapabilities"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
        self.assertIn("-/etc/shadow", u["serviceConfig"]["InaccessiblePaths"])
        self.assertEqual(u["serviceConfig"]["ProtectProc"], "default")
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [9000])

    def test_the_every_option_test_really_sets_every_option(self):
        # One kind of NATS credential each (the exporter takes one per connection): the flake's
        # nkeySeedFile and the channel's credentialsFile stay null there; the tests below set them.
        self.assertEqual(self.options_left_at_default("nixos-exporter.nix", EVERY_EXPORTER_OPTION),
                         ["services.prometheus.exporters.nixos.channel.nats.credentialsFile",
                          "services.prometheus.exporters.nixos.flake.nats.nkeySeedFile"])

    def test_nkey_seed_by_credential(self):
        s = self.run_modules("""{ services.prometheus.exporters.nixos = { enable = true;
          flake = { enable = true; url = "github:a/b"; nats = { enable = true; nkeySeedFile = "/run/secrets/seed"; }; }; }; }""")
        self.assertNoFailures(s)
        sc = s["units"]["prometheus-nixos-exporter"]["serviceConfig"]
        self.assertTrue(sc["ExecStart"].endswith("--flake.nats.nkey-seed-file=%d/nats-nkey-seed"), sc["ExecStart"])
        self.assertEqual(sc["LoadCredential"], ["nats-nkey-seed:/run/secrets/seed"])

    def test_nats_url_takes_a_list_of_cluster_servers(self):
        s = self.run_modules("""{ services.prometheus.exporters.nixos = { enable = true; collectors.channel = true;
          flake = { enable = true; url = "github:a/b";
                    nats = { enable = true; url = [ "nats://n1.lan:4222" "nats://n2.lan:4222" "tls://n3.lan:4222" ]; }; };
          channel.nats = { enable = true; url = [ "nats://n2.lan:4222" ]; }; }; }""")
        self.assertNoFailures(s)
        start = s["units"]["prometheus-nixos-exporter"]["serviceConfig"]["ExecStart"]
        self.assertIn('"--flake.nats.url=nats://n1.lan:4222,nats://n2.lan:4222,tls://n3.lan:4222"', start)
        self.assertIn('"--channel.nats.url=nats://n2.lan:4222"', start)
        # An empty list, or an entry that would split into two or none, is refused by the type.
        for url in ("[ ]", '[ "nats://a:4222,nats://b:4222" ]', '[ "" ]'):
            with self.subTest(url=url), self.assertRaises(n.EvalError):
                self.run_modules(f"""{{ services.prometheus.exporters.nixos = {{ enable = true;
                  flake = {{ enable = true; url = "github:a/b"; nats = {{ enable = true; url = {url}; }}; }}; }}; }}""")

    def test_assertions_fire(self):
        cases = {
            "{ enable = true; flake.enable = true; }":
                "services.prometheus.exporters.nixos.flake.url must be set when flake.enable is true",
            "{ enable = true; flake.nats.enable = true; }":
                "services.prometheus.exporters.nixos.flake.nats.enable requires flake.enable",
            """{ enable = true; flake = { enable = true; url = "github:a/b"; nats = { enable = true;
                 credentialsFile = "/a"; nkeySeedFile = "/b"; }; }; }""":
                "services.prometheus.exporters.nixos.flake.nats: set credentialsFile or nkeySeedFile, not both",
            "{ enable = true; channel.nats.enable = true; }":
                "services.prometheus.exporters.nixos.channel.nats.enable requires collectors.channel = true",
            """{ enable = true; collectors.channel = true; channel.nats = { enable = true;
                 credentialsFile = "/a"; nkeySeedFile = "/b"; }; }""":
                "services.prometheus.exporters.nixos.channel.nats: set credentialsFile or nkeySeedFile, not both",
        }
        for cfg, message in cases.items():
            with self.subTest(cfg=cfg):
                s = self.run_modules(f"{{ services.prometheus.exporters.nixos = {cfg}; }}")
                self.assertEqual(s["failedAssertions"], [message])

    def test_bad_values_are_rejected_by_types(self):
        for cfg in ['{ enable = true; port = 70000; }', '{ enable = true; logLevel = "loud"; }',
                    '{ enable = true; collectors.nosuch = true; }', '{ enable = true; gc.rootsTop = -1; }',
                    '{ enable = true; gc.rootsTop = "10"; }', '{ enable = true; channel.checkInterval = 3600; }']:
            with self.subTest(cfg=cfg), self.assertRaises(n.EvalError):
                self.run_modules(f"{{ services.prometheus.exporters.nixos = {cfg}; }}")


class NodModule(Base):
    def test_defaults(self):
        s = self.run_modules("{ services.nod.enable = true; }")
        self.assertNoFailures(s)
        self.assertEqual(s["warnings"], [])
        u = s["units"]["nod"]
        sc = u["serviceConfig"]
        self.assertEqual(sc["ExecStart"], f'{PKG}/bin/nod "--socket=/run/nod/nod.sock" "--db=/var/lib/nod/nod.db" '
                                          '"daemon" "--retain-days=180" "--socket-mode=0666" "--metrics.listen=0.0.0.0:9972"')
        self.assertEqual(s["nixSettings"], {"json-log-path": "/run/nod/nod.sock"})
        self.assertEqual(s["sessionVariables"], {"NOD_SOCKET": "/run/nod/nod.sock", "NOD_DB": "/var/lib/nod/nod.db"})
        # No socket directory without nod, so Nix cannot create a regular file there.
        self.assertEqual(sc["RuntimeDirectory"], "nod")
        self.assertEqual(sc["StateDirectory"], "nod")
        self.assertTrue(sc["ExecStartPost"].endswith("-nod-wait-socket"))
        # A schema upgrade (minutes on a large database) runs before nod, without the socket's
        # directory, as the same user on the same database.
        up = s["units"]["nod-upgrade"]
        self.assertEqual(up["serviceConfig"]["ExecStart"],
                         f'{PKG}/bin/nod "--socket=/run/nod/nod.sock" "--db=/var/lib/nod/nod.db" "upgrade"')
        self.assertEqual(up["serviceConfig"]["Type"], "oneshot")
        self.assertEqual(up["serviceConfig"]["TimeoutStartSec"], "30min")
        self.assertEqual((up["serviceConfig"]["User"], up["serviceConfig"]["StateDirectory"]), ("nod", "nod"))
        self.assertNotIn("RuntimeDirectory", up["serviceConfig"])
        self.assertEqual((up["before"], up["requiredBy"]), (["nod.service"], ["nod.service"]))
        self.assertEqual(u["after"], ["nod-upgrade.service"])
        self.assertNotIn("TimeoutStartSec", sc)
        # Everyone's `nix` may connect; the database is not everyone's.
        self.assertEqual(sc["UMask"], "0027")
        self.assertEqual(sc["RuntimeDirectoryMode"], "0755")
        self.assertEqual(sc["User"], "nod")
        self.assertEqual(u["before"], ["nix-daemon.service"])
        self.assertEqual(s["units"]["nix-daemon"]["after"], ["nod.service"])
        self.assertEqual(s["units"]["nix-daemon"]["wants"], ["nod.service"])
        self.assertIn("nod", s["users"])

    def test_every_option_set(self):
        s = self.run_modules(EVERY_NOD_OPTION)
        self.assertNoFailures(s)
        sc = s["units"]["nod"]["serviceConfig"]
        self.assertEqual(sc["ExecStart"], '/nix/store/22222222222222222222222222222222-y/bin/nod '
                                          '"--socket=/run/nod/nod.sock" "--db=/var/lib/nod/nod.db" "daemon" "--retain-days=30" '
                                          '"--socket-mode=0660" "--metrics.listen=127.0.0.1:9000" "--max-connections=64"')
        self.assertEqual((sc["Group"], sc["RuntimeDirectoryMode"]), ("wheel", "0750"))
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [9000])

    def test_the_every_option_test_really_sets_every_option(self):
        # metrics.enable is on by default and stays on there; test_metrics_off switches it off.
        self.assertEqual(self.options_left_at_default("nod.nix", EVERY_NOD_OPTION), ["services.nod.metrics.enable"])

    def test_metrics_off(self):
        s = self.run_modules("{ services.nod = { enable = true; metrics.enable = false; metrics.openFirewall = true; }; }")
        self.assertNotIn("--metrics.listen", s["units"]["nod"]["serviceConfig"]["ExecStart"])
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])

    def test_old_nix_gets_a_warning_not_an_unknown_setting(self):
        s = self.run_modules("""{ services.nod.enable = true;
          nix.package = { type = "derivation"; name = "nix-2.28.3"; version = "2.28.3"; outPath = "/nix/store/x-nix"; }; }""")
        self.assertEqual(s["nixSettings"], {})
        self.assertEqual(len(s["warnings"]), 1)
        self.assertIn("Nix 2.28.3 has no json-log-path", s["warnings"][0])

    def test_fixed_paths_are_read_only(self):
        with self.assertRaises(n.EvalError) as e:
            self.run_modules('{ services.nod = { enable = true; socket = "/tmp/nod.sock"; }; }')
        self.assertIn("read-only", str(e.exception))


class StackClient(Base):
    def test_client_defaults(self):
        s = self.run_modules(CLIENT)
        self.assertNoFailures(s)
        self.assertEqual(s["exposedTargets"], {"node": 9100, "nixos": 9999, "nod": 9972, "postgres": 9187})
        self.assertEqual(s["exporters"]["node"]["enabledCollectors"], ["systemd"])
        self.assertTrue(s["exporters"]["nixos"]["enable"])
        self.assertTrue(s["exporters"]["postgres"]["enable"])
        self.assertFalse(s["exporters"]["redis"]["enable"])
        self.assertIsNotNone(s["units"]["nod"])
        # Nothing of the server.
        self.assertFalse(s["prometheus"]["enable"])
        self.assertFalse(s["alertmanager"]["enable"])
        self.assertFalse(s["grafana"]["enable"])
        # Exporter ports are open to the server only, nothing is opened for everyone.
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])
        rules = sorted(s["firewall"]["extraCommands"].splitlines())
        self.assertEqual(rules, sorted(f"iptables -A nixos-fw -p tcp -s 10.0.0.1 --dport {p} -j nixos-fw-accept"
                                       for p in (9100, 9999, 9972, 9187)))
        # The journal goes to the server's Loki.
        self.assertTrue(s["alloy"]["enable"])
        alloy = s["etc"]["alloy/nixmon.alloy"]
        self.assertIn('url = "http://10.0.0.1:3100/loki/api/v1/push"', alloy)
        self.assertIn('host = "web"', alloy)
        self.assertIn("loki.source.journal", alloy)
        self.assertEqual(s["units"]["alloy"]["serviceConfig"]["SupplementaryGroups"], ["systemd-journal"])

    def test_nftables_and_ipv6(self):
        s = self.run_modules("""{ services.nixmon = { enable = true; server.address = "fd00::1";
          server.allowedSources = [ "10.0.0.0/24" "fd00::1" ]; exporters.nod.enable = false; };
          networking.nftables.enable = true; }""")
        self.assertEqual(s["firewall"]["extraCommands"], "")
        self.assertEqual(s["firewall"]["extraInputRules"],
                         "ip saddr { 10.0.0.0/24 } tcp dport { 9971, 9100 } accept\n"
                         "ip6 saddr { fd00::1 } tcp dport { 9971, 9100 } accept\n")
        self.assertIn('url = "http://[fd00::1]:3100/loki/api/v1/push"', s["etc"]["alloy/nixmon.alloy"])

    def test_client_needs_a_server(self):
        s = self.run_modules("{ services.nixmon.enable = true; }")
        self.assertEqual(s["failedAssertions"],
                         ["services.nixmon.server.address must be set on clients (where logs go, who may scrape)"])

    def test_auto_exporters_follow_the_services_the_host_runs(self):
        s = self.run_modules(CLIENT, """{ services.caddy.enable = true; services.nginx.enable = true;
          services.redis.servers.cache = { enable = true; port = 0; unixSocket = "/run/redis-cache/redis.sock";
                                           user = "redis-cache"; }; }""")
        self.assertEqual(s["exposedTargets"], {"node": 9100, "nixos": 9999, "nod": 9972, "postgres": 9187,
                                               "caddy": 9180, "nginx": 9113, "redis": 9121})
        self.assertIn("http://:9180 {\n  metrics /metrics\n}", s["caddyExtraConfig"])
        self.assertTrue(s["nginx"]["statusPage"])
        self.assertEqual(s["exporters"]["redis"]["extraFlags"], ["--redis.addr=unix:///run/redis-cache/redis.sock"])
        self.assertEqual(s["units"]["prometheus-redis-exporter"]["serviceConfig"]["SupplementaryGroups"],
                         ["redis-cache"])

    def test_switches_off(self):
        s = self.run_modules("""{ services.nixmon = { enable = true; server.address = "10.0.0.1";
          exporters = { node.enable = false; nixos.enable = false; nod.enable = false; };
          logs.enable = false; }; }""")
        self.assertEqual(s["exposedTargets"], {})
        self.assertIsNone(s["units"]["nod"])
        self.assertIsNone(s["units"]["prometheus-nixos-exporter"])
        self.assertFalse(s["alloy"]["enable"])
        self.assertEqual(s["firewall"]["extraCommands"], "")


SERVER = """{
  networking.hostName = "mon";
  services.nixmon = {
    enable = true;
    role = "server";
    nixosConfigurations = { web = h.eval [ CLIENT ]; off = h.eval [ { services.nixmon.enable = false; } ]; };
    hosts.db = { address = "10.0.0.3"; targets = { node = 9100; redis = 9121; }; labels.site = "attic"; };
  };
}""".replace("CLIENT", CLIENT)


def job(s, name):
    jobs = [j for j in s["prometheus"]["yml"]["scrape_configs"] if j["job_name"] == name]
    return jobs[0] if jobs else None


def targets(s, name):
    j = job(s, name)
    return {sc["labels"]["host"]: sc["targets"][0] for sc in j["static_configs"]} if j else {}


class StackServer(Base):
    def test_scrape_jobs_per_exporter_and_host_with_ports_from_the_hosts(self):
        s = self.run_modules(SERVER)
        self.assertNoFailures(s)
        names = [j["job_name"] for j in s["prometheus"]["yml"]["scrape_configs"]]
        self.assertEqual(names, ["prometheus", "alertmanager", "loki", "grafana",
                                 "nixos", "nod", "node", "postgres", "redis"])
        # The client's own port (9999) and its postgres, read from its configuration.
        self.assertEqual(targets(s, "nixos"), {"mon": "127.0.0.1:9971", "web": "10.0.0.2:9999"})
        self.assertEqual(targets(s, "postgres"), {"web": "10.0.0.2:9187"})
        self.assertEqual(targets(s, "node"), {"db": "10.0.0.3:9100", "mon": "127.0.0.1:9100", "web": "10.0.0.2:9100"})
        self.assertEqual(targets(s, "redis"), {"db": "10.0.0.3:9121"})
        self.assertNotIn("off", json.dumps(s["prometheus"]["yml"]))
        db = [sc for sc in job(s, "node")["static_configs"] if sc["labels"]["host"] == "db"][0]
        self.assertEqual(db["labels"], {"host": "db", "site": "attic"})
        y = s["prometheus"]["yml"]
        self.assertEqual(y["global"], {"scrape_interval": "30s", "evaluation_interval": "30s"})
        self.assertEqual(s["prometheus"]["retentionTime"], "90d")
        self.assertEqual(y["alerting"]["alertmanagers"], [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}])
        # Every rule file of rules/ is loaded, nothing else.
        rules_dir = os.path.join(h.SOURCE_DIR, "rules")
        expected = sorted(os.path.join(rules_dir, f) for f in os.listdir(rules_dir)
                          if f.endswith((".yml", ".yaml")) and not f.endswith(("_test.yml", "_test.yaml", ".test.yml"))
                          and os.path.isfile(os.path.join(rules_dir, f))) if os.path.isdir(rules_dir) else []
        self.assertEqual(sorted(y["rule_files"]), expected)

    def test_server_monitors_itself_unless_told_not_to(self):
        s = self.run_modules(SERVER, "{ services.nixmon.monitorSelf = false; }")
        self.assertNotIn("mon", targets(s, "nixos"))

    def test_alertmanager_routes_and_receivers(self):
        s = self.run_modules(SERVER, """{ services.nixmon.alerting = {
          email = { enable = true; to = [ "ops@example.com" ]; from = "am@example.com";
                    smarthost = "smtp.example.com:587"; username = "am"; passwordFile = "/run/secrets/smtp"; };
          homeAssistant = { enable = true; urlFile = "/run/secrets/ha-url"; };
          nextcloudTalk = { enable = true; url = "http://talk-relay.lan/alert"; };
          webhooks.generic = { url = "http://hooks.lan/am"; severities = [ "info" ]; sendResolved = false; };
        }; }""")
        self.assertNoFailures(s)
        am = s["alertmanager"]
        self.assertTrue(am["enable"])
        self.assertEqual(am["listenAddress"], "127.0.0.1")
        c = am["configuration"]
        self.assertEqual(c["route"]["receiver"], "null")
        self.assertEqual([(r["receiver"], r["matchers"], r["repeat_interval"]) for r in c["route"]["routes"]],
                         [("critical", ['severity="critical"'], "5m"), ("warning", ['severity="warning"'], "30m"),
                          ("info", ['severity="info"'], "24h")])
        rx = {r["name"]: r for r in c["receivers"]}
        self.assertEqual(set(rx), {"null", "critical", "warning", "info"})
        self.assertEqual(rx["null"], {"name": "null"})
        ha = {"send_resolved": True, "url_file": "/run/credentials/alertmanager.service/home-assistant"}
        talk = {"send_resolved": True, "url": "http://talk-relay.lan/alert"}
        mail = [{"to": "ops@example.com", "send_resolved": True}]
        self.assertEqual(rx["critical"]["webhook_configs"], [ha, talk])
        self.assertEqual(rx["critical"]["email_configs"], mail)
        self.assertEqual(rx["warning"]["webhook_configs"], [ha])
        self.assertEqual(rx["warning"]["email_configs"], mail)
        self.assertEqual(rx["info"], {"name": "info", "webhook_configs": [{"send_resolved": False, "url": "http://hooks.lan/am"}]})
        self.assertEqual(c["global"]["smtp_auth_password_file"], "/run/credentials/alertmanager.service/smtp-password")
        self.assertEqual(c["global"]["smtp_auth_username"], "am")
        self.assertEqual(s["units"]["alertmanager"]["serviceConfig"]["LoadCredential"],
                         ["smtp-password:/run/secrets/smtp", "home-assistant:/run/secrets/ha-url"])
        self.assertNotIn("/run/secrets", json.dumps(c), "secrets must reach Alertmanager as credentials only")

    def test_alerting_assertions(self):
        cases = {
            "email = { enable = true; };": "services.nixmon.alerting.email needs to, from and smarthost",
            'homeAssistant = { enable = true; };': "services.nixmon.alerting: receiver home-assistant needs exactly one of url and urlFile",
            'webhooks.x = { url = "http://a"; urlFile = "/b"; };': "services.nixmon.alerting: receiver webhook-x needs exactly one of url and urlFile",
        }
        for cfg, message in cases.items():
            with self.subTest(cfg=cfg):
                s = self.run_modules(SERVER, f"{{ services.nixmon.alerting = {{ {cfg} }}; }}")
                self.assertEqual(s["failedAssertions"], [message])

    def test_rule_parameters_need_the_projects_rules_dir(self):
        s = self.run_modules(SERVER, """{ services.nixmon.prometheus = { ruleParameters.cpu_usage_percent = 80;
            rulesDir = /tmp; }; }""")
        self.assertEqual(s["failedAssertions"], ["services.nixmon.prometheus.ruleParameters renders this project's "
                                                 "rules: leave prometheus.rulesDir at its default"])

    def test_grafana_provisioning(self):
        s = self.run_modules(SERVER)
        g = s["grafana"]
        self.assertTrue(g["enable"])
        self.assertEqual({k: g["settings"]["server"][k] for k in ("http_addr", "http_port")},
                         {"http_addr": "0.0.0.0", "http_port": 3000})
        # Without the proxy, domain and root_url keep nixpkgs' defaults.
        self.assertEqual(g["settings"]["server"]["domain"], "localhost")
        self.assertEqual(g["settings"]["security"]["secret_key"], "$__file{/var/lib/grafana/nixmon-secret-key}")
        self.assertEqual(g["settings"]["security"]["admin_password"], "$__file{/var/lib/grafana/nixmon-admin-password}")
        ds = {d["uid"]: d for d in g["provision"]["datasources"]["settings"]["datasources"]}
        self.assertEqual(set(ds), {"prometheus", "loki", "alertmanager"})
        self.assertEqual(ds["prometheus"]["url"], "http://127.0.0.1:9090")
        self.assertTrue(ds["prometheus"]["isDefault"])
        self.assertEqual(ds["loki"]["url"], "http://127.0.0.1:3100")
        self.assertEqual(ds["alertmanager"]["jsonData"], {"implementation": "prometheus"})
        providers = g["provision"]["dashboards"]["settings"]["providers"]
        self.assertEqual(len(providers), 1)
        self.assertEqual(providers[0]["options"]["path"], os.path.join(h.SOURCE_DIR, "dashboards"))
        self.assertEqual(providers[0]["folder"], "nixmon")
        pre = s["units"]["grafana"]["preStart"]
        self.assertIn("/var/lib/grafana/nixmon-admin-password", pre)
        self.assertIn("/var/lib/grafana/nixmon-secret-key", pre)
        # Given files are used as they are, nothing generated.
        s = self.run_modules(SERVER, """{ services.nixmon.grafana = { adminPasswordFile = "/run/secrets/gp";
            secretKeyFile = "/run/secrets/gk"; dashboardsDir = null; }; }""")
        self.assertEqual(s["grafana"]["settings"]["security"]["admin_password"], "$__file{/run/secrets/gp}")
        self.assertEqual(s["units"]["grafana"]["preStart"], "")
        self.assertEqual(s["grafana"]["provision"]["dashboards"]["settings"]["providers"], [])

    def test_loki_retention_and_firewall_towards_the_fleet(self):
        s = self.run_modules(SERVER, '{ services.nixmon.retention = { logs = "30d"; metrics = "400d"; }; }')
        cfg = s["loki"]["configuration"]
        self.assertEqual(cfg["limits_config"]["retention_period"], "30d")
        self.assertTrue(cfg["compactor"]["retention_enabled"])
        self.assertEqual(cfg["server"]["http_listen_port"], 3100)
        self.assertEqual(s["prometheus"]["retentionTime"], "400d")
        self.assertEqual(sorted(s["firewall"]["extraCommands"].splitlines()),
                         [f"iptables -A nixos-fw -p tcp -s {a} --dport 3100 -j nixos-fw-accept"
                          for a in ("10.0.0.2", "10.0.0.3")])
        # The server itself shows its UIs to nobody by default.
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])

    def test_proxy_with_tls(self):
        s = self.run_modules(SERVER, """{ services.nixmon.proxy = { enable = true; domain = "mon.example.com";
            useACMEHost = "example.com"; basicAuthFile = "/run/secrets/htpasswd"; }; }""")
        self.assertNoFailures(s)
        vh = s["nginx"]["virtualHosts"]["mon.example.com"]
        self.assertTrue(vh["forceSSL"])
        self.assertFalse(vh["enableACME"])
        self.assertEqual(vh["useACMEHost"], "example.com")
        self.assertNotIn("sslCertificate", vh)  # nginx's option takes no null
        self.assertEqual(vh["locations"]["/"]["proxyPass"], "http://127.0.0.1:3000")
        loc = vh["locations"]["/prometheus/"]
        self.assertEqual((loc["proxyPass"], loc["basicAuthFile"]), ("http://127.0.0.1:9090", "/run/secrets/htpasswd"))
        self.assertIn("/alertmanager/", vh["locations"])
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [80, 443])
        self.assertEqual(s["prometheus"]["listenAddress"], "127.0.0.1")
        self.assertEqual(s["prometheus"]["webExternalUrl"], "https://mon.example.com/prometheus/")
        self.assertEqual(job(s, "prometheus")["metrics_path"], "/prometheus/metrics")
        self.assertEqual(s["grafana"]["settings"]["server"]["root_url"], "https://mon.example.com/")
        self.assertEqual(s["grafana"]["settings"]["server"]["http_addr"], "127.0.0.1")
        ds = {d["uid"]: d for d in s["grafana"]["provision"]["datasources"]["settings"]["datasources"]}
        self.assertEqual(ds["prometheus"]["url"], "http://127.0.0.1:9090/prometheus")
        self.assertEqual(s["prometheus"]["yml"]["alerting"]["alertmanagers"][0]["path_prefix"], "/alertmanager")
        # Without a password file Prometheus and Alertmanager stay off the proxy.
        s = self.run_modules(SERVER, '{ services.nixmon.proxy = { enable = true; domain = "m.example.com"; }; }')
        self.assertEqual(list(s["nginx"]["virtualHosts"]["m.example.com"]["locations"]), ["/"])
        self.assertTrue(s["nginx"]["virtualHosts"]["m.example.com"]["enableACME"])

    def test_proxy_assertions(self):
        s = self.run_modules(SERVER, "{ services.nixmon.proxy.enable = true; }")
        self.assertEqual(s["failedAssertions"], ["services.nixmon.proxy.domain must be set when the proxy is enabled"])
        s = self.run_modules(SERVER, '{ services.nixmon.proxy = { enable = true; domain = "a.b"; enableACME = false; }; }')
        self.assertEqual(s["failedAssertions"],
                         ["services.nixmon.proxy needs TLS: enableACME, useACMEHost, or sslCertificate and sslCertificateKey"])

    def test_remote_write(self):
        s = self.run_modules(SERVER, """{ services.nixmon = {
          remoteWrite = [
            { url = "http://vm.lan:8428/api/v1/write"; }
            { url = "https://mimir.lan/api/v1/push"; name = "mimir"; basicAuth = { username = "u"; passwordFile = "/run/secrets/mimir"; };
              queueConfig.max_samples_per_send = 5000; }
            { url = "http://receive.lan:19291/api/v1/receive"; bearerTokenFile = "/run/secrets/thanos"; }
          ];
          victoriametrics = { enable = true; retention = "2y"; };
        }; }""")
        self.assertNoFailures(s)
        self.assertEqual(s["prometheus"]["yml"]["remote_write"], [
            {"url": "http://vm.lan:8428/api/v1/write"},
            {"url": "https://mimir.lan/api/v1/push", "name": "mimir",
             "basic_auth": {"username": "u", "password_file": "/run/secrets/mimir"},
             "queue_config": {"max_samples_per_send": 5000}},
            {"url": "http://receive.lan:19291/api/v1/receive", "bearer_token_file": "/run/secrets/thanos"},
            {"url": "http://127.0.0.1:8428/api/v1/write", "name": "victoriametrics"},
        ])
        # promtool cannot see credential files in the build sandbox.
        self.assertEqual(s["prometheus"]["checkConfig"], "syntax-only")
        self.assertEqual(s["victoriametrics"], {"enable": True, "listenAddress": "127.0.0.1:8428", "retentionPeriod": "2y"})
        self.assertIn("victoriametrics", [d["uid"] for d in s["grafana"]["provision"]["datasources"]["settings"]["datasources"]])
        s = self.run_modules(SERVER, """{ services.nixmon.remoteWrite = [ { url = "http://x";
            basicAuth.username = "u"; bearerTokenFile = "/t"; } ]; }""")
        self.assertEqual(s["failedAssertions"], ["services.nixmon.remoteWrite http://x: set basicAuth or bearerTokenFile, not both"])


# Values for every option of services.nixmon (server role).
EVERY_STACK_OPTION = """{
  networking.hostName = "mon";
  services.nixmon = {
    enable = true;
    role = "server";
    address = "10.0.0.1";
    labels.site = "home";
    server = { address = "10.0.0.1"; allowedSources = [ "10.0.0.0/24" ]; };
    hosts.db = { address = "10.0.0.3"; targets.node = 9100; labels.rack = "2"; };
    nixosConfigurations = { web = h.eval [ CLIENT ]; };
    monitorSelf = true;
    scrapeInterval = "15s";
    retention = { metrics = "30d"; logs = "14d"; };
    exporters = {
      node.enable = true; nixos.enable = true; nod.enable = true; postgres.enable = true;
      redis.enable = true; nginx.enable = true; caddy = { enable = true; port = 9181; configure = "settings"; };
      cadvisor.enable = true;
    };
    logs.enable = true;
    prometheus = { port = 9091; rulesDir = RULES; extraRuleFiles = [ EXTRA_RULES ]; extraScrapeConfigs = [ { job_name = "extra"; static_configs = [ { targets = [ "127.0.0.1:1234" ]; } ]; } ]; };
    remoteWrite = [ { url = "http://vm.lan:8428/api/v1/write"; name = "vm"; basicAuth = { username = "u"; passwordFile = "/run/secrets/vm"; }; bearerTokenFile = null; queueConfig = { }; } ];
    victoriametrics = { enable = true; port = 8429; retention = "2y"; };
    alerting = {
      enable = true; port = 9094;
      email = { enable = true; to = [ "ops@example.com" ]; from = "am@example.com"; smarthost = "smtp.example.com:587";
                username = "am"; passwordFile = "/run/secrets/smtp"; requireTLS = false; severities = [ "critical" ]; };
      homeAssistant = { enable = true; url = null; urlFile = "/run/secrets/ha"; severities = [ "warning" ]; sendResolved = false; };
      nextcloudTalk = { enable = true; url = "http://relay.lan/talk"; urlFile = null; severities = [ "critical" "warning" ]; sendResolved = false; };
      webhooks.generic = { url = "http://hooks.lan/"; urlFile = null; severities = [ "info" ]; sendResolved = true; };
      extraReceivers = [ { name = "db-team"; webhook_configs = [ { url = "http://hooks.lan/db"; } ]; } ];
      extraRoutes = [ { receiver = "db-team"; matchers = [ "team=\\"db\\"" ]; } ];
      extraInhibitRules = [ { source_matchers = [ "alertname=\\"HostDown\\"" ]; target_matchers = [ "severity=\\"warning\\"" ]; equal = [ "host" ]; } ];
    };
    grafana = { enable = true; port = 3001; openFirewall = true; adminPasswordFile = "/run/secrets/gp"; secretKeyFile = "/run/secrets/gk"; dashboardsDir = "/var/lib/nixmon-dashboards";
      oidc = { enable = true; name = "Kanidm"; clientId = "grafana"; clientSecretFile = "/run/secrets/oidc"; scopes = [ "openid" "groups" ];
               authUrl = "https://idm.example.com/ui/oauth2"; tokenUrl = "https://idm.example.com/oauth2/token";
               apiUrl = "https://idm.example.com/oauth2/openid/grafana/userinfo";
               roleAttributePath = "contains(groups[*], 'admins') && 'GrafanaAdmin' || 'Viewer'"; roleAttributeStrict = true;
               allowAssignGrafanaAdmin = true; allowSignUp = false; usePkce = false; disableLoginForm = true; }; };
    proxmox = { enable = true; targets = [ "10.0.0.9" ]; environmentFile = "/run/secrets/pve.env"; configFile = null; module = "monitoring"; };
    loki = { enable = true; port = 3101; allowedSources = [ "10.0.0.0/24" ]; };
    proxy = { enable = true; domain = "mon.example.com"; enableACME = false; useACMEHost = null;
              sslCertificate = "/run/secrets/cert.pem"; sslCertificateKey = "/run/secrets/key.pem"; basicAuthFile = "/run/secrets/htpasswd"; };
    cli = { package = { type = "derivation"; name = "nixmon-mine"; outPath = "/nix/store/44444444444444444444444444444444-nixmon-mine"; };
            reload = true; };
  };
}""".replace("CLIENT", CLIENT)


class NixmonCli(Base):
    """services.nixmon.cli (nix/modules/nixmon/cli.nix): nixmon on the server's PATH with its URLs,
    and Prometheus' lifecycle API only where no other machine reaches it."""

    PROXY = """{ services.nixmon.proxy = { enable = true; domain = "mon.example.com";
        useACMEHost = "example.com"; basicAuthFile = "/run/secrets/htpasswd"; }; }"""

    def test_server_gets_nixmon_with_its_urls_and_no_lifecycle_on_all_addresses(self):
        s = self.run_modules(SERVER)
        self.assertNoFailures(s)
        self.assertIn("nixmon-0.1.0", s["systemPackages"])
        self.assertEqual(s["sessionVariables"]["NIXMON_PROMETHEUS_URL"], "http://127.0.0.1:9090")
        self.assertEqual(s["sessionVariables"]["NIXMON_ALERTMANAGER_URL"], "http://127.0.0.1:9093")
        # Prometheus listens on 0.0.0.0 without the proxy: /-/reload and /-/quit stay closed.
        self.assertEqual(s["prometheus"]["listenAddress"], "0.0.0.0")
        self.assertNotIn("--web.enable-lifecycle", s["prometheus"]["extraFlags"])
        self.assertEqual([w for w in s["warnings"] if "cli.reload" in w], [])

    def test_lifecycle_on_loopback_behind_the_proxy_and_closed_on_the_proxy(self):
        s = self.run_modules(SERVER, self.PROXY)
        self.assertNoFailures(s)
        self.assertEqual(s["prometheus"]["listenAddress"], "127.0.0.1")
        self.assertEqual(s["prometheus"]["extraFlags"], ["--web.enable-lifecycle"])
        self.assertEqual(s["sessionVariables"]["NIXMON_PROMETHEUS_URL"], "http://127.0.0.1:9090/prometheus")
        self.assertEqual(s["sessionVariables"]["NIXMON_ALERTMANAGER_URL"], "http://127.0.0.1:9093/alertmanager")
        locations = s["nginx"]["virtualHosts"]["mon.example.com"]["locations"]
        self.assertEqual(locations["/prometheus/"]["proxyPass"], "http://127.0.0.1:9090")
        self.assertEqual(self.answered_403(locations), {
            "/prometheus/-/reload", "/prometheus/-/quit", "/prometheus/-/Reload/", "/prometheus/-/quit?x=1",
            "/alertmanager/-/reload", "/alertmanager/-/quit"})

    PROBES = ["/prometheus/-/reload", "/prometheus/-/quit", "/prometheus/-/Reload/", "/prometheus/-/quit?x=1",
              "/prometheus/-/healthy", "/prometheus/-/ready", "/prometheus/api/v1/query",
              "/alertmanager/-/reload", "/alertmanager/-/quit", "/alertmanager/-/healthy", "/alertmanager/-/ready",
              "/alertmanager/api/v2/alerts", "/-/reload"]

    def answered_403(self, locations):
        """Which PROBES the proxy answers 403 itself, by nginx's matching (the URI as nginx sees it
        after decoding and merging slashes, without the query): a regular-expression location
        (`~` case-sensitive, `~*` not) wins over plain prefixes, an exact one (`= `) over all; the
        lifecycle endpoints must be blocked, the health checks outside monitors ask must not."""
        def match(uri):
            exact = [loc for name, loc in locations.items() if name == "= " + uri]
            if exact:
                return exact[0]
            prefixes = sorted(((name.removeprefix("^~ "), loc) for name, loc in locations.items()
                               if name[0] not in "=~@" and uri.startswith(name.removeprefix("^~ "))),
                              key=lambda p: len(p[0]))
            longest = prefixes[-1][1] if prefixes else None
            if prefixes and any(name == "^~ " + prefixes[-1][0] for name in locations):
                return longest
            for name, loc in locations.items():
                if ((name.startswith("~* ") and re.search(name[3:], uri, re.I))
                        or (name.startswith("~ ") and re.search(name[2:], uri))):
                    return loc
            return longest

        return {p for p in self.PROBES if (match(p.split("?")[0]) or {}).get("return") == "403"}

    def test_health_checks_stay_open_through_the_proxy_without_alertmanager(self):
        s = self.run_modules(SERVER, self.PROXY, "{ services.nixmon.alerting.enable = false; }")
        self.assertNoFailures(s)
        locations = s["nginx"]["virtualHosts"]["mon.example.com"]["locations"]
        self.assertNotIn("/alertmanager/", locations)
        self.assertEqual(self.answered_403(locations), {
            "/prometheus/-/reload", "/prometheus/-/quit", "/prometheus/-/Reload/", "/prometheus/-/quit?x=1"})

    def test_reload_asked_for_on_all_addresses_warns_and_stays_off(self):
        s = self.run_modules(SERVER, "{ services.nixmon.cli.reload = true; }")
        self.assertNoFailures(s)
        self.assertNotIn("--web.enable-lifecycle", s["prometheus"]["extraFlags"])
        self.assertEqual(len([w for w in s["warnings"] if w.startswith("services.nixmon.cli.reload: Prometheus listens on 0.0.0.0")]), 1)
        s = self.run_modules(SERVER, self.PROXY, "{ services.nixmon.cli.reload = false; }")
        self.assertEqual(s["prometheus"]["extraFlags"], [])

    def test_clients_and_a_switched_off_cli_get_nothing(self):
        # (nod's module puts the package on every host's PATH for `nod`: told apart by its own.)
        mine = """{ services.nixmon.cli.package = { type = "derivation"; name = "nixmon-mine";
            outPath = "/nix/store/44444444444444444444444444444444-nixmon-mine"; }; }"""
        for modules in ((CLIENT, mine), (SERVER, mine, "{ services.nixmon.cli.enable = false; }")):
            s = self.run_modules(*modules)
            self.assertNoFailures(s)
            self.assertNotIn("nixmon-mine", s["systemPackages"])
            self.assertNotIn("NIXMON_PROMETHEUS_URL", s["sessionVariables"])
            self.assertNotIn("--web.enable-lifecycle", s["prometheus"]["extraFlags"])

    def test_own_package(self):
        s = self.run_modules(SERVER, """{ services.nixmon.cli.package = { type = "derivation"; name = "nixmon-mine";
            outPath = "/nix/store/44444444444444444444444444444444-nixmon-mine"; }; }""")
        self.assertIn("nixmon-mine", s["systemPackages"])


class EveryOption(Base):
    def every(self):
        fixtures = os.path.join(h.SOURCE_DIR, "tests", "nix", "fixtures")
        return (EVERY_STACK_OPTION.replace("EXTRA_RULES", n.path(os.path.join(fixtures, "extra-rules.yml")))
                .replace("RULES", n.path(os.path.join(fixtures, "rules"))))

    def test_every_stack_option_set_evaluates(self):
        s = self.run_modules(self.every())
        self.assertNoFailures(s)
        self.assertEqual(targets(s, "caddy"), {"mon": "127.0.0.1:9181"})
        # nixpkgs' static_config defaults its labels to {}.
        self.assertEqual(job(s, "extra")["static_configs"], [{"labels": {}, "targets": ["127.0.0.1:1234"]}])
        self.assertEqual(job(s, "prometheus")["static_configs"][0]["targets"], ["127.0.0.1:9091"])
        self.assertEqual(s["prometheus"]["yml"]["global"]["scrape_interval"], "15s")
        vh = s["nginx"]["virtualHosts"]["mon.example.com"]
        self.assertEqual((vh["sslCertificate"], vh["enableACME"]), ("/run/secrets/cert.pem", False))

    def test_the_every_option_test_really_sets_every_option(self):
        # Guards the test above: a new option must be added to it. Those listed keep their default
        # there because it is the only sensible value for a server; other tests switch them.
        self.assertEqual(self.options_left_at_default("nixmon/", self.every()), [
            "services.nixmon.alerting.enable",
            # url and urlFile exclude each other: each receiver sets one.
            "services.nixmon.alerting.homeAssistant.url",
            "services.nixmon.alerting.nextcloudTalk.urlFile",
            "services.nixmon.cli.enable",
            "services.nixmon.exporters.nixos.enable",
            "services.nixmon.exporters.nod.enable",
            "services.nixmon.exporters.node.enable",
            "services.nixmon.grafana.enable",
            "services.nixmon.logs.enable",
            "services.nixmon.loki.enable",
            "services.nixmon.monitorSelf",
            # Renders this project's rules, so it excludes the rulesDir set there (see
            # test_nix_configs.test_rule_parameters_render_the_projects_rules).
            "services.nixmon.prometheus.ruleParameters",
            # Exclusive with proxmox.environmentFile, which is set (ProxmoxExporter tests it).
            "services.nixmon.proxmox.configFile",
            # Excludes sslCertificate, which is set.
            "services.nixmon.proxy.useACMEHost",
        ])


CADVISOR_CLIENT = CLIENT.rstrip().rstrip("}") + "  services.nixmon.exporters.cadvisor.enable = true;\n}"

PROXMOX = """{ services.nixmon.proxmox = { enable = true; targets = [ "pve1.lan" "10.0.0.5:8006" ];
  environmentFile = "/run/secrets/pve.env"; }; }"""

OIDC = """{ services.nixmon = { proxy = { enable = true; domain = "mon.example.com"; };
  grafana.oidc = { enable = true; name = "Kanidm"; clientId = "grafana"; clientSecretFile = "/run/secrets/grafana-oidc";
    authUrl = "https://idm.example.com/ui/oauth2"; tokenUrl = "https://idm.example.com/oauth2/token";
    apiUrl = "https://idm.example.com/oauth2/openid/grafana/userinfo";
    roleAttributePath = "contains(groups[*], 'grafana_admins@idm.example.com') && 'Admin' || 'Viewer'"; }; }; }"""


class Cadvisor(Base):
    def test_every_cgroup_on_every_address_towards_the_server_only(self):
        s = self.run_modules(CADVISOR_CLIENT)
        self.assertNoFailures(s)
        c = s["cadvisor"]
        self.assertTrue(c["enable"])
        # systemd services are cgroups too: cAdvisor must not keep to Docker's containers.
        self.assertIn("--docker_only=false", c["extraOptions"])
        self.assertEqual((c["listenAddress"], c["port"]), ("0.0.0.0", 8080))
        self.assertEqual(s["exposedTargets"]["cadvisor"], 8080)
        self.assertIn("iptables -A nixos-fw -p tcp -s 10.0.0.1 --dport 8080 -j nixos-fw-accept",
                      s["firewall"]["extraCommands"].splitlines())
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])

    def test_its_port_is_nixpkgs_option(self):
        s = self.run_modules(CADVISOR_CLIENT, "{ services.cadvisor.port = 9338; }")
        self.assertEqual(s["exposedTargets"]["cadvisor"], 9338)

    def test_off_by_default(self):
        s = self.run_modules(CLIENT)
        self.assertFalse(s["cadvisor"]["enable"])
        self.assertEqual(s["cadvisor"]["extraOptions"], [])
        self.assertNotIn("cadvisor", s["exposedTargets"])

    def test_the_server_scrapes_it_on_every_host_that_runs_it(self):
        s = self.run_modules(SERVER.replace("web = h.eval [ CLIENT ]".replace("CLIENT", CLIENT),
                                            "web = h.eval [ CADVISOR_CLIENT ]".replace("CADVISOR_CLIENT", CADVISOR_CLIENT)),
                             "{ services.nixmon.exporters.cadvisor.enable = true; }")
        self.assertNoFailures(s)
        self.assertEqual(targets(s, "cadvisor"), {"mon": "127.0.0.1:8080", "web": "10.0.0.2:8080"})
        self.assertEqual(job(s, "cadvisor")["static_configs"][0]["labels"]["host"], "mon")


class ProxmoxExporter(Base):
    def test_exporter_on_loopback_and_the_multi_target_job(self):
        s = self.run_modules(SERVER, PROXMOX)
        self.assertNoFailures(s)
        e = s["exporters"]["pve"]
        self.assertTrue(e["enable"])
        self.assertEqual((e["listenAddress"], e["port"]), ("127.0.0.1", 9221))
        # Credentials as a file reference only: nothing of the token in the configuration.
        self.assertEqual(e["environmentFile"], "/run/secrets/pve.env")
        self.assertNotIn("configFile", e)
        j = job(s, "pve")
        self.assertEqual(j["metrics_path"], "/pve")
        self.assertEqual(j["params"], {"cluster": ["1"], "node": ["1"]})
        self.assertEqual(j["static_configs"], [{"labels": {}, "targets": ["pve1.lan", "10.0.0.5:8006"]}])
        self.assertEqual(j["relabel_configs"], [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": "127.0.0.1:9221"},
        ])
        # Nothing opened: only this server's Prometheus asks the exporter.
        self.assertNotIn("9221", s["firewall"]["extraCommands"] + s["firewall"]["extraInputRules"])
        self.assertEqual(s["firewall"]["allowedTCPPorts"], [])

    def test_config_file_and_module(self):
        s = self.run_modules(SERVER, """{ services.nixmon.proxmox = { enable = true; targets = [ "pve1.lan" ];
          configFile = "/run/secrets/pve.yml"; module = "monitoring"; };
          services.prometheus.exporters.pve.port = 9300; }""")
        self.assertNoFailures(s)
        self.assertEqual(s["exporters"]["pve"]["configFile"], "/run/secrets/pve.yml")
        j = job(s, "pve")
        self.assertEqual(j["params"]["module"], ["monitoring"])
        self.assertEqual(j["relabel_configs"][2]["replacement"], "127.0.0.1:9300")

    def test_off_by_default_and_on_clients(self):
        s = self.run_modules(SERVER)
        self.assertFalse(s["exporters"]["pve"]["enable"])
        self.assertIsNone(job(s, "pve"))
        s = self.run_modules(CLIENT, PROXMOX)
        self.assertFalse(s["exporters"]["pve"]["enable"])

    def test_assertions(self):
        cases = {
            'targets = [ "a" ];': "services.nixmon.proxmox needs the exporter's credentials: environmentFile or configFile",
            'targets = [ "a" ]; environmentFile = "/run/secrets/e"; configFile = "/run/secrets/c";':
                "services.nixmon.proxmox: set environmentFile or configFile, not both (the exporter would ignore configFile)",
            'targets = [ "a" ]; configFile = "/nix/store/00000000000000000000000000000000-pve.yml";':
                "services.nixmon.proxmox: the credentials file must be an absolute path outside the Nix store "
                "(/nix/store/00000000000000000000000000000000-pve.yml)",
            'targets = [ "a" ]; environmentFile = "secrets/pve.env";':
                "services.nixmon.proxmox: the credentials file must be an absolute path outside the Nix store (secrets/pve.env)",
            'environmentFile = "/run/secrets/e";': "services.nixmon.proxmox.targets: name at least one Proxmox VE node",
        }
        for cfg, message in cases.items():
            with self.subTest(cfg=cfg):
                s = self.run_modules(SERVER, f"{{ services.nixmon.proxmox = {{ enable = true; {cfg} }}; }}")
                self.assertEqual(s["failedAssertions"], [message])


class GrafanaSignOn(Base):
    def test_generic_oauth_with_the_secret_from_a_file(self):
        s = self.run_modules(SERVER, OIDC)
        self.assertNoFailures(s)
        st = s["grafana"]["settings"]
        self.assertEqual(st["auth.generic_oauth"], {
            "enabled": True, "name": "Kanidm", "client_id": "grafana",
            "client_secret": "$__file{/run/secrets/grafana-oidc}",
            "scopes": "openid profile email",
            "auth_url": "https://idm.example.com/ui/oauth2", "token_url": "https://idm.example.com/oauth2/token",
            "api_url": "https://idm.example.com/oauth2/openid/grafana/userinfo",
            "role_attribute_path": "contains(groups[*], 'grafana_admins@idm.example.com') && 'Admin' || 'Viewer'",
            "role_attribute_strict": False, "allow_assign_grafana_admin": False, "allow_sign_up": True, "use_pkce": True,
        })
        # The login form stays unless asked; Grafana's own sign-up stays off (nixpkgs' default).
        self.assertNotIn("auth", st)
        self.assertFalse(st["users"]["allow_sign_up"])

    def test_login_form_off_and_no_sign_up(self):
        s = self.run_modules(SERVER, OIDC, """{ services.nixmon.grafana.oidc = { disableLoginForm = true; allowSignUp = false;
          roleAttributeStrict = true; scopes = [ "openid" "groups" ]; }; }""")
        self.assertNoFailures(s)
        st = s["grafana"]["settings"]
        self.assertEqual(st["auth"], {"disable_login_form": True})
        self.assertFalse(st["auth.generic_oauth"]["allow_sign_up"])
        self.assertTrue(st["auth.generic_oauth"]["role_attribute_strict"])
        self.assertEqual(st["auth.generic_oauth"]["scopes"], "openid groups")

    def test_off_by_default(self):
        st = self.run_modules(SERVER)["grafana"]["settings"]
        self.assertNotIn("auth.generic_oauth", st)
        self.assertNotIn("auth", st)

    def test_root_url_of_ones_own_is_enough(self):
        s = self.run_modules(SERVER, OIDC.replace('proxy = { enable = true; domain = "mon.example.com"; };', ""),
                             '{ services.grafana.settings.server.root_url = "https://grafana.example.com/"; }')
        self.assertNoFailures(s)

    def test_assertions(self):
        no_proxy = OIDC.replace('proxy = { enable = true; domain = "mon.example.com"; };', "")
        cases = [
            (['{ services.nixmon.grafana.oidc.enable = true; services.nixmon.proxy = { enable = true; domain = "m.example.com"; }; }'],
             ["services.nixmon.grafana.oidc needs clientId and clientSecretFile",
              "services.nixmon.grafana.oidc needs the provider's authUrl, tokenUrl and apiUrl (Grafana's generic OAuth does not discover them)"]),
            ([OIDC, '{ services.nixmon.grafana.oidc.clientSecretFile = lib.mkForce "/nix/store/00000000000000000000000000000000-secret"; }'],
             ["services.nixmon.grafana.oidc.clientSecretFile must be an absolute path outside the Nix store"]),
            (['{ services.nixmon.grafana.oidc.disableLoginForm = true; }'],
             ["services.nixmon.grafana.oidc.disableLoginForm without oidc.enable leaves no way to log in"]),
            ([OIDC, '{ services.nixmon.grafana.oidc = { roleAttributePath = lib.mkForce null; roleAttributeStrict = true; }; }'],
             ["services.nixmon.grafana.oidc.roleAttributeStrict without roleAttributePath refuses every login"]),
            ([OIDC, '{ services.nixmon.grafana.oidc = { roleAttributePath = lib.mkForce null; allowAssignGrafanaAdmin = true; }; }'],
             ["services.nixmon.grafana.oidc.allowAssignGrafanaAdmin needs roleAttributePath (the only way to yield GrafanaAdmin)"]),
            ([no_proxy],
             ["services.nixmon.grafana.oidc: the provider redirects back to Grafana's root_url, which names localhost; "
              "enable services.nixmon.proxy or set services.grafana.settings.server.domain or root_url"]),
        ]
        for modules, messages in cases:
            with self.subTest(modules=modules):
                self.assertEqual(sorted(self.run_modules(SERVER, *modules)["failedAssertions"]), sorted(messages))


class StackOnNixpkgsTypes(Base):
    """services.nixmon against what nixpkgs' own modules declare and do (the types in
    tests/nix/stubs.nix): each test names the nixpkgs module whose behaviour it is about."""

    def fails(self, *modules):
        return self.run_modules(*modules)["failedAssertions"]

    # -- firewall (networking/nftables.nix checks the ruleset at build time, without DNS) -------
    def test_host_names_never_reach_firewall_rules(self):
        by_name = """{ services.nixmon.hosts = { cam.address = "cam.lan"; nas = { address = "10.0.0.9"; targets.node = 9100; }; }; }"""
        for nft in ("false", "true"):
            with self.subTest(nftables=nft):
                s = self.run_modules(SERVER, by_name, f"{{ networking.nftables.enable = {nft}; }}")
                self.assertNoFailures(s)
                rules = s["firewall"]["extraInputRules"] + s["firewall"]["extraCommands"]
                self.assertNotIn("cam.lan", rules)
                self.assertIn("10.0.0.2", rules)
                self.assertIn("10.0.0.9", rules)
                self.assertEqual(len(s["warnings"]), 1)
                self.assertIn("cam (cam.lan) addressed by name", s["warnings"][0])
                # Scraping by name is fine: Prometheus resolves at every scrape.
                self.assertEqual(targets(s, "node")["cam"], "cam.lan:9100")
        s = self.run_modules(SERVER, by_name, '{ services.nixmon.loki.allowedSources = [ "10.0.0.0/24" ]; }')
        self.assertEqual(sorted(s["firewall"]["extraCommands"].splitlines()),
                         ["iptables -A nixos-fw -p tcp -s 10.0.0.0/24 --dport 3100 -j nixos-fw-accept"])

    def test_names_given_as_firewall_sources_are_refused(self):
        self.assertEqual(self.fails(CLIENT, '{ services.nixmon.server.allowedSources = [ "10.0.0.0/24" "mon.lan" "10.0.0.300" ]; }'),
                         ["services.nixmon.server.allowedSources: mon.lan, 10.0.0.300 is not an IP address or CIDR; firewall "
                          "rules need one (a host name would be resolved once, at load, and fails nixpkgs' nftables ruleset check)"])
        self.assertEqual(self.fails(SERVER, '{ services.nixmon.loki.allowedSources = [ "web" ]; }'),
                         ["services.nixmon.loki.allowedSources: web is not an IP address or CIDR; firewall rules need one"])
        # A server known by name: logs still go there, nobody is let in by name, and it is said.
        s = self.run_modules('{ services.nixmon = { enable = true; server.address = "mon.lan"; }; }')
        self.assertNoFailures(s)
        self.assertEqual(s["firewall"]["extraCommands"], "")
        self.assertIn("mon.lan is a host name", s["warnings"][0])
        self.assertIn('url = "http://mon.lan:3100/loki/api/v1/push"', s["etc"]["alloy/nixmon.alloy"])
        s = self.run_modules('{ services.nixmon = { enable = true; server.address = "fd00::1"; server.allowedSources = [ "fd00::/64" ]; }; }')
        self.assertNoFailures(s)

    # -- alerting (alertmanager.nix: configuration is nullOr attrs, and goes through envsubst) ---
    def test_users_receivers_and_routes_compose_with_nixmons(self):
        s = self.run_modules(SERVER, r"""{ services.nixmon.alerting = {
            extraReceivers = [ { name = "db-team"; webhook_configs = [ { url = "http://hooks.lan/db?token=$abc"; } ]; } ];
            extraRoutes = [ { receiver = "db-team"; matchers = [ "team=\"db\"" ]; continue = true; } ];
            webhooks.x.url = "http://hooks.lan/x?a=$b";
          }; }""")
        self.assertNoFailures(s)
        c = s["alertmanager"]["configuration"]
        self.assertEqual([r["name"] for r in c["receivers"]], ["null", "critical", "warning", "info", "db-team"])
        self.assertEqual(c["route"]["routes"][0], {"receiver": "db-team", "matchers": ['team="db"'], "continue": True})
        self.assertEqual([r["receiver"] for r in c["route"]["routes"][1:]], ["critical", "warning", "info"])
        # envsubst would eat "$abc": written "$$abc", it reaches Alertmanager as given.
        self.assertEqual(c["receivers"][4]["webhook_configs"][0]["url"], "http://hooks.lan/db?token=$$abc")
        self.assertEqual(c["receivers"][1]["webhook_configs"][0]["url"], "http://hooks.lan/x?a=$$b")

    def test_a_configuration_of_ones_own_is_refused_where_it_would_be_lost(self):
        for user in ('{ receivers = [ { name = "mine"; } ]; }', '{ route.receiver = "mine"; }',
                     'lib.mkForce { receivers = [ { name = "mine"; } ]; }'):
            with self.subTest(user=user):
                f = self.fails(SERVER, f"{{ lib, ... }}: {{ services.prometheus.alertmanager.configuration = {user}; }}")
                self.assertEqual(len(f), 1, f)
                self.assertIn("services.prometheus.alertmanager.configuration is also set in", f[0])
                self.assertIn("extraReceivers", f[0])
        # Keys nixmon does not write merge fine.
        s = self.run_modules(SERVER, '{ services.prometheus.alertmanager.configuration.templates = [ "/etc/am/*.tmpl" ]; }')
        self.assertNoFailures(s)
        self.assertEqual(s["alertmanager"]["configuration"]["templates"], ["/etc/am/*.tmpl"])
        self.assertEqual(len(s["alertmanager"]["configuration"]["receivers"]), 4)

    # -- prometheus/default.nix: scrape_config and queue_config are closed submodules -----------
    def test_extra_scrape_configs_take_nixpkgs_keys_and_name_the_bad_one_at_nixmons_option(self):
        s = self.run_modules(SERVER, r"""{ services.nixmon.prometheus.extraScrapeConfigs = [ {
            job_name = "router"; honor_labels = true; scrape_interval = "1m";
            static_configs = [ { targets = [ "192.168.1.1:9100" ]; labels.site = "home"; } ];
            metric_relabel_configs = [ { source_labels = [ "__name__" ]; regex = "go_.*"; action = "drop"; } ];
          } ]; }""")
        self.assertNoFailures(s)
        self.assertEqual(job(s, "router"), {
            "job_name": "router", "honor_labels": True, "scrape_interval": "1m",
            "static_configs": [{"targets": ["192.168.1.1:9100"], "labels": {"site": "home"}}],
            "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"}]})
        with self.assertRaises(n.EvalError) as e:
            self.run_modules(SERVER, '{ services.nixmon.prometheus.extraScrapeConfigs = [ { job_name = "x"; follow_redirects = false; } ]; }')
        self.assertIn("services.nixmon.prometheus.extraScrapeConfigs", str(e.exception))
        self.assertIn("follow_redirects", str(e.exception))

    def test_queue_config_takes_nixpkgs_keys(self):
        s = self.run_modules(SERVER, """{ services.nixmon.remoteWrite = [ { url = "http://vm.lan/api/v1/write";
            queueConfig = { capacity = 20000; max_shards = 8; batch_send_deadline = "10s"; }; } ]; }""")
        self.assertNoFailures(s)
        self.assertEqual(s["prometheus"]["yml"]["remote_write"][0]["queue_config"],
                         {"capacity": 20000, "max_shards": 8, "batch_send_deadline": "10s"})
        with self.assertRaises(n.EvalError) as e:
            self.run_modules(SERVER, """{ services.nixmon.remoteWrite = [ { url = "http://vm.lan/";
                queueConfig.sample_age_limit = "1h"; } ]; }""")
        self.assertIn("services.nixmon.remoteWrite", str(e.exception))
        self.assertIn("sample_age_limit", str(e.exception))

    def test_a_remote_write_password_needs_a_user(self):
        self.assertEqual(self.fails(SERVER, """{ services.nixmon.remoteWrite = [ { url = "http://x";
            basicAuth.passwordFile = "/run/secrets/p"; } ]; }"""),
            ["services.nixmon.remoteWrite http://x: basicAuth.passwordFile needs basicAuth.username"])

    # -- alloy.nix: configPath, one namespace of component names, reloads for config.alloy only --
    def components(self, text):
        return set(re.findall(r'^\s*([a-z_.]+) "([^"]+)" \{', text, re.M))

    def test_alloy_components_cannot_clash_with_a_users(self):
        s = self.run_modules(CLIENT)
        ours = self.components(s["etc"]["alloy/nixmon.alloy"])
        self.assertEqual({c for c, _ in ours}, {"loki.relabel", "loki.source.journal", "loki.write"})
        users = self.components('loki.relabel "journal" {\n}\nloki.source.journal "journal" {\n}\nloki.write "default" {\n}\n')
        self.assertEqual(ours & users, set())
        self.assertTrue(all(label.startswith("nixmon") for _, label in ours), ours)

    def test_alloy_reloads_when_nixmons_file_changes(self):
        a = self.run_modules(CLIENT)
        b = self.run_modules(CLIENT, '{ lib, ... }: { services.nixmon.server.address = lib.mkForce "10.0.0.7"; }')
        for s in (a, b):
            self.assertEqual(s["units"]["alloy"]["reloadTriggers"], [s["etcSources"]["alloy/nixmon.alloy"]])
        self.assertNotEqual(a["units"]["alloy"]["reloadTriggers"], b["units"]["alloy"]["reloadTriggers"])

    def test_alloy_config_path_of_the_users(self):
        s = self.run_modules(CLIENT, '{ services.alloy.configPath = "/etc/alloy-mine"; environment.etc."alloy-mine/config.alloy".text = "logging {}"; }')
        self.assertNoFailures(s)
        self.assertIn("alloy-mine/nixmon.alloy", s["etc"])
        self.assertNotIn("alloy/nixmon.alloy", s["etc"])
        self.assertEqual(s["units"]["alloy"]["reloadTriggers"], [s["etcSources"]["alloy-mine/nixmon.alloy"]])
        for path in ("/nix/store/00000000000000000000000000000000-config.alloy", "/etc/alloy/config.alloy", "/srv/alloy"):
            with self.subTest(path=path):
                f = self.fails(CLIENT, f'{{ services.alloy.configPath = "{path}"; }}')
                self.assertEqual(len(f), 1)
                self.assertIn(f"services.alloy.configPath is {path}", f[0])
        self.assertEqual(self.fails(CLIENT, '{ services.alloy.configPath = "/srv/alloy"; services.nixmon.logs.enable = false; }'), [])

    # -- grafana.nix / loki.nix: their data directories; grafana's secret key ------------------
    def test_grafana_and_loki_use_their_data_directories(self):
        s = self.run_modules(SERVER, '{ services.grafana.dataDir = "/srv/grafana"; services.loki.dataDir = "/srv/loki"; }')
        self.assertNoFailures(s)
        sec = s["grafana"]["settings"]["security"]
        self.assertEqual(sec["secret_key"], "$__file{/srv/grafana/nixmon-secret-key}")
        self.assertEqual(sec["admin_password"], "$__file{/srv/grafana/nixmon-admin-password}")
        self.assertIn("/srv/grafana/nixmon-secret-key", s["units"]["grafana"]["preStart"])
        self.assertNotIn("/var/lib/grafana", s["units"]["grafana"]["preStart"])
        loki = s["loki"]["configuration"]
        self.assertEqual(loki["common"]["path_prefix"], "/srv/loki")
        self.assertEqual(loki["common"]["storage"]["filesystem"]["chunks_directory"], "/srv/loki/chunks")
        self.assertEqual(loki["compactor"]["working_directory"], "/srv/loki/compactor")
        self.assertNotIn("/var/lib/loki", json.dumps(loki))

    def test_a_secret_key_set_in_grafana_itself_wins(self):
        s = self.run_modules(SERVER, '{ services.grafana.settings.security.secret_key = "$__file{/run/secrets/gk}"; }')
        self.assertNoFailures(s)
        self.assertEqual(s["grafana"]["settings"]["security"]["secret_key"], "$__file{/run/secrets/gk}")
        self.assertNotIn("nixmon-secret-key", s["units"]["grafana"]["preStart"])

    def prestart(self, data_dir):
        s = self.run_modules(SERVER, f'{{ services.grafana.dataDir = "{data_dir}"; }}')
        return s["units"]["grafana"]["preStart"]

    def test_grafana_secret_key_is_never_replaced(self):
        with h.TempDir() as d:
            script = self.prestart(d)
            key = os.path.join(d, "nixmon-secret-key")
            # A new Grafana: a random key.
            subprocess.run(["bash", "-euc", script], check=True)
            with open(key) as f:
                first = f.read()
            self.assertGreater(len(first.strip()), 20)
            self.assertNotIn("SW2YcwTIb9zpOOhoPsMm", first)
            # Again: the key stays.
            subprocess.run(["bash", "-euc", script], check=True)
            with open(key) as f:
                self.assertEqual(f.read(), first)
        with h.TempDir() as d:
            # A Grafana with a database made under NixOS < 26.05 (grafana.nix then defaulted to
            # Grafana's old built-in key): its secrets were encrypted with that key.
            os.makedirs(os.path.join(d, "data"))
            open(os.path.join(d, "data", "grafana.db"), "w").close()
            subprocess.run(["bash", "-euc", self.prestart(d)], check=True, capture_output=True)
            with open(os.path.join(d, "nixmon-secret-key")) as f:
                self.assertEqual(f.read(), "SW2YcwTIb9zpOOhoPsMm")

    # -- redis.nix: where the server listens, its password --------------------------------------
    def test_redis_exporter_follows_bind_and_password(self):
        cases = {'bind = "10.0.0.5";': "redis://10.0.0.5:6379", 'bind = null;': "redis://127.0.0.1:6379",
                 'bind = "::1 127.0.0.1";': "redis://[::1]:6379", "": "redis://127.0.0.1:6379"}
        for bind, addr in cases.items():
            with self.subTest(bind=bind):
                s = self.run_modules(CLIENT, f'{{ services.redis.servers."" = {{ enable = true; {bind} }}; }}')
                self.assertEqual(s["exporters"]["redis"]["extraFlags"], [f"--redis.addr={addr}"])
        s = self.run_modules(CLIENT, '{ services.redis.servers."" = { enable = true; requirePass = "pw"; }; }')
        self.assertEqual(s["units"]["prometheus-redis-exporter"]["environment"], {"REDIS_PASSWORD": "pw"})
        s = self.run_modules(CLIENT, '{ services.redis.servers."" = { enable = true; requirePassFile = "/run/secrets/redis"; }; }')
        sc = s["units"]["prometheus-redis-exporter"]["serviceConfig"]
        self.assertEqual(sc["LoadCredential"], ["redis-password:/run/secrets/redis"])
        self.assertEqual(sc["EnvironmentFile"], ["/run/prometheus-redis-exporter/password.env"])
        self.assertEqual(len(sc["ExecStartPre"]), 1)

    def test_redis_password_env_file_keeps_the_password(self):
        with open(os.path.join(h.SOURCE_DIR, "nix", "modules", "nixmon", "exporters.nix")) as f:
            body = re.search(r"redisPasswordEnvScript = ''\n(.*?)\n  '';", f.read(), re.S).group(1)
        script = "\n".join(l[4:] for l in body.splitlines()).replace("''$", "$")
        password = 'a"b\\c$d`e f'
        with h.TempDir() as d:
            os.mkdir(os.path.join(d, "creds"))
            with open(os.path.join(d, "creds", "redis-password"), "w") as f:
                f.write(password + "\n")
            subprocess.run(["bash", "-c", script], check=True,
                           env=dict(os.environ, CREDENTIALS_DIRECTORY=os.path.join(d, "creds"), RUNTIME_DIRECTORY=d))
            with open(os.path.join(d, "password.env")) as f:
                line = f.read()
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "password.env")).st_mode), 0o600)
        # systemd's EnvironmentFile= rules for "…": a backslash escapes \\ " $ `.
        value = re.fullmatch(r'REDIS_PASSWORD="(.*)"\n', line, re.S).group(1)
        self.assertEqual(re.sub(r'\\([\\"$`])', r"\1", value), password)

    # -- caddy/default.nix: extraConfig only reaches a Caddyfile nixpkgs generates --------------
    def test_caddy_metrics_site_reaches_caddy(self):
        caddy = "{ services.caddy.enable = true; }"
        s = self.run_modules(CLIENT, caddy)
        self.assertIn("metrics /metrics", s["caddyExtraConfig"])
        self.assertEqual(s["caddySettings"], {})
        json_cfg = '{ services.caddy.settings.apps.http.servers.web.listen = [ ":443" ]; }'
        f = self.fails(CLIENT, caddy, json_cfg)
        self.assertEqual(len(f), 1)
        self.assertIn("services.caddy uses settings (JSON)", f[0])
        f = self.fails(CLIENT, caddy, '{ services.caddy.configFile = "/etc/caddy/Caddyfile"; }')
        self.assertIn("services.caddy uses its own configFile", f[0])
        s = self.run_modules(CLIENT, caddy, json_cfg, '{ services.nixmon.exporters.caddy.configure = "settings"; }')
        self.assertNoFailures(s)
        self.assertEqual(s["caddyExtraConfig"], "")
        servers = s["caddySettings"]["apps"]["http"]["servers"]
        self.assertEqual(servers["web"], {"listen": [":443"]})
        self.assertEqual(servers["nixmon-metrics"]["listen"], [":9180"])
        self.assertEqual(servers["nixmon-metrics"]["routes"][0]["handle"], [{"handler": "metrics"}])
        s = self.run_modules(CLIENT, caddy, '{ services.caddy.configFile = "/etc/caddy/Caddyfile"; services.nixmon.exporters.caddy.configure = "none"; }')
        self.assertNoFailures(s)
        self.assertEqual((s["caddyExtraConfig"], s["caddySettings"]), ("", {}))
        self.assertEqual(s["exposedTargets"]["caddy"], 9180)


class ReadmeExample(Base):
    def test_three_hosts_in_ten_lines(self):
        with open(os.path.join(h.SOURCE_DIR, "README.md")) as f:
            readme = f.read()
        found = re.search(r"### Monitor three hosts in ten lines\n.*?```nix\n(.*?)```", readme, re.S)
        self.assertIsNotNone(found, "README.md lost its example")
        example = found.group(1)
        self.assertLessEqual(len([l for l in example.splitlines() if l.strip()]), 10)
        # The example as a flake, with nixosSystem = the test harness and a host file per name.
        body = example.replace("./hosts/${name}.nix", "{ networking.hostName = name; }")
        self.assertNotEqual(body, example)
        expr = f"""let
          flake = {{ {body} }};
          nixpkgs.lib.nixosSystem = {{ modules, ... }}: h.eval modules;
          nixmon.nixosModules.default = {{ }}; # h.eval imports nix/modules/default.nix already
          self = flake.outputs {{ inherit self nixpkgs nixmon; }};
        in lib.mapAttrs (_: h.summary) self.nixosConfigurations"""
        hosts = n.nix_eval(expr, self.lib)
        self.assertEqual(sorted(hosts), ["db", "mon", "web"])
        for name, s in hosts.items():
            self.assertEqual(s["failedAssertions"], [], name)
        mon = hosts["mon"]
        for exporter in ("node", "nixos", "nod"):
            self.assertEqual(targets(mon, exporter), {
                "db": f"db:{s['exposedTargets'][exporter]}", "mon": f"mon:{s['exposedTargets'][exporter]}",
                "web": f"web:{s['exposedTargets'][exporter]}"})
        self.assertTrue(mon["alertmanager"]["enable"] and mon["grafana"]["enable"] and mon["loki"]["enable"])
        for client in ("db", "web"):
            self.assertFalse(hosts[client]["prometheus"]["enable"])
            self.assertIn("-s 10.0.0.1 --dport 9971", hosts[client]["firewall"]["extraCommands"])


class FlakeOutputs(Base):
    """flake.nix's outputs, evaluated with a stand-in for nixpkgs (tests/nix/fake-nixpkgs): the
    wiring of packages, overlay, modules and checks, not nixpkgs itself."""

    def outputs(self, query):
        fake = n.path(os.path.join(h.SOURCE_DIR, "tests", "nix", "fake-nixpkgs"))
        flake = n.path(os.path.join(h.SOURCE_DIR, "flake.nix"))
        expr = f"""let
          nixpkgs = {{ inherit lib; outPath = {fake}; }};
          self = (import {flake}).outputs {{ inherit self nixpkgs; }} // {{ shortRev = "abc1234"; }};
          o = self;
        in {query}"""
        return n.nix_eval(expr, self.lib, env={"NIXMON_NIXPKGS_LIB": self.lib})

    def test_outputs(self):
        got = self.outputs("""{
          top = builtins.attrNames (removeAttrs o [ "shortRev" ]);
          packages = lib.mapAttrs (_: p: { names = builtins.attrNames p; rev = p.default.args.revision;
                                           file = p.default.fromFile; }) o.packages;
          modules = builtins.attrNames o.nixosModules;
          checks = lib.mapAttrs (_: builtins.attrNames) o.checks;
          vm = lib.mapAttrs (_: t: { inherit (t) name isNixOSTest; nodes = builtins.attrNames t.nodes; })
                 (removeAttrs o.checks.x86_64-linux [ "package" ]);
        }""")
        self.assertEqual(got["top"], ["checks", "devShells", "nixosModules", "overlays", "packages"])
        for system in ("x86_64-linux", "aarch64-linux"):
            self.assertEqual(got["packages"][system]["names"], ["default", "nixmon"])
            # Built from nix/package.nix, with the flake's revision for nixos_exporter_build_info.
            self.assertEqual(got["packages"][system]["rev"], "abc1234")
            self.assertTrue(got["packages"][system]["file"].endswith("/nix/package.nix"))
        self.assertEqual(got["modules"], ["default", "nixmon", "nixos-exporter", "nod"])
        self.assertEqual(got["checks"], {"aarch64-linux": ["package"],
                                         "x86_64-linux": ["package", "vm-exporter-nod", "vm-stack"]})
        self.assertEqual(got["vm"], {
            "vm-exporter-nod": {"name": "nixmon-exporter-nod", "isNixOSTest": True, "nodes": ["machine"]},
            "vm-stack": {"name": "nixmon-stack", "isNixOSTest": True, "nodes": ["client", "outsider", "server"]}})

    def test_modules_use_the_flakes_package(self):
        for module, unit in (("nixos-exporter", "prometheus-nixos-exporter"), ("nod", "nod"),
                             ("default", "prometheus-nixos-exporter")):
            with self.subTest(module=module):
                got = self.outputs(f"""let
                  r = h.eval [ o.nixosModules.{module} {{ services.prometheus.exporters.nixos.enable = true;
                                                           services.nod.enable = true; }} ];
                in r.config.systemd.services.{unit}.serviceConfig.ExecStart""")
                self.assertTrue(got.startswith("/nix/store/00000000000000000000000000000000-nixmon-flake/bin/"), got)


class GeneratedDocs(Base):
    def test_modules_md_is_up_to_date(self):
        r = subprocess.run([sys.executable, os.path.join(h.SOURCE_DIR, "scripts", "gen-module-docs.py"), "--check"],
                           capture_output=True, text=True, env=dict(os.environ, NIXMON_NIXPKGS_LIB=self.lib))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(h.SOURCE_DIR, "docs", "modules.md")) as f:
            text = f.read()
        for option in ("services.prometheus.exporters.nixos.flake.nats.nkeySeedFile", "services.nod.retainDays",
                       "services.nixmon.role", "services.nixmon.remoteWrite"):
            self.assertIn(f"### `{option}`", text)


class ExporterCollectorNames(unittest.TestCase):
    """The module's `collectors.<name>` options (no nixpkgs needed: read from the file) are exactly
    the binary's switchable collectors besides `flake`, so a new collector cannot be forgotten."""

    def test_module_names_every_collector_of_the_binary(self):
        with open(os.path.join(h.SOURCE_DIR, "nix", "modules", "nixos-exporter.nix")) as f:
            block = re.search(r"collectorNames = \[(.*?)\];", f.read(), re.S)
        self.assertIsNotNone(block)
        module = re.findall(r'"([a-z]+)"', block.group(1))
        text = subprocess.run([h.binary("nixos-exporter"), "--help"], capture_output=True,
                              text=True).stdout
        binary = re.findall(r"--collector\.([a-z]+), ?--no-collector\.", text)  # CLI11 2.7 adds a space
        self.assertIn("upgrade", binary)
        self.assertEqual(sorted(module), sorted(c for c in binary if c != "flake"))


class NodWaitSocketScript(unittest.TestCase):
    """services.nod's ExecStartPost, run by bash as systemd would (no nixpkgs needed): it must wait
    for the socket as long as nod runs (a schema upgrade can take minutes) and fail as soon as nod
    is gone."""

    def script(self, socket):
        with open(os.path.join(h.SOURCE_DIR, "nix", "modules", "nod.nix")) as f:
            text = f.read()
        body = re.search(r'writeShellScript "nod-wait-socket" \'\'\n(.*?)\n  \'\';', text, re.S)
        self.assertIsNotNone(body)
        return body.group(1).replace("${cfg.socket}", socket)

    def run_script(self, socket, main):
        return subprocess.run(["bash", "-c", self.script(socket)], capture_output=True, text=True,
                              env=dict(os.environ, MAINPID=str(main.pid)), timeout=60)

    def test_waits_while_nod_runs_and_succeeds_once_the_socket_exists(self):
        import socket as so
        import time
        with h.TempDir() as d:
            path = os.path.join(d, "nod.sock")
            # "nod" upgrading its database: alive, no socket yet for 2 s, then listening.
            main = subprocess.Popen(["sleep", "60"])
            try:
                start = time.monotonic()
                waiter = subprocess.Popen(["bash", "-c", self.script(path)],
                                          env=dict(os.environ, MAINPID=str(main.pid)))
                time.sleep(2)
                self.assertIsNone(waiter.poll())  # still waiting: nod is alive
                s = so.socket(so.AF_UNIX)
                s.bind(path)
                self.assertEqual(waiter.wait(timeout=30), 0)
                self.assertGreater(time.monotonic() - start, 2)
                s.close()
            finally:
                main.kill()
                main.wait()

    def test_fails_at_once_when_nod_exits_without_a_socket(self):
        # (A fixed 30 s wait used to run out even while nod was still upgrading its database.)
        with h.TempDir() as d:
            main = subprocess.Popen(["true"])
            main.wait()
            r = self.run_script(os.path.join(d, "nod.sock"), main)
            self.assertEqual(r.returncode, 1)
            self.assertIn("nod exited before creating", r.stderr)


class NodAndTheNixImplementations(Base):
    """services.nod writes json-log-path only for a nix.package that has the setting: NixOS checks
    nix.conf at build time (nix.checkConfig) and fails on an unknown setting. Decided by the
    package's identity, since Nix, Lix and Determinate Nix number their versions differently."""

    def nod_with(self, packages):
        """{json-log-path, warnings} of services.nod for each nix.package (Nix attribute sets)."""
        return n.nix_eval("map (p: let s = h.run [ { services.nod.enable = true; nix.package = p; } ]; in "
                          "{ path = s.nixSettings.json-log-path or null; inherit (s) warnings; }) [ "
                          + " ".join(f"({p})" for p in packages) + " ]", self.lib)

    @staticmethod
    def package(pname, version, with_pname=True):
        name = f"{pname}-{version}"
        attrs = f'type = "derivation"; name = "{name}"; version = "{version}"; outPath = "/nix/store/x-{name}";'
        return "{ " + attrs + (f' pname = "{pname}";' if with_pname else "") + " }"

    def check(self, cases):
        got = self.nod_with([self.package(*c[0]) for c in cases])
        for (pkg, expect_path, warning), s in zip(cases, got):
            with self.subTest(package=pkg):
                if expect_path:
                    self.assertEqual(s, {"path": "/run/nod/nod.sock", "warnings": []})
                else:
                    self.assertIsNone(s["path"])
                    self.assertEqual(len(s["warnings"]), 1, s["warnings"])
                    self.assertIn(warning, s["warnings"][0])
                    self.assertIn("nod ingest", s["warnings"][0])

    def test_nix(self):
        self.check([
            (("nix", "2.28.4"), False, "Nix 2.28.4 has no json-log-path (Nix 2.30 added it)"),
            (("nix", "2.29.1"), False, "Nix 2.29.1 has no json-log-path"),
            (("nix", "2.30.0"), True, None),
            (("nix", "2.31.2"), True, None),
            (("nix", "2.36.1"), True, None),
            # Identified by its name alone, as lib.getName does.
            (("nix", "2.29.2", False), False, "Nix 2.29.2 has no json-log-path"),
            (("nix", "2.32.0", False), True, None),
        ])

    def test_lix_never(self):
        # Lix's 2.9x are above 2.30 but are Lix's own numbers; Lix has no json-log-path.
        self.check([
            (("lix", "2.91.3"), False, "Lix 2.91.3 has no json-log-path"),
            (("lix", "2.93.3"), False, "Lix 2.93.3 has no json-log-path"),
            (("lix", "2.95.0"), False, "Lix 2.95.0 has no json-log-path"),
            (("lix", "2.93.3", False), False, "Lix 2.93.3 has no json-log-path"),
        ])

    def test_determinate_nix_from_3_1(self):
        # Determinate Nix's package is versioned 3.x (`nix --version`: "nix (Determinate Nix 3.x.y)
        # 2.3x.z"); json-log-path came with 3.1.0, based on Nix 2.27.1.
        self.check([
            (("determinate-nix", "3.0.0"), False, "Determinate Nix 3.0.0 has no json-log-path"),
            (("determinate-nix", "3.1.0"), True, None),
            (("determinate-nix", "3.6.2"), True, None),
            (("determinate-nix", "3.22.2"), True, None),
            (("determinate-nix", "3.22.2pre20260821_c407745"), True, None),
            (("determinate-nix", "3.8.5", False), True, None),
        ])


class BootCollectorCapability(Base):
    """The boot collector reads an ESP mounted fmask=0077,dmask=0077 (what NixOS installs now), the
    gc collector Nix's temporary roots files (root's, 0600): while either runs, the unit gets
    CAP_DAC_READ_SEARCH and keeps the rest of its sandbox, with the
    well-known secret stores hidden. Without it the unit is the one it was before."""

    SECRET_STORES = ["/etc/shadow", "/etc/gshadow", "/etc/ssh", "/run/keys", "/run/secrets", "/run/secrets.d",
                     "/run/agenix", "/run/agenix.d", "/var/lib/acme", "/var/lib/sops-nix"]
    # Read by the flake collector's nix and git (netrc for private flakes, TLS roots) and the unit's
    # own credentials: never hidden. The collectors' own paths come from their sources.
    NEEDED = ["/etc/nix/netrc", "/etc/nix/nix.conf", "/etc/ssl/certs", "/run/credentials/prometheus-nixos-exporter.service"]

    def service(self, cfg="{ }"):
        s = self.run_modules("{ services.prometheus.exporters.nixos = { enable = true; }; }",
                             f"{{ services.prometheus.exporters.nixos = {cfg}; }}")
        self.assertNoFailures(s)
        return s["units"]["prometheus-nixos-exporter"]["serviceConfig"]

    def test_boot_collector_on_gets_the_capability_and_hides_the_secret_stores(self):
        for cfg in ("{ }", "{ collectors.boot = true; }"):
            with self.subTest(cfg=cfg):
                sc = self.service(cfg)
                self.assertEqual(sc["AmbientCapabilities"], ["CAP_DAC_READ_SEARCH"])
                self.assertEqual(sc["CapabilityBoundingSet"], ["CAP_DAC_READ_SEARCH"])
                # Optional (`-`): a host without sops-nix or agenix starts the unit all the same.
                self.assertEqual(sc["InaccessiblePaths"], ["-" + p for p in self.SECRET_STORES])
                # The sandbox stays: read-only, no homes, a dynamic user, and open_by_handle_at (in
                # @privileged) denied, which the capability would otherwise allow past any view.
                self.assertEqual(sc["ProtectSystem"], "strict")
                self.assertIs(sc["ProtectHome"], True)
                self.assertIs(sc["DynamicUser"], True)
                self.assertIs(sc["NoNewPrivileges"], True)
                self.assertIn("~@privileged", sc["SystemCallFilter"])
                # A capability inside a user namespace would not reach the host's /boot.
                self.assertNotIn("PrivateUsers", sc)
                # No allow-list view: it would hide indirect GC roots under /var, /srv and so on.
                for key in ("RootDirectory", "TemporaryFileSystem", "BindReadOnlyPaths", "MountAPIVFS",
                            "PrivateMounts"):
                    self.assertNotIn(key, sc)

    @staticmethod
    def host_paths_in_sources():
        """Absolute paths the exporter's sources spell out as string literals (comments left out);
        a literal appended to another path (`dir + "/kernel"`) is a component, not a host path."""
        import glob
        found = {}
        for f in glob.glob(os.path.join(h.SOURCE_DIR, "src", "exporter", "**", "*.[ch][ch]"), recursive=True):
            with open(f) as fh:
                for line in fh:
                    for m in re.finditer(r'(\+\s*)?"(/[^"\\]*)"', re.sub(r"//.*", "", line)):
                        if not m.group(1) and m.group(2) != "/":
                            found.setdefault(m.group(2).rstrip("/"), os.path.relpath(f, h.SOURCE_DIR))
        return found

    def test_nothing_the_exporter_reads_is_hidden(self):
        read = self.host_paths_in_sources()
        # A scan that finds nothing would let this test pass on an empty list.
        for p in ("/boot", "/run/current-system", "/nix/var/nix/db/db.sqlite", "/etc/nix/nix.conf"):
            self.assertIn(p, read)
        read.update({p: "the flake collector's nix and git, or systemd" for p in self.NEEDED})
        hidden = [p.lstrip("-") for p in self.service()["InaccessiblePaths"]]
        under = {path: source for path, source in read.items()
                 if any(path == x or path.startswith(x + "/") for x in hidden)}
        self.assertEqual(under, {}, "paths the exporter reads that its unit hides")

    def test_capability_joins_the_runtime_roots_one(self):
        sc = self.service("{ gc.runtimeRoots = true; }")
        self.assertEqual(sc["AmbientCapabilities"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
        self.assertEqual(sc["CapabilityBoundingSet"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
        self.assertEqual(sc["ProtectProc"], "default")
        self.assertIn("-/etc/shadow", sc["InaccessiblePaths"])

    def test_gc_collector_alone_keeps_the_capability_for_temporary_roots(self):
        # Nix's temproots files are root's, 0600 (NixOS/nix 2.28.0 src/libstore/unix/pathlocks.cc
        # openLockFile): without the capability the gc collector cannot tell what a running build
        # holds. The gc collector is on by default.
        for cfg in ("{ collectors.boot = false; }", '{ extraFlags = [ "--no-collector.boot" ]; }'):
            with self.subTest(cfg=cfg):
                sc = self.service(cfg)
                self.assertEqual(sc["AmbientCapabilities"], ["CAP_DAC_READ_SEARCH"])
                self.assertEqual(sc["InaccessiblePaths"], ["-" + p for p in self.SECRET_STORES])

    def test_boot_and_gc_collectors_off_leave_the_unit_as_without_them(self):
        on = self.service()
        for cfg in ("{ collectors.boot = false; collectors.gc = false; }",
                    '{ extraFlags = [ "--no-collector.boot" "--no-collector.gc" ]; }'):
            with self.subTest(cfg=cfg):
                sc = self.service(cfg)
                self.assertEqual(sc["AmbientCapabilities"], "")
                self.assertEqual(sc["CapabilityBoundingSet"], "")
                self.assertNotIn("InaccessiblePaths", sc)
                # Everything else is the unit with the boot collector on, less what it adds.
                added = ("ExecStart", "AmbientCapabilities", "CapabilityBoundingSet", "InaccessiblePaths")
                self.assertEqual({k: v for k, v in sc.items() if k not in added},
                                 {k: v for k, v in on.items() if k not in added})
        sc = self.service("{ collectors.boot = false; collectors.gc = false; gc.runtimeRoots = true; }")
        self.assertEqual(sc["AmbientCapabilities"], ["CAP_SYS_PTRACE"])
        self.assertEqual(sc["CapabilityBoundingSet"], ["CAP_SYS_PTRACE"])
        self.assertNotIn("InaccessiblePaths", sc)

    def test_restart_collector_can_see_every_process(self):
        """Reading other users' /proc/PID/exe and maps is a PTRACE_MODE_READ_FSCREDS check: the
        unit needs CAP_SYS_PTRACE of the initial user namespace and a /proc that shows them."""
        off = self.service()
        self.assertEqual(off["ProtectProc"], "invisible")
        self.assertNotIn("CAP_SYS_PTRACE", off["AmbientCapabilities"])
        for cfg in ("{ collectors.restart = true; }", '{ extraFlags = [ "--collector.restart" ]; }',
                    "{ collectors.restart = true; gc.runtimeRoots = true; }"):
            with self.subTest(cfg=cfg):
                sc = self.service(cfg)
                self.assertEqual(sc["AmbientCapabilities"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
                self.assertEqual(sc["CapabilityBoundingSet"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
                self.assertEqual(sc["ProtectProc"], "default")
                # A user namespace would make the capability count for its own processes only;
                # ProcSubset=pid is fine for this collector but not set; no ptrace(2) is needed.
                self.assertFalse(sc.get("PrivateUsers", False))
                self.assertNotIn("ProcSubset", sc)
                self.assertEqual(sc["SystemCallFilter"], ["@system-service", "~@privileged"])
                self.assertTrue(sc["NoNewPrivileges"])  # ambient capabilities survive it
        self.assertIn("--collector.restart", self.service("{ collectors.restart = true; }")["ExecStart"])
        sc = self.service("{ collectors.restart = false; }")
        self.assertEqual(sc["ProtectProc"], "invisible")
        self.assertIn("--no-collector.restart", sc["ExecStart"])


class ChannelCollectorUnit(Base):
    """The channel collector reads root's channel list (root's home is 0700) and asks each
    channel's server over HTTPS. With it on, the unit mounts /root as an empty tmpfs with the list
    bound in read-only, keeps CAP_DAC_READ_SEARCH to traverse that tmpfs (systemd makes it 0700),
    reaches the network and names NixOS's CA bundle. With it off, the unit is the one it was."""

    LIST_BINDS = ["-/root/.nix-channels", "-/root/.local/state/nix/channels"]
    CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
    ON = ("{ collectors.channel = true; }", '{ extraFlags = [ "--collector.channel" ]; }',
          "{ collectors = { channel = true; boot = false; }; }")

    def unit(self, cfg="{ }"):
        s = self.run_modules("{ services.prometheus.exporters.nixos = { enable = true; }; }",
                             f"{{ services.prometheus.exporters.nixos = {cfg}; }}")
        self.assertNoFailures(s)
        return s["units"]["prometheus-nixos-exporter"]

    def test_off_keeps_root_hidden_and_adds_nothing(self):
        default = self.unit()
        for cfg in ("{ }", "{ collectors.channel = false; }",
                    # Settings of a collector that does not run reach neither flags nor unit.
                    '{ channel = { checkInterval = "2h"; upstreamCheck = false; httpTimeout = "5s"; }; }'):
            with self.subTest(cfg=cfg):
                u = self.unit(cfg)
                sc = u["serviceConfig"]
                self.assertIs(sc["ProtectHome"], True)
                self.assertNotIn("BindReadOnlyPaths", sc)
                self.assertNotIn("SSL_CERT_FILE", u["environment"])
                self.assertNotIn("--channel.", sc["ExecStart"])
                self.assertEqual({k: v for k, v in sc.items() if k != "ExecStart"},
                                 {k: v for k, v in default["serviceConfig"].items() if k != "ExecStart"})
        self.assertIn('"--no-collector.channel"', self.unit("{ collectors.channel = false; }")["serviceConfig"]["ExecStart"])

    def test_on_root_channel_list_is_bound_into_an_empty_home(self):
        for cfg in self.ON:
            with self.subTest(cfg=cfg):
                sc = self.unit(cfg)["serviceConfig"]
                # ProtectHome=true would refuse any bind mount under /root; tmpfs leaves /root,
                # /home and /run/user empty but for what is bound in. `-`: a host without the
                # file (or without use-xdg-base-directories) starts the unit all the same.
                self.assertEqual(sc["ProtectHome"], "tmpfs")
                self.assertEqual(sc["BindReadOnlyPaths"], self.LIST_BINDS)
                # Read-only binds only: DynamicUser= units must not get writable ones (systemd.exec(5)).
                self.assertNotIn("BindPaths", sc)
                self.assertNotIn("TemporaryFileSystem", sc)
                # systemd mounts the tmpfs on /root with mode=0700 (namespace.c): the dynamic user
                # traverses it with CAP_DAC_READ_SEARCH, so the secret stores are hidden as with
                # the boot collector.
                self.assertIn("CAP_DAC_READ_SEARCH", sc["AmbientCapabilities"])
                self.assertIn("CAP_DAC_READ_SEARCH", sc["CapabilityBoundingSet"])
                self.assertEqual(sc["InaccessiblePaths"],
                                 ["-" + p for p in BootCollectorCapability.SECRET_STORES])
                # The rest of the sandbox stays.
                self.assertIs(sc["DynamicUser"], True)
                self.assertEqual(sc["ProtectSystem"], "strict")
                self.assertIs(sc["NoNewPrivileges"], True)
                self.assertIn("~@privileged", sc["SystemCallFilter"])
                self.assertNotIn("PrivateUsers", sc)
                self.assertIn('"--collector.channel"', sc["ExecStart"])

    def test_boot_off_channel_on_gets_only_what_the_channel_needs(self):
        sc = self.unit("{ collectors = { channel = true; boot = false; }; }")["serviceConfig"]
        self.assertEqual(sc["AmbientCapabilities"], ["CAP_DAC_READ_SEARCH"])
        self.assertEqual(sc["CapabilityBoundingSet"], ["CAP_DAC_READ_SEARCH"])
        self.assertEqual(sc["ProtectProc"], "invisible")
        sc = self.unit("{ collectors = { channel = true; restart = true; }; }")["serviceConfig"]
        self.assertEqual(sc["AmbientCapabilities"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])

    def test_binds_are_the_lists_the_exporter_reads(self):
        with open(os.path.join(h.SOURCE_DIR, "src", "exporter", "channel", "root-channels.hh")) as f:
            text = f.read()
        read = re.findall(r'root_channel_list(?:_xdg)? = "([^"]+)"', text)
        self.assertEqual(len(read), 2, "root-channels.hh no longer names two channel lists")
        self.assertEqual(self.unit(self.ON[0])["serviceConfig"]["BindReadOnlyPaths"], ["-" + p for p in read])

    def test_on_the_upstream_check_can_reach_its_servers(self):
        for cfg in self.ON:
            with self.subTest(cfg=cfg):
                u = self.unit(cfg)
                sc = u["serviceConfig"]
                self.assertEqual(u["environment"]["SSL_CERT_FILE"], self.CA_BUNDLE)
                for family in ("AF_INET", "AF_INET6", "AF_UNIX"):  # AF_UNIX: nscd's socket
                    self.assertIn(family, sc["RestrictAddressFamilies"])
                for key in ("PrivateNetwork", "IPAddressDeny", "IPAddressAllow", "NetworkNamespacePath",
                            "SocketBindDeny"):
                    self.assertNotIn(key, sc)
                # The CA bundle and resolver configuration stay visible.
                hidden = [p.lstrip("-") for p in sc["InaccessiblePaths"]]
                for needed in (self.CA_BUNDLE, "/etc/resolv.conf", "/etc/nsswitch.conf", "/run/nscd"):
                    self.assertFalse(any(needed == x or needed.startswith(x + "/") for x in hidden), needed)
        # The flake collector's environment is kept beside it.
        u = self.unit('{ collectors.channel = true; flake = { enable = true; url = "github:a/b"; }; }')
        self.assertEqual(u["environment"]["SSL_CERT_FILE"], self.CA_BUNDLE)
        self.assertEqual(u["environment"]["HOME"], "/var/cache/nixos-exporter")

    def test_options_reach_flags(self):
        prefix = f'{PKG}/bin/nixos-exporter "--listen=0.0.0.0:9971" "--scrape.timeout=10s" "--log.level=info" '
        # Defaults: the exporter's own (upstream check on, 1h, 30s, no NATS).
        self.assertEqual(self.unit("{ collectors.channel = true; }")["serviceConfig"]["ExecStart"],
                         prefix + '"--collector.channel"')
        sc = self.unit("""{ collectors.channel = true; channel = { checkInterval = "2h"; httpTimeout = "5s";
            nats = { enable = true; credentialsFile = "/run/secrets/channel.creds"; }; }; }""")["serviceConfig"]
        self.assertEqual(sc["ExecStart"],
                         prefix + '"--collector.channel" "--channel.check-interval=2h" "--channel.http-timeout=5s" '
                         '"--channel.nats.enable" "--channel.nats.url=nats://localhost:4222" '
                         '"--channel.nats.subject=nixos-exporter.channel-rev" '
                         "--channel.nats.credentials-file=%d/channel-nats-credentials")
        self.assertEqual(sc["LoadCredential"], ["channel-nats-credentials:/run/secrets/channel.creds"])
        sc = self.unit('{ collectors.channel = true; channel.upstreamCheck = false; }')["serviceConfig"]
        self.assertEqual(sc["ExecStart"], prefix + '"--collector.channel" "--no-channel.upstream-check"')

    def test_flake_and_channel_nats_credentials_are_separate(self):
        sc = self.unit("""{ collectors.channel = true;
            flake = { enable = true; url = "github:a/b"; nats = { enable = true; credentialsFile = "/run/secrets/f"; }; };
            channel.nats = { enable = true; credentialsFile = "/run/secrets/c"; }; }""")["serviceConfig"]
        self.assertEqual(sc["LoadCredential"], ["nats-credentials:/run/secrets/f", "channel-nats-credentials:/run/secrets/c"])
        self.assertTrue(sc["ExecStart"].endswith("--flake.nats.credentials-file=%d/nats-credentials "
                                                 "--channel.nats.credentials-file=%d/channel-nats-credentials"),
                        sc["ExecStart"])
        self.assertNotIn("/run/secrets", sc["ExecStart"])


class GcRootsTop(Base):
    def test_roots_top_reaches_the_flag(self):
        for value, flag in (("null", None), ("0", '"--collector.gc.roots.top=0"'), ("40", '"--collector.gc.roots.top=40"')):
            with self.subTest(value=value):
                s = self.run_modules(f"{{ services.prometheus.exporters.nixos = {{ enable = true; gc.rootsTop = {value}; }}; }}")
                cmd = s["units"]["prometheus-nixos-exporter"]["serviceConfig"]["ExecStart"]
                if flag:
                    self.assertTrue(cmd.endswith(flag), cmd)
                else:
                    self.assertNotIn("--collector.gc.roots.top", cmd)


if __name__ == "__main__":
    unittest.main()
