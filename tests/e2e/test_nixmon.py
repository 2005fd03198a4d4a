"""`nixmon` against the real thing: Debian's Prometheus (rules/*.yml loaded, lifecycle API on)
scraping a small fleet every second, and Debian's Alertmanager delivering to a webhook receiver
this test runs on loopback.

The fleet, one `host` label per machine as the nixmon NixOS module gives its targets:
  db1     nixos-basic (booted 2, running 3: reboot needed for kernel, initrd, modules, systemd),
          with a store database real Nix made and the fixture's rows, so store and gc report
  web1    nixos-restart (a switch from generation 1 to 2 that needs no reboot), plus a real
          node_exporter
  build1  nixos-basic with root channels whose upstream (a loopback server) has moved on, so it
          is behind, and a real nod fed a captured failing build (tests/fixtures/nix-logs)
  old1    a target nothing listens on: down, everything else about it unknown
A test rule fires at once for every host that needs a reboot, and one stays pending.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

import harness as h
import monitoring_support as ms
import test_dashboards as td  # the fixture helpers: store database, channels, Prometheus API

TEST_RULES = """groups:
  - name: nixmon-e2e
    rules:
      - alert: NixmonE2eRebootNeeded
        expr: max by (host, instance, job) (nixos_reboot_required) == 1
        labels:
          severity: warning
        annotations:
          summary: '{{ $labels.host }} needs a reboot'
      - alert: NixmonE2eTargetDown
        expr: up == 0
        for: 1h
        labels:
          severity: critical
"""

ALERTMANAGER_CONFIG = """route:
  receiver: team
  group_by: [alertname, host]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:{port}/team
        send_resolved: true
  - name: pager
    webhook_configs:
      - url: http://127.0.0.1:{port}/pager
        send_resolved: true
"""


class Webhook:
    """A loopback HTTP server that keeps every notification Alertmanager posts to it."""

    def __init__(self):
        self.received = []  # (path, parsed body)
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def pin_generation_age(root, seconds):
    """Dates every profile link `seconds` ago (Nix dates a generation by its link's mtime), so the
    AGE column is the same on every run."""
    stamp = time.time() - seconds
    profiles = os.path.join(root, "nix/var/nix/profiles")
    for dirpath, dirnames, filenames in os.walk(profiles):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                os.utime(p, (stamp, stamp), follow_symlinks=False)


def nixmon(*args, env=None, timeout=60):
    e = dict(os.environ, NO_COLOR="1")
    e.update(env or {})
    return subprocess.run([h.binary("nixmon"), *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


class Fleet(h.SharedStackTestCase):
    @classmethod
    def _start(cls):
        tmp = cls.stack.enter_context(h.TempDir())
        cls.tmp = tmp
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = dict(os.environ, HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"))
        three_days = 3 * 86400 + 3600

        targets = {"nixos": {}, "nod": {}, "node": {}}

        def exporter(host, root, *extra):
            port = h.free_port()
            cls.stack.enter_context(h.Process(
                [h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}", *extra],
                tmp, name=f"exporter-{host}", env=env, port=port))
            targets["nixos"][host] = port

        db1 = h.copy_root("nixos-basic", os.path.join(tmp, "db1"))
        td.make_store_db(db1, env)
        pin_generation_age(db1, three_days)
        exporter("db1", db1)

        web1 = h.copy_root("nixos-restart", os.path.join(tmp, "web1"))
        pin_generation_age(web1, three_days)
        exporter("web1", web1)
        port = h.free_port()
        textfiles = os.path.join(tmp, "textfiles")
        os.makedirs(textfiles)
        cls.stack.enter_context(h.Process([h.tool("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}",
                                           f"--collector.textfile.directory={textfiles}"], tmp, port=port))
        targets["node"]["web1"] = port

        build1 = h.copy_root("nixos-basic", os.path.join(tmp, "build1"))
        td.add_channels(tmp, build1, cls.stack)
        pin_generation_age(build1, three_days)
        exporter("build1", build1, "--collector.channel", "--channel.check-interval=1s")
        port = h.free_port()
        cls.nod_socket = os.path.join(tmp, "nod.sock")
        cls.stack.enter_context(h.Process([h.binary("nod"), "--socket", cls.nod_socket, "--db", os.path.join(tmp, "nod.db"),
                                           "daemon", f"--metrics.listen=127.0.0.1:{port}"], tmp, port=port))
        targets["nod"]["build1"] = port

        targets["nixos"]["old1"] = h.free_port()  # nothing listens there

        cls.webhook = Webhook()
        cls.stack.callback(cls.webhook.close)
        cls.am_port = h.free_port()
        cls.am_config = os.path.join(tmp, "alertmanager.yml")
        with open(cls.am_config, "w") as f:
            f.write(ALERTMANAGER_CONFIG.format(port=cls.webhook.port))
        cls.stack.enter_context(h.Process(
            [h.tool("prometheus-alertmanager"), f"--config.file={cls.am_config}",
             f"--storage.path={os.path.join(tmp, 'am-data')}",
             f"--web.listen-address=127.0.0.1:{cls.am_port}", "--cluster.listen-address=",
             "--log.level=warn"], tmp, name="alertmanager", port=cls.am_port))

        test_rules = os.path.join(tmp, "nixmon-e2e-rules.yml")
        with open(test_rules, "w") as f:
            f.write(TEST_RULES)
        cls.prom_port = h.free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
            f.write("rule_files:\n" + "".join(f"  - {json.dumps(r)}\n" for r in ms.rule_files() + [test_rules]))
            f.write(f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{cls.am_port}']\n")
            f.write("scrape_configs:\n")
            for job, hosts in targets.items():
                f.write(f"  - job_name: {job}\n    static_configs:\n")
                for host, p in sorted(hosts.items()):
                    f.write(f"      - targets: ['127.0.0.1:{p}']\n        labels: {{host: {host}}}\n")
        cls.prometheus = h.Process([h.tool("prometheus"), f"--config.file={config}",
                                    f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                    f"--web.listen-address=127.0.0.1:{cls.prom_port}", "--web.enable-lifecycle",
                                    "--log.level=warn"], tmp, port=cls.prom_port)
        cls.stack.enter_context(cls.prometheus)
        cls.prom = td.Prometheus(cls.prom_port)
        cls.env = {"NIXMON_PROMETHEUS_URL": f"http://127.0.0.1:{cls.prom_port}",
                   "NIXMON_ALERTMANAGER_URL": f"http://127.0.0.1:{cls.am_port}"}
        cls._wait_for_fleet()

    @classmethod
    def _wait_until(cls, exprs, seconds, what):
        deadline = time.monotonic() + seconds
        while True:
            missing = [e for e in exprs if td.problem(cls.prom.query(e))]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: Prometheus has no data for {missing}:\n{cls.prometheus.log()}")
            time.sleep(0.5)

    @classmethod
    def _wait_for_fleet(cls):
        deadline = time.monotonic() + 90
        while h.http_get(f"{cls.prom.base}/-/ready")[0] != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus is not ready:\n{cls.prometheus.log()}")
            time.sleep(0.2)
        cls._wait_until([
            "count(up == 1) == 5",
            'up{host="old1"} == 0',
            'nixos_store_analysis_ready{host="db1"} == 1',
            'nixos_gc_analysis_ready{host="db1"} == 1',
            'nixos_channel_behind{host="build1"} == 1',
            'nod_build_info{host="build1"}',
        ], 90, "fleet")
        # nod: the first failure creates the counter, the second makes it rise once Prometheus has
        # seen it (increase() counts from a series' first sample); then enough samples after the
        # rise that the 24 h increase rounds to the one failure it is.
        with open(h.fixture("nix-logs", "build-failure.log"), "rb") as f:
            failure = f.read()
        td.feed(cls.nod_socket, [failure])
        cls._wait_until(['nod_builds_total{outcome="failed"}'], 60, "first failure")
        time.sleep(2)
        td.feed(cls.nod_socket, [failure])
        cls._wait_until(['nod_builds_total{outcome="failed"} >= 2'], 60, "second failure")
        time.sleep(12)
        cls._wait_until([
            'count(ALERTS{alertname="NixmonE2eRebootNeeded",alertstate="firing"}) == 2',
            'ALERTS{alertname="NixmonE2eTargetDown",alertstate="pending"}',
        ], 60, "alerts")

    def hosts_json(self):
        r = nixmon("hosts", "--output", "json", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {row["host"]: row for row in json.loads(r.stdout)}

    # --- nixmon hosts ----------------------------------------------------------------------

    def test_hosts_table_golden(self):
        r = nixmon("hosts", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\033", r.stdout, "NO_COLOR is set: no escape codes")
        # /BOOT is the use of this machine's file system: masked with its padding, so the
        # columns stay put whatever the figure's width.
        text = re.sub(r"(?<= )\d{1,3}% +", lambda m: "NN%".ljust(len(m.group())), r.stdout)
        h.check_golden(self, "tests/e2e/golden/nixmon-hosts.txt", text)

    def test_hosts_json_golden(self):
        r = nixmon("hosts", "--output", "json", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = re.sub(r'"(boot_used_ratio|generation_age_seconds)":[0-9.e+-]+', r'"\1":"<volatile>"', r.stdout)
        h.check_golden(self, "tests/e2e/golden/nixmon-hosts.json", text)

    def test_hosts_states(self):
        hosts = self.hosts_json()
        self.assertEqual(sorted(hosts), ["build1", "db1", "old1", "web1"])
        old1 = hosts["old1"]
        self.assertIs(old1["up"], False)
        self.assertEqual(old1["down_jobs"], ["nixos"])
        for field in ("nixos_version", "generation", "reboot_required", "behind", "store_bytes",
                      "build_failures_24h", "boot_used_ratio"):
            self.assertIsNone(old1[field], f"old1's {field} is unknown, never 0 or false")
        db1 = hosts["db1"]
        self.assertIs(db1["reboot_required"], True)
        self.assertEqual(db1["reboot_reasons"], ["initrd", "kernel", "kernel_modules", "systemd"])
        self.assertEqual(db1["nixos_version"], "24.05.20240301.ccccccc")
        self.assertEqual(db1["generation"], 3)
        self.assertGreater(db1["store_bytes"], 0)
        self.assertIsNotNone(db1["reclaimable_bytes"])
        self.assertIsNone(db1["behind"], "no flake or channel collector on db1: unknown")
        self.assertIsNone(db1["build_failures_24h"], "no nod on db1: unknown")
        self.assertEqual([a["alertname"] for a in db1["firing"]], ["NixmonE2eRebootNeeded"])
        build1 = hosts["build1"]
        self.assertIs(build1["behind"], True)
        self.assertIn("channel nixos", build1["behind_what"])
        self.assertEqual(build1["build_failures_24h"], 1)
        self.assertIsNone(build1["store_bytes"], "no store database on build1: unknown")
        web1 = hosts["web1"]
        self.assertIs(web1["up"], True)
        self.assertEqual(web1["firing"], [])
        # Worst first: the down host, then the two that fire an alert.
        order = [row["host"] for row in json.loads(nixmon("hosts", "--output", "json", env=self.env).stdout)]
        self.assertEqual(order[0], "old1")
        self.assertEqual(order[-1], "web1")

    def test_hosts_csv(self):
        r = subprocess.run([h.binary("nixmon"), "hosts", "--output=csv"], capture_output=True,
                           env=dict(os.environ, **self.env), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().split("\r\n")  # RFC 4180 line ends
        self.assertTrue(lines[0].startswith("host,up,nixos_version,"))
        self.assertIn("old1,false,,,,,,,,,,,,", lines)

    def test_colour_on_a_terminal_unless_no_color(self):
        import pty
        for no_color, expect in ((None, True), ("1", False)):
            env = dict(os.environ, **self.env)
            env.pop("NO_COLOR", None)
            if no_color:
                env["NO_COLOR"] = no_color
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(h.binary("nixmon"), ["nixmon", "hosts"], env)
            out = b""
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            os.waitpid(pid, 0)
            self.assertEqual(b"\033[" in out, expect, out[:300])

    # --- nixmon status ---------------------------------------------------------------------

    def test_status(self):
        r = nixmon("status", "--output", "json", env=self.env)
        self.assertEqual(r.returncode, 1, "a target is down: unhealthy\n" + r.stderr)
        doc = json.loads(r.stdout)
        down = [t for t in doc["targets"] if t["health"] != "up"]
        self.assertEqual([t["host"] for t in down], ["old1"])
        self.assertIn("connection refused", down[0]["last_error"])
        failing = {(c["host"], c["collector"]) for c in doc["failing_collectors"]}
        # build1 has no store database: its store and gc collectors fail; db1's do not.
        self.assertIn(("build1", "store"), failing)
        self.assertNotIn(("db1", "store"), failing)
        self.assertEqual(doc["failing_rules"], [])
        self.assertEqual({r["server"]: r["successful"] for r in doc["config_reload"]},
                         {"prometheus": True, "alertmanager": True})
        self.assertIs(doc["healthy"], False)
        table = nixmon("status", env=self.env)
        self.assertIn("Targets: 5 up, 1 not up", table.stdout)
        # A target that is up has no scrape error, which is known: "none", not the "-" of unknown.
        self.assertRegex(table.stdout, r"(?m)\bweb1\s+up\s+none\s*$")
        self.assertNotRegex(table.stdout, r"(?m)\s+up\s+-\s*$")
        self.assertRegex(table.stdout, r"prometheus\s+successful")

    # --- nixmon alerts ---------------------------------------------------------------------

    def test_alerts_firing_pending_and_silenced(self):
        deadline = time.monotonic() + 60
        while True:
            doc = json.loads(nixmon("alerts", "--output", "json", env=self.env).stdout)
            firing = {(a["host"], a["alertname"]) for a in doc["alerts"] if a["state"] == "firing"}
            if {("db1", "NixmonE2eRebootNeeded"), ("build1", "NixmonE2eRebootNeeded")} <= firing:
                break
            self.assertLess(time.monotonic(), deadline, f"Alertmanager never had the alerts: {doc}")
            time.sleep(0.5)
        pending = {(a["host"], a["alertname"]) for a in doc["alerts"] if a["state"] == "pending"}
        self.assertIn(("old1", "NixmonE2eTargetDown"), pending)
        self.assertFalse(pending & firing, "an alert is pending or firing, not both")
        summary = [a["summary"] for a in doc["alerts"] if a["host"] == "db1"]
        self.assertIn("db1 needs a reboot", summary)

        silence = {"matchers": [{"name": "host", "value": "build1", "isRegex": False}],
                   "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
                   "createdBy": "nixmon-e2e", "comment": "rebooting tonight"}
        req = urllib.request.Request(f"http://127.0.0.1:{self.am_port}/api/v2/silences",
                                     data=json.dumps(silence).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            silence_id = json.loads(r.read())["silenceID"]
        try:
            deadline = time.monotonic() + 30
            while True:
                r = nixmon("alerts", env=self.env)
                if "silenced by " + silence_id in r.stdout:
                    break
                self.assertLess(time.monotonic(), deadline, r.stdout)
                time.sleep(0.5)
            self.assertRegex(r.stdout, r"build1\s+NixmonE2eRebootNeeded\s+warning\s+silenced by")
            self.assertRegex(r.stdout, r"db1\s+NixmonE2eRebootNeeded\s+warning\s+firing")
            self.assertIn("Silences:", r.stdout)
            self.assertIn('{host="build1"}', r.stdout)
            self.assertIn("rebooting tonight", r.stdout)
        finally:
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{self.am_port}/api/v2/silence/{silence_id}", method="DELETE"), timeout=10)

    # --- nixmon test-alert -----------------------------------------------------------------

    def test_test_alert_is_routed_delivered_and_resolved(self):
        for severity, receiver in (("critical", "pager"), ("info", "team")):
            with self.subTest(severity=severity):
                r = nixmon("test-alert", "--severity", severity, "--host", "web1", "--wait", "30s",
                           env=self.env)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn(f"Routed to receivers: {receiver}\n", r.stdout)
                self.assertIn("Delivered via: webhook", r.stdout)
                self.assertIn("Resolve delivered via: webhook", r.stdout)
                test_id = re.search(r"nixmon_test=([\w-]+)", r.stdout).group(1)
                got = [(path, a["status"]) for path, body in self.webhook.received
                       for a in body["alerts"] if a["labels"].get("nixmon_test") == test_id]
                self.assertIn((f"/{receiver}", "firing"), got)
                self.assertIn((f"/{receiver}", "resolved"), got)
                alert = [a for _, body in self.webhook.received for a in body["alerts"]
                         if a["labels"].get("nixmon_test") == test_id][0]
                self.assertEqual(alert["labels"]["host"], "web1")
                self.assertEqual(alert["labels"]["severity"], severity)

    def test_test_alert_bad_severity_is_usage(self):
        r = nixmon("test-alert", "--severity", "loud", env=self.env)
        self.assertEqual(r.returncode, 2, r.stderr)

    # --- nixmon reload ---------------------------------------------------------------------

    def test_reload(self):
        r = nixmon("reload", env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"prometheus\s+ok\s+configuration loaded")
        self.assertRegex(r.stdout, r"alertmanager\s+ok\s+configuration loaded, config hash \d+")
        with open(self.am_config) as f:
            good = f.read()
        try:
            with open(self.am_config, "w") as f:
                f.write("route: [this is not a route\n")
            r = nixmon("reload", env=self.env)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertRegex(r.stdout, r"alertmanager\s+failed\s+HTTP status 500")
            self.assertRegex(r.stdout, r"prometheus\s+ok")
        finally:
            with open(self.am_config, "w") as f:
                f.write(good)
            self.assertEqual(nixmon("reload", env=self.env).returncode, 0)

    # --- errors ----------------------------------------------------------------------------

    def test_unreachable_and_silent_servers_fail_in_bounded_time(self):
        refused = f"http://127.0.0.1:{h.free_port()}"
        r = nixmon("hosts", "--prometheus", refused)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        # cpp-httplib names the failure ("Connection" in 0.11, longer in 0.43): one line, with the URL.
        self.assertRegex(r.stderr, rf"^nixmon: Prometheus: GET {re.escape(refused)}/api/v1/query: \w.*\n$")
        # A server that accepts connections and never answers: the read timeout ends it.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            for args in (("hosts", "--prometheus", url), ("alerts", "--alertmanager", url),
                         ("test-alert", "--alertmanager", url), ("reload", "--prometheus", url)):
                with self.subTest(args=args):
                    env = dict(self.env)
                    r = nixmon(*args, "--timeout", "1s", env=env, timeout=30)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    self.assertIn("nixmon: " if args[0] != "reload" else "failed", r.stderr + r.stdout)

    def test_usage_errors_exit_2(self):
        for args in (("hosts", "--prometheus", "localhost:9090"), ("hosts", "--no-such-flag"),
                     ("hosts", "--output", "yaml"), (), ("frobnicate",), ("hosts", "--timeout", "soon")):
            with self.subTest(args=args):
                r = nixmon(*args, env=self.env)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertNotEqual(r.stderr, "")
        r = nixmon("hosts", "--prometheus", "localhost:9090", env=self.env)
        self.assertEqual(r.stderr, 'nixmon: Prometheus URL "localhost:9090": not an http:// or https:// URL\n')


class DocumentedFlags(unittest.TestCase):
    """docs/nixmon.md names every subcommand and every flag `nixmon --help` and each subcommand's
    --help show."""

    def test_every_flag_of_help_is_documented(self):
        with open(os.path.join(h.SOURCE_DIR, "docs", "nixmon.md")) as f:
            doc = f.read()
        top = subprocess.run([h.binary("nixmon"), "--help"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
        subcommands = h.help_subcommands(top)
        self.assertEqual(sorted(subcommands), ["alerts", "hosts", "reload", "status", "test-alert"])
        missing = []
        for sub in [None] + subcommands:
            args = [h.binary("nixmon")] + ([sub] if sub else []) + ["--help"]
            text = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
            if sub:
                self.assertRegex(doc, rf"`nixmon {sub}\b", f"nixmon {sub} is not documented in docs/nixmon.md")
            for flag in h.help_flags(text) - {"--help"}:
                if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w.-])", doc):
                    missing.append(f"{sub or 'nixmon'} {flag}")
        self.assertEqual(sorted(set(missing)), [], "flags of --help not in docs/nixmon.md")


if __name__ == "__main__":
    unittest.main()
