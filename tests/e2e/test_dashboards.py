"""The Grafana dashboards in dashboards/, proven against a real Prometheus.

Debian's Prometheus scrapes, every second, the real nixos-exporter on a copy of the nixos-basic
fixture root (with a store database real Nix created, the fixture's rows in it, and a real local
flake for the flake collector), Debian's real node_exporter, and nod's metrics endpoint, fed Nix log
streams captured from real Nix builds (a substitution from a local binary cache, a build, a failing
build). It also loads rules/*.yml. Then every query of every dashboard panel, its variables
expanded to match every host, must parse and return data (a value, not only NaN); a panel that
reads a metric nobody exports fails. The check itself is shown to fail on a bogus query.
"""
import contextlib
import http.server
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

import harness as h
import monitoring_support as ms

sys.path.insert(0, ms.DASHBOARDS_DIR)
import generate  # noqa: E402  (dashboards/generate.py)

# Grafana's variables, expanded as Grafana would with "All" selected and a short time range.
VARIABLES = {
    "instance": ".*",
    # Longer than the test runs: nod's counters move once, when the captured streams are fed.
    "__rate_interval": "2m",
    "__interval": "1s",
    "__range": "5m",
    "datasource": "prometheus",
}


def expand(expr, values=VARIABLES):
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", sub, expr)


def panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows keep their panels inside


def targets(dashboard):
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield p, t


def git(*args, cwd):
    env = dict(os.environ, GIT_AUTHOR_NAME="nixmon", GIT_AUTHOR_EMAIL="nixmon@example.org",
               GIT_COMMITTER_NAME="nixmon", GIT_COMMITTER_EMAIL="nixmon@example.org")
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_flake(tmp, env):
    """A local git flake with one locked input named nixpkgs (itself a plain git repo), so that
    `nix flake metadata` gives the exporter revisions and input ages without any network."""
    dep = os.path.join(tmp, "nixpkgs")
    os.makedirs(dep)
    with open(os.path.join(dep, "default.nix"), "w") as f:
        f.write(f"# a stand-in for nixpkgs, {tmp}\n{{ }}\n")
    git("init", "-q", cwd=dep)
    git("add", ".", cwd=dep)
    git("commit", "-qm", "nixpkgs", cwd=dep)
    flake = os.path.join(tmp, "flake")
    os.makedirs(flake)
    with open(os.path.join(flake, "flake.nix"), "w") as f:
        f.write('{\n  inputs.nixpkgs = { url = "git+file://%s"; flake = false; };\n'
                '  outputs = { self, nixpkgs }: { };\n}\n' % dep)
    git("init", "-q", cwd=flake)
    git("add", ".", cwd=flake)
    git("commit", "-qm", "flake", cwd=flake)
    subprocess.run(["nix", "--extra-experimental-features", "nix-command flakes", "flake", "lock"],
                   cwd=flake, env=env, check=True, capture_output=True)
    git("add", "flake.lock", cwd=flake)
    git("commit", "-qm", "lock", cwd=flake)
    return "git+file://" + flake


def make_store_db(root, env):
    """The store database of the fixture root: real Nix creates it (so the schema is Nix's own),
    then the fixture's rows go in, as the store collector's own tests do."""
    subprocess.run(["nix-store", "--store", root, "--dump-db"], env=env, check=True, capture_output=True)
    sql = os.path.join(h.SOURCE_DIR, "tests", "fixtures", "store-db", "nixos-basic.sql")
    with open(sql) as f, contextlib.closing(sqlite3.connect(os.path.join(root, "nix/var/nix/db/db.sqlite"))) as db:
        db.executescript(f.read())
        db.commit()


BUILDS_NIX = """
let
  mk = name: script: derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ];
  };
  # Big enough (about 20 kB) that Nix reports the NAR's size while it unpacks it.
  big = n: "i=0; while [ $i -lt 2000 ]; do echo ${n} $i; i=$((i+1)); done > $out";
in {
  cached1 = mk "nixmon-cached1-@STAMP@" (big "cached1");
  cached2 = mk "nixmon-cached2-@STAMP@" (big "cached2");
  ok1 = mk "nixmon-ok1-@STAMP@" "echo building; echo ok1 > $out";
  ok2 = mk "nixmon-ok2-@STAMP@" "echo building; echo ok2 > $out";
  bad1 = mk "nixmon-bad1-@STAMP@" "echo failing >&2; exit 1";
  bad2 = mk "nixmon-bad2-@STAMP@" "echo failing >&2; exit 1";
}
"""


def capture_nix_streams(tmp, env):
    """Nix's internal-json log streams of real builds (Nix 2.8, the machine's store, names unique
    to this run): two paths substituted from a binary cache that Python's HTTP server serves on
    loopback (so the stream carries downloaded and NAR bytes), two builds, two failing builds.
    Returned as two rounds of three, so that every counter nod exports exists before it rises
    (Prometheus sees no increase in a series born at its final value)."""
    cache = os.path.join(tmp, "binary-cache")
    nixfile = os.path.join(tmp, "builds.nix")
    with open(nixfile, "w") as f:
        f.write(BUILDS_NIX.replace("@STAMP@", f"{os.getpid()}-{time.time_ns()}"))
    for attr in ("cached1", "cached2"):
        out = subprocess.run(["nix-build", nixfile, "-A", attr, "--no-out-link", "--option", "substituters", ""],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(["nix", "--extra-experimental-features", "nix-command", "copy", "--to", f"file://{cache}", out],
                       env=env, check=True, capture_output=True)
        subprocess.run(["nix-store", "--delete", out], env=env, check=True, capture_output=True)
    rounds = []
    with serve_directory(cache) as url:
        for n in ("1", "2"):
            streams = []
            for attr, succeeds in (("cached", True), ("ok", True), ("bad", False)):
                r = subprocess.run(["nix-build", nixfile, "-A", attr + n, "--no-out-link", "--log-format", "internal-json",
                                    "--option", "substituters", url, "--option", "require-sigs", "false"],
                                   env=env, capture_output=True)
                assert (r.returncode == 0) == succeeds, r.stderr.decode(errors="replace")[-2000:]
                streams.append(r.stderr)
            rounds.append(streams)
    return rounds


@contextlib.contextmanager
def serve_directory(directory):
    """A real HTTP server (the standard library's) serving `directory` on a free loopback port."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def feed(socket_path, streams):
    """Sends each stream to nod's socket on its own connection, as separate Nix processes do."""
    for data in streams:
        with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as c:
            c.connect(socket_path)
            c.sendall(data)


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        status, _, body = h.http_get(url, timeout=20)
        try:
            doc = json.loads(body)
        except ValueError:
            raise AssertionError(f"{path}: HTTP {status}: {body[:300]!r}")
        return doc

    def query(self, expr):
        return self.api("query", query=expr)

    def query_range(self, expr, seconds=20):
        end = time.time()
        return self.api("query_range", query=expr, start=end - seconds, end=end, step=1)


def problem(doc):
    """None if a query answer holds data, else what is wrong with it. A result that is NaN
    everywhere (a quantile of no observations, 0/0) shows nothing on a panel: no data."""
    if doc.get("status") != "success":
        return f"{doc.get('errorType')}: {doc.get('error')}"
    kind, result = doc["data"]["resultType"], doc["data"]["result"]
    if kind == "vector":
        values = [r["value"][1] for r in result]
    elif kind == "matrix":
        values = [v[1] for r in result for v in r["values"]]
    else:
        values = [result[1]]
    if not any(v.lower() not in ("nan", "+inf", "-inf") for v in values):
        return "no data" if not values else "only NaN"
    return None


def serve_exposition(stack, text, path="/metrics", params=None):
    """A loopback HTTP server answering `path` (with exactly these query `params`, when given) with
    the exposition `text`, each `*_total` counter grown with the seconds since the server started
    (so that rates have data); anything else is a 404. Returns its port."""
    started = time.monotonic()

    def body():
        grown = 1 + (time.monotonic() - started)
        out = []
        for line in text.splitlines():
            name = re.split(r"[{ ]", line, 1)[0]
            if line and not line.startswith("#") and name.endswith("_total"):
                head, value = line.rsplit(" ", 1)
                line = f"{head} {float(value) * grown}"
            out.append(line)
        return ("\n".join(out) + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            ok = url.path == path and (params is None or urllib.parse.parse_qs(url.query) == params)
            data = body() if ok else b"not found\n"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return server.server_address[1]


# The Proxmox VE node the pve job asks about (the exporter's `target` parameter; our module's
# relabelling makes it the `instance` label).
PVE_TARGET = "pve1"


def add_channels(tmp, root, stack):
    """Gives the host root channels (the nixos-channels fixture's profile and store paths) whose
    upstream is a loopback server answering <channel>/git-revision; returns its port."""
    channels = h.copy_root("nixos-channels", os.path.join(tmp, "channels-root"))
    for part in ("nix/store", "nix/var/nix/profiles/per-user"):
        shutil.copytree(os.path.join(channels, part), os.path.join(root, part), symlinks=True,
                        dirs_exist_ok=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = {"/nixos-24.05/git-revision": b"c" * 40 + b"\n",
                    "/nixpkgs-unstable/git-revision": b"5e2a59a5b1a82f89f2c7e598302a9cacebb72a67\n"}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    port = server.server_address[1]
    os.makedirs(os.path.join(root, "root"), exist_ok=True)
    with open(os.path.join(root, "root", ".nix-channels"), "w") as f:
        f.write(f"http://127.0.0.1:{port}/nixos-24.05 nixos\nhttp://127.0.0.1:{port}/nixpkgs-unstable unstable\n")
    return port


class Dashboards(h.SharedStackTestCase):
    @classmethod
    def _start(cls):
        tmp = cls.stack.enter_context(h.TempDir())
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = dict(os.environ, HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"))
        root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
        make_store_db(root, env)
        # The restart collector's fake /proc: its processes run store paths outside nixos-basic's
        # system, so the restart debt panel has units to list.
        shutil.copytree(h.fixture("roots", "nixos-restart", "proc"), os.path.join(root, "proc"), symlinks=True)
        flake_url = make_flake(tmp, env)
        add_channels(tmp, root, cls.stack)

        jobs = {}
        port = h.free_port()
        exporter = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                              "--collector.flake", f"--flake.url={flake_url}",
                              "--collector.restart", "--collector.channel", "--channel.check-interval=1s"], tmp, env=env, port=port)
        cls.stack.enter_context(exporter)
        jobs["nixos"] = port

        port = h.free_port()
        textfiles = os.path.join(tmp, "textfiles")
        os.makedirs(textfiles)
        cls.stack.enter_context(h.Process([h.tool("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}",
                                           f"--collector.textfile.directory={textfiles}"], tmp, port=port))
        jobs["node"] = port

        port = h.free_port()
        cls.nod_socket = os.path.join(tmp, "nod.sock")
        cls.stack.enter_context(h.Process([h.binary("nod"), "--socket", cls.nod_socket, "--db", os.path.join(tmp, "nod.db"),
                                           "daemon", f"--metrics.listen=127.0.0.1:{port}"], tmp, port=port))
        jobs["nod"] = port
        cls.nix_streams = capture_nix_streams(tmp, env)

        # cAdvisor and prometheus-pve-exporter are not packaged here: their documented expositions
        # (tests/fixtures/expositions/) stand in, served as the exporters would. The pve one only
        # answers the multi-target request that services.nixmon.proxmox's scrape job makes.
        jobs["cadvisor"] = serve_exposition(cls.stack, ms.fixture_exposition("cadvisor.prom"))
        cls.pve_port = serve_exposition(cls.stack, ms.fixture_exposition("pve.prom"), path="/pve",
                                        params={"target": [PVE_TARGET], "cluster": ["1"], "node": ["1"]})

        cls.prom_port = h.free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
            f.write("rule_files:\n" + "".join(f"  - {json.dumps(r)}\n" for r in ms.rule_files()))
            f.write("scrape_configs:\n")
            for job, p in jobs.items():
                f.write(f"  - job_name: {job}\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{p}']\n        labels: {{host: fixture}}\n")
            # As nix/modules/nixmon/proxmox.nix writes it (its own test checks that job).
            f.write("  - job_name: pve\n    metrics_path: /pve\n"
                    "    params: {cluster: ['1'], node: ['1']}\n"
                    f"    static_configs:\n      - targets: ['{PVE_TARGET}']\n"
                    "    relabel_configs:\n"
                    "      - {source_labels: [__address__], target_label: __param_target}\n"
                    "      - {source_labels: [__param_target], target_label: instance}\n"
                    f"      - {{target_label: __address__, replacement: '127.0.0.1:{cls.pve_port}'}}\n")
        cls.prometheus = h.Process([h.tool("prometheus"), f"--config.file={config}",
                                    f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                    f"--web.listen-address=127.0.0.1:{cls.prom_port}", "--log.level=warn"],
                                   tmp, port=cls.prom_port)
        cls.stack.enter_context(cls.prometheus)
        cls.prom = Prometheus(cls.prom_port)
        cls.jobs = jobs
        cls._wait_for_data()

    @classmethod
    def _wait_for_data(cls):
        """Until every target was scraped a few times and the background figures (store, gc, flake)
        arrived: dashboards read them, and the exporter computes them off the scrape path."""
        needed = [
            f"min(count_over_time(up[1m])) >= 4",
            f"count(up == 1) == {len(cls.jobs) + 1}",  # and the pve job
            f'pve_up{{job="pve",instance="{PVE_TARGET}"}}',
            "count_over_time(container_cpu_cfs_periods_total[1m]) >= 3",
            "nixos_store_analysis_ready == 1",
            "nixos_gc_analysis_ready == 1",
            "nixos_flake_input_age_seconds",
            # two scrapes with the background figures, so that rates over them have two samples
            "count_over_time(nixos_flake_last_check_success_timestamp_seconds[1m]) >= 3",
            "nixos_channel_behind",
            "count_over_time(nixos_channel_upstream_checks_total[1m]) >= 3",
        ]
        # Generous: the machine may be busy; the usual wait is a few seconds.
        deadline = time.monotonic() + 90
        while h.http_get(f"{cls.prom.base}/-/ready")[0] != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus is not ready:\n{cls.prometheus.log()}")
            time.sleep(0.2)
        while True:
            missing = [e for e in needed if problem(cls.prom.query(e))]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus has no data for {missing}:\n{cls.prometheus.log()}")
            time.sleep(0.5)
        # nod: the first round creates every series, the second makes each rise once Prometheus
        # has scraped the first.
        deadline = time.monotonic() + 60
        for i, streams in enumerate(cls.nix_streams):
            feed(cls.nod_socket, streams)
            expected = 2 * (i + 1)
            # Cache queries too: they finish after the substitution they serve, and a panel's
            # increase() needs the second round's rise in Prometheus (seen missing under load).
            ready = (f"sum(nod_builds_total) >= {expected} and sum(nod_substitutions_total) >= {i + 1}"
                     f" and sum(nod_cache_queries_total) >= {i + 1}")
            while problem(cls.prom.query(ready)):
                if time.monotonic() > deadline:
                    raise AssertionError(f"nod's metrics never showed round {i + 1}:\n{cls.prometheus.log()}")
                time.sleep(0.5)

    def dashboards(self):
        files = ms.dashboard_files()
        self.assertGreaterEqual(len(files), 3, files)
        out = {}
        for path in files:
            with open(path) as f:
                out[os.path.basename(path)] = json.load(f)
        return out

    def test_every_panel_query_returns_data(self):
        checked = 0
        for name, d in self.dashboards().items():
            for panel, target in targets(d):
                expr = expand(target["expr"])
                with self.subTest(dashboard=name, panel=panel["title"], ref=target["refId"]):
                    self.assertIsNone(problem(self.prom.query(expr)), expr)
                    if target.get("range", True) and not target.get("instant") or panel["type"] == "timeseries":
                        self.assertIsNone(problem(self.prom.query_range(expr)), f"range: {expr}")
                checked += 1
        self.assertGreater(checked, 40)

    def test_every_metric_a_panel_reads_is_in_prometheus(self):
        names = set(self.prom.api("label/__name__/values")["data"])
        for name, d in self.dashboards().items():
            for panel, target in targets(d):
                for metric in ms.metric_names(expand(target["expr"])):
                    with self.subTest(dashboard=name, panel=panel["title"], metric=metric):
                        self.assertTrue(metric in names, f"nobody exports {metric}")

    def test_the_check_fails_on_a_bogus_panel(self):
        bogus = 'nixos_no_such_metric{instance=~"$instance(:[0-9]+)?"}'
        self.assertEqual(problem(self.prom.query(expand(bogus))), "no data")
        self.assertEqual(problem(self.prom.query_range(expand(bogus))), "no data")
        self.assertIn("bad_data", problem(self.prom.query(expand("sum(rate(up[$__rate_interval])"))))
        self.assertEqual(problem(self.prom.query("histogram_quantile(0.5, rate(nod_build_duration_seconds_bucket[1s] offset 1h))")), "no data")
        self.assertEqual(problem(self.prom.query("0 / (0 * sum(up))")), "only NaN")
        self.assertNotIn("nixos_no_such_metric", set(self.prom.api("label/__name__/values")["data"]))
        with self.assertRaises(KeyError):
            expand("up{instance=~\"$nosuchvariable\"}")

    def test_the_instance_variable_selects_a_host_across_its_exporters(self):
        # The NixOS hosts' dashboards offer the hosts running nixos-exporter; the Proxmox VE one
        # the nodes the pve job asked.
        expected = {"nixos_exporter_build_info": ([f"127.0.0.1:{self.jobs['nixos']}"], {"127.0.0.1"}),
                    "pve_up": ([PVE_TARGET], {PVE_TARGET})}
        for name, d in self.dashboards().items():
            var = {v["name"]: v for v in d["templating"]["list"]}["instance"]
            m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", var["query"]["query"])
            self.assertTrue(m, var["query"])
            self.assertIn(m.group(1), expected, name)
            values = self.prom.api(f"label/{m.group(2)}/values", **{"match[]": m.group(1)})["data"]
            self.assertEqual(values, expected[m.group(1)][0], name)
            hosts = {re.match(var["regex"].strip("/"), v).group(1) for v in values}
            self.assertEqual(hosts, expected[m.group(1)][1])
        # One host chosen: its exporters on every port, nothing of another host.
        one = dict(VARIABLES, instance=r"127\\.0\\.0\\.1")
        r = self.prom.query(expand('up{instance=~"$instance(:[0-9]+)?"}', one))
        self.assertEqual({s["metric"]["job"] for s in r["data"]["result"]}, set(self.jobs))
        other = dict(VARIABLES, instance="127\\\\.0\\\\.0\\\\.2")
        self.assertEqual(problem(self.prom.query(expand('up{instance=~"$instance(:[0-9]+)?"}', other))), "no data")

    def test_dashboards_are_well_formed(self):
        uids = set()
        for name, d in self.dashboards().items():
            with self.subTest(dashboard=name):
                self.assertNotIn(d["uid"], uids)
                uids.add(d["uid"])
                self.assertIn("nixmon", d["tags"])
                variables = [v["name"] for v in d["templating"]["list"]]
                self.assertEqual(variables[:2], ["datasource", "instance"])
                ids = [p["id"] for p in panels(d)]
                self.assertEqual(len(ids), len(set(ids)))
                for p in panels(d):
                    self.assertTrue(p["title"])
                    self.assertLessEqual(p["gridPos"]["x"] + p["gridPos"]["w"], 24, p["title"])
                    if p["type"] == "row":
                        continue
                    self.assertTrue(p.get("description"), p["title"])
                    self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
                    self.assertTrue(p["targets"], p["title"])
                    for t in p["targets"]:
                        self.assertEqual(t["datasource"]["uid"], "${datasource}")
                        # every query is scoped by the host variable
                        self.assertIn('instance=~"$instance(:[0-9]+)?"', t["expr"], p["title"])

    def test_committed_json_is_what_generate_py_writes(self):
        rendered = generate.render()
        self.assertEqual(sorted(rendered), sorted(self.dashboards()))
        for name, text in rendered.items():
            with open(os.path.join(ms.DASHBOARDS_DIR, name)) as f:
                self.assertEqual(f.read(), text, f"dashboards/{name} differs: run dashboards/generate.py")

    def test_rules_load_and_evaluate_on_a_real_prometheus(self):
        groups = self.prom.api("rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        expected = sum(len(ms.alerts_in(f)) for f in ms.rule_files())
        self.assertEqual(len(rules), expected)
        deadline = time.monotonic() + 10
        while any(r.get("lastEvaluation", "").startswith("0001") for r in rules) and time.monotonic() < deadline:
            time.sleep(0.5)
            rules = [r for g in self.prom.api("rules")["data"]["groups"] for r in g["rules"]]
        for r in rules:
            with self.subTest(rule=r["name"]):
                self.assertEqual(r["health"], "ok", r.get("lastError"))
        # The fixture's booted and current systems differ in kernel, initrd, modules and systemd:
        # NixOSRebootRequired is pending (its `for:` is a day), with the reasons in its summary.
        alerts = self.prom.api("alerts")["data"]["alerts"]
        reboot = [a for a in alerts if a["labels"]["alertname"] == "NixOSRebootRequired"]
        self.assertEqual(len(reboot), 1, alerts)
        self.assertEqual(reboot[0]["state"], "pending")
        self.assertEqual(reboot[0]["labels"]["host"], "fixture")
        self.assertEqual(reboot[0]["annotations"]["summary"],
                         "fixture needs reboot to apply config (initrd, kernel, kernel_modules, systemd)")
        # Nothing in the fixture is broken: no collector alert.
        self.assertFalse([a for a in alerts if a["labels"]["alertname"] == "NixOSExporterCollectorFailed"], alerts)


if __name__ == "__main__":
    unittest.main()
