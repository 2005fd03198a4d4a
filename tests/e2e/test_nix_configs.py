"""The Prometheus and Alertmanager configurations services.nixmon generates, written to files and
checked by Debian's real `promtool check config` (which also loads every rule file of rules/) and
`amtool check-config`."""
import json
import os
import re
import shlex
import stat
import subprocess
import unittest

import harness as h
import nixeval as n
import nkeys
import test_nix_modules as m


def write(tmp, name, obj):
    # JSON is YAML: both tools read it as it is.
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        json.dump(obj, f, indent=1)
    return p


def check(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def amtool_version():
    _, out = check([h.tool("amtool"), "--version"])
    found = re.search(r"version (\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def for_old_amtool(config):
    """Webhook `url_file` is Alertmanager >= 0.26 (nixpkgs ships newer); Debian 12's amtool is
    0.25 and rejects the key. For it, each url_file becomes a placeholder url: everything else
    (routes, receivers, matchers, e-mail with smtp_auth_password_file) is still checked."""
    if amtool_version() >= (0, 26):
        return config
    text = json.dumps(config)
    return json.loads(re.sub(r'"url_file": "[^"]*"', '"url": "http://url-file.invalid/"', text))


def exec_argv(exec_start, credentials_dir, binary):
    """ExecStart= as systemd would run it: quotes and escapes removed, %d the credentials
    directory, %% and $$ single; our built binary in place of the package's."""
    text = exec_start.replace("%d", credentials_dir).replace("%%", "%").replace("$$", "$")
    argv = shlex.split(text)
    return [binary] + argv[1:]


class GeneratedConfigsPassTheRealTools(unittest.TestCase):
    def setUp(self):
        self.lib = n.require_lib(self)

    def configs(self, *modules):
        s = n.run(list(modules), self.lib)
        self.assertEqual(s["failedAssertions"], [])
        return s

    def promtool(self, tmp, yml):
        return check([h.tool("promtool"), "check", "config", write(tmp, "prometheus.yml", yml)])

    def amtool(self, tmp, cfg):
        return check([h.tool("amtool"), "check-config", write(tmp, "alertmanager.yml", for_old_amtool(cfg))])

    def test_default_server(self):
        s = self.configs(m.SERVER)
        with h.TempDir() as tmp:
            rc, out = self.promtool(tmp, s["prometheus"]["yml"])
            self.assertEqual(rc, 0, out)
            self.assertIn("SUCCESS", out)
            # promtool loaded and checked every rule file of rules/.
            for f in s["prometheus"]["yml"]["rule_files"]:
                self.assertIn(f"Checking {f}\n  SUCCESS", out)
            self.assertEqual(len(s["prometheus"]["yml"]["rule_files"]),
                             len([f for f in os.listdir(os.path.join(h.SOURCE_DIR, "rules"))
                                  if f.endswith((".yml", ".yaml")) and not f.endswith("_test.yml")])
                             if os.path.isdir(os.path.join(h.SOURCE_DIR, "rules")) else 0)
            rc, out = self.amtool(tmp, s["alertmanager"]["configuration"])
            self.assertEqual(rc, 0, out)

    def test_every_option_set(self):
        every = m.EveryOption.every(m.EveryOption())
        s = self.configs(every)
        with h.TempDir() as tmp:
            rc, out = self.promtool(tmp, s["prometheus"]["yml"])
            self.assertEqual(rc, 0, out)
            # Both rule files were read and checked.
            self.assertIn("fixture.yml", out)
            self.assertIn("extra-rules.yml", out)
            rc, out = self.amtool(tmp, s["alertmanager"]["configuration"])
            self.assertEqual(rc, 0, out)
            self.assertIn("5 receivers", out.replace(" - ", ""))

    def test_alerting_with_every_receiver(self):
        s = self.configs(m.SERVER, """{ services.nixmon.alerting = {
          email = { enable = true; to = [ "ops@example.com" "me@example.com" ]; from = "am@example.com";
                    smarthost = "smtp.example.com:587"; username = "am"; passwordFile = "/run/secrets/smtp"; };
          homeAssistant = { enable = true; urlFile = "/run/secrets/ha"; };
          nextcloudTalk = { enable = true; url = "http://relay.lan/talk"; };
          webhooks = { a.url = "http://a.lan/"; b = { url = "http://b.lan/"; severities = [ "info" ]; }; };
        }; }""")
        with h.TempDir() as tmp:
            rc, out = self.amtool(tmp, s["alertmanager"]["configuration"])
            self.assertEqual(rc, 0, out)

    def test_users_receivers_routes_and_scrape_jobs_pass_the_tools(self):
        s = self.configs(m.SERVER, r"""{ services.nixmon = {
          alerting = {
            extraReceivers = [ { name = "db-team"; webhook_configs = [ { url = "http://hooks.lan/db?t=$x"; send_resolved = false; } ]; } ];
            extraRoutes = [ { receiver = "db-team"; matchers = [ "team=\"db\"" ]; continue = true; } ];
            extraInhibitRules = [ { source_matchers = [ "alertname=\"HostDown\"" ]; target_matchers = [ "severity=\"warning\"" ]; equal = [ "host" ]; } ];
          };
          prometheus.extraScrapeConfigs = [ { job_name = "router"; honor_labels = true; scheme = "https";
            static_configs = [ { targets = [ "192.168.1.1:9100" ]; labels.site = "home"; } ];
            relabel_configs = [ { source_labels = [ "__address__" ]; target_label = "instance"; regex = "(.*):.*"; replacement = "$1"; } ]; } ];
          remoteWrite = [ { url = "http://vm.lan/api/v1/write"; queueConfig = { capacity = 20000; max_shards = 8; }; } ];
        }; }""")
        with h.TempDir() as tmp:
            rc, out = self.promtool(tmp, s["prometheus"]["yml"])
            self.assertEqual(rc, 0, out)
            # envsubst (nixpkgs' alertmanager preStart) turns $$ back into $: check what Alertmanager reads.
            cfg = json.loads(json.dumps(s["alertmanager"]["configuration"]).replace("$$", "$"))
            rc, out = self.amtool(tmp, cfg)
            self.assertEqual(rc, 0, out)
            self.assertIn("5 receivers", out.replace(" - ", ""))

    def test_proxmox_and_cadvisor_jobs_pass_promtool(self):
        """The pve exporter's multi-target job (params, relabelling) and the cAdvisor job, as
        Prometheus itself reads them."""
        s = self.configs(m.SERVER, m.PROXMOX, "{ services.nixmon.exporters.cadvisor.enable = true; }")
        jobs = {j["job_name"]: j for j in s["prometheus"]["yml"]["scrape_configs"]}
        self.assertIn("pve", jobs)
        self.assertIn("cadvisor", jobs)
        with h.TempDir() as tmp:
            rc, out = self.promtool(tmp, s["prometheus"]["yml"])
            self.assertEqual(rc, 0, out)
            # The check can fail: a relabelling Prometheus refuses (no target label for replace).
            bad = json.loads(json.dumps(s["prometheus"]["yml"]))
            [j for j in bad["scrape_configs"] if j["job_name"] == "pve"][0]["relabel_configs"][0].pop("target_label")
            rc, out = self.promtool(tmp, bad)
            self.assertNotEqual(rc, 0, out)

    def test_rule_parameters_render_the_projects_rules(self):
        params = '{ cpu_usage_percent = 80; reboot_required_for = "48h"; }'
        s = self.configs(m.SERVER, f"{{ services.nixmon.prometheus.ruleParameters = {params}; }}")
        files = s["prometheus"]["yml"]["rule_files"]
        # nix-instantiate --eval does not write the store: render the same texts and point the
        # config at them, by name.
        texts = n.nix_eval(f"(import {n.path(os.path.join(h.SOURCE_DIR, 'rules'))} {{ values = {params}; }}).texts",
                           self.lib)
        self.assertEqual(sorted(f.split("-", 1)[1] for f in files), sorted(texts))
        self.assertIn("> 80\n", texts["host.yml"])
        self.assertIn("for: 48h", texts["nixos.yml"])
        with h.TempDir() as tmp:
            yml = dict(s["prometheus"]["yml"])
            yml["rule_files"] = []
            for f in files:
                name = f.split("-", 1)[1]
                path = os.path.join(tmp, name)
                with open(path, "w") as out:
                    out.write(texts[name])
                yml["rule_files"].append(path)
            rc, out = self.promtool(tmp, yml)
            self.assertEqual(rc, 0, out)
        # A name rules/params.json does not know stops evaluation, naming it.
        with self.assertRaises(n.EvalError) as e:
            n.run([m.SERVER, "{ services.nixmon.prometheus.ruleParameters.cpu_percent = 80; }"], self.lib)
        self.assertIn("cpu_percent", str(e.exception))

    def test_the_checks_can_fail(self):
        # A second job named like a generated one, and a route to a receiver that does not exist:
        # the real tools must refuse them, or the tests above prove nothing.
        s = self.configs(m.SERVER, """{ services.nixmon.prometheus.extraScrapeConfigs = [
            { job_name = "node"; static_configs = [ { targets = [ "127.0.0.1:1" ]; } ]; } ]; }""")
        with h.TempDir() as tmp:
            rc, out = self.promtool(tmp, s["prometheus"]["yml"])
            self.assertNotEqual(rc, 0, out)
            self.assertIn("node", out)
            cfg = s["alertmanager"]["configuration"]
            cfg["route"]["routes"][0]["receiver"] = "nobody"
            rc, out = self.amtool(tmp, cfg)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("nobody", out)


class BinariesAcceptTheirGeneratedCommandLines(unittest.TestCase):
    """The units' ExecStart, generated with (nearly) every option set, started for real: every
    flag the modules write must exist in the binaries."""

    def setUp(self):
        self.lib = n.require_lib(self)

    def test_nixos_exporter(self):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            port = h.free_port()
            s = n.run([f"""{{ services.prometheus.exporters.nixos = {{
                enable = true; port = {port}; listenAddress = "127.0.0.1";
                collectors = {{ generation = true; system = true; reboot = true; boot = false; store = true; gc = true; }};
                store.checkInterval = "2m"; gc = {{ checkInterval = "15m"; runtimeRoots = true; }};
                scrapeTimeout = "5s"; logLevel = "debug"; webConfigFile = "/run/secrets/web.yml";
                extraFlags = [ "--path.root={root}" ];
                flake = {{ enable = true; url = "path:{tmp}/no-such-flake"; checkInterval = "1h";
                          nats = {{ enable = true; url = "nats://127.0.0.1:{h.free_port()}"; subject = "t.rev";
                                   nkeySeedFile = "/run/secrets/seed"; }}; }};
            }}; }}"""], self.lib)
            self.assertEqual(s["failedAssertions"], [])
            creds = os.path.join(tmp, "credentials")
            os.mkdir(creds)
            # An empty exporter-toolkit web config: no TLS, no auth.
            open(os.path.join(creds, "web-config"), "w").close()
            with open(os.path.join(creds, "nats-nkey-seed"), "w") as f:
                f.write(nkeys.user_pair()[0] + "\n")
            argv = exec_argv(s["units"]["prometheus-nixos-exporter"]["serviceConfig"]["ExecStart"], creds,
                             h.binary("nixos-exporter"))
            with h.Process(argv, tmp, port=port) as p:
                text = h.scrape(port)
            self.assertIn("nixos_generation_count 3", text, p.log())
            self.assertIn('nixos_exporter_collector_success{collector="flake"}', text)
            self.assertNotIn('collector="boot"', text, "--no-collector.boot was not honoured")

    def test_nod(self):
        with h.TempDir() as tmp:
            port = h.free_port()
            s = n.run([f"""{{ services.nod = {{ enable = true; retainDays = 30;
                metrics = {{ enable = true; listenAddress = "127.0.0.1"; port = {port}; }};
                extraFlags = [ "--max-connections=64" ]; }}; }}"""], self.lib)
            exec_start = s["units"]["nod"]["serviceConfig"]["ExecStart"]
            sock, db = os.path.join(tmp, "nod.sock"), os.path.join(tmp, "nod.db")
            exec_start = exec_start.replace("/run/nod/nod.sock", sock).replace("/var/lib/nod/nod.db", db)
            argv = exec_argv(exec_start, tmp, h.binary("nod"))
            with h.Process(argv, tmp, port=port) as p:
                text = h.scrape(port)
                mode = stat.S_IMODE(os.stat(sock).st_mode)
                self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
            self.assertEqual(mode, 0o666, p.log())
            self.assertTrue(any(line.startswith("nod_") for line in text.splitlines()), text[:500])
            self.assertTrue(os.path.exists(db))


if __name__ == "__main__":
    unittest.main()
