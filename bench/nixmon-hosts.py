#!/usr/bin/env python3
"""`nixmon hosts` on a fleet of N hosts (default 1,000), beside the same questions asked as raw
PromQL with curl.

The fleet is written as OpenMetrics text: per host the series `nixmon hosts` reads (the
nixos-exporter's names as in docs/nixos-exporter.md, nod's nod_build_info and
nod_builds_total, `up` for three jobs, ALERTS for one host in ten), one sample every 5 minutes
over the last hour, a few hosts down, behind or needing a reboot. `promtool tsdb
create-blocks-from openmetrics` turns it into blocks in a fresh Prometheus data directory, and
Debian's Prometheus is started on it (loopback, free port, no scraping). Then, in alternating
rounds:

  A  nixmon hosts --output json           (its three queries at once, parsing, ranking, JSON)
  B  curl, the same three queries, one after the other, the answers thrown away
  C  curl, the two queries nixmon asked before it left out the reboot reasons that are 0

Each side's wall time is measured around the whole process; the ratio is taken round by round.
With --serve it prints the URL and keeps Prometheus up until interrupted, to time by hand.

    python3 bench/nixmon-hosts.py [--hosts 1000] [--rounds 11] [--serve]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness as h  # noqa: E402

REASONS = ("kernel", "initrd", "kernel_modules", "kernel_params", "systemd")


def write_fleet(path, hosts, now):
    """OpenMetrics text: one family after the other, each series' samples in time order."""
    stamps = [now - 3600 + 300 * i for i in range(13)]  # the last one is within Prometheus' 5 m lookback
    names = [f"host{i:04d}" for i in range(hosts)]

    def series(out, name, labels, value_of):
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for j, t in enumerate(stamps):
            out.write(f"{name}{{{lab}}} {value_of(j)} {t}\n")

    with open(path, "w") as out:
        def family(name, kind, each, sample_name=None):
            out.write(f"# TYPE {name} {kind}\n")
            for i, host in enumerate(names):
                for labels, value_of in each(i, host):
                    series(out, sample_name or name, labels, value_of)

        def base(i, host, job, port):
            return {"host": host, "instance": f"10.0.{i // 250}.{i % 250}:{port}", "job": job}

        def up(i, host):
            for job, port in (("nixos", 9971), ("nod", 9184), ("node", 9100)):
                down = i % 97 == 0 and job == "nixos"
                yield base(i, host, job, port), (lambda j, d=down: 0 if d else 1)

        family("up", "gauge", up)
        nixos = lambda i, host: base(i, host, "nixos", 9971)  # noqa: E731
        alive = lambda i: i % 97 != 0  # noqa: E731  (a down exporter has no series)
        family("nixos_system_info", "gauge", lambda i, host: [
            (dict(nixos(i, host), nixos_version="24.05.20240301.ccccccc"), lambda j: 1)] if alive(i) else [])
        family("nixos_current_generation", "gauge", lambda i, host: [(nixos(i, host), lambda j, g=100 + i % 7: g)] if alive(i) else [])
        family("nixos_generation_age_seconds", "gauge", lambda i, host: [(nixos(i, host), lambda j: 86400 * 3 + 300 * j)] if alive(i) else [])
        family("nixos_flake_revision_behind", "gauge", lambda i, host: [(nixos(i, host), lambda j, b=int(i % 13 == 0): b)] if alive(i) else [])
        family("nixos_reboot_required", "gauge", lambda i, host: [
            (dict(nixos(i, host), reason=r), lambda j, v=int(i % 11 == 0 and r in ("kernel", "initrd")): v) for r in REASONS] if alive(i) else [])
        family("nixos_boot_pending", "gauge", lambda i, host: [(nixos(i, host), lambda j: 0)] if alive(i) else [])
        family("nixos_boot_filesystem_avail_bytes", "gauge", lambda i, host: [(nixos(i, host), lambda j: 300e6 - i * 1e5)] if alive(i) else [])
        family("nixos_boot_filesystem_size_bytes", "gauge", lambda i, host: [(nixos(i, host), lambda j: 512e6)] if alive(i) else [])
        family("nixos_store_nar_bytes", "gauge", lambda i, host: [(nixos(i, host), lambda j: 40e9 + i * 1e7)] if alive(i) else [])
        family("nixos_gc_reclaimable_nar_bytes", "gauge", lambda i, host: [(nixos(i, host), lambda j: 2e9 + i * 1e6)] if alive(i) else [])
        family("nod_build_info", "gauge", lambda i, host: [(dict(base(i, host, "nod", 9184), version="0.1.0"), lambda j: 1)])
        family("nod_builds", "counter", lambda i, host: [
            (dict(base(i, host, "nod", 9184), machine="local", outcome="failed"), lambda j, k=i % 3: k * j),
            (dict(base(i, host, "nod", 9184), machine="local", outcome="success"), lambda j: 10 * j)],
            sample_name="nod_builds_total")
        family("ALERTS", "gauge", lambda i, host: [
            (dict(nixos(i, host), alertname="NixosRebootRequired", alertstate="firing", severity="warning"), lambda j: 1)]
            if i % 10 == 0 else [])
        out.write("# EOF\n")


def query_url(base, expr):
    return f"{base}/api/v1/query?query={urllib.parse.quote(expr, safe='')}"


def wall(argv):
    t = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {r.stderr.decode()[-500:]}")
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--serve", action="store_true", help="keep Prometheus up and print its URL")
    args = ap.parse_args()

    nixmon = h.binary("nixmon")
    tmp = tempfile.mkdtemp(prefix="nixmon-bench-")
    prom = None
    try:
        now = int(time.time())
        text = os.path.join(tmp, "fleet.om")
        write_fleet(text, args.hosts, now)
        data = os.path.join(tmp, "data")
        subprocess.run([h.tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", text, data],
                       check=True, stdout=subprocess.DEVNULL)
        os.remove(text)
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        port = h.free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        prom = subprocess.Popen([h.tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
                                 "--storage.tsdb.retention.time=30d", f"--web.listen-address=127.0.0.1:{port}",
                                 "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
        h.wait_for_port(port, prom, timeout=60)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while h.http_get(f"{base}/-/ready")[0] != 200:
            if time.monotonic() > deadline:
                raise SystemExit("Prometheus is not ready")
            time.sleep(0.2)

        out = subprocess.run([nixmon, "hosts", "--output", "json", "--prometheus", base], capture_output=True, text=True, check=True).stdout
        import json
        rows = json.loads(out)
        if len(rows) != args.hosts:
            raise SystemExit(f"nixmon hosts printed {len(rows)} hosts, not {args.hosts}")
        print(f"{args.hosts} hosts; first rows: {[r['host'] for r in rows[:3]]}", flush=True)

        # The queries of src/nixmon/host-state.cc (host_queries), and in C the two it asked before
        # the reboot reasons that are 0 were left out (the whole reboot series in the selector).
        names = ("up|ALERTS|nixos_system_info|nixos_current_generation|nixos_generation_age_seconds|"
                 "nixos_flake_revision_behind|nixos_channel_behind|nixos_boot_pending|"
                 "nixos_boot_filesystem_avail_bytes|nixos_boot_filesystem_size_bytes|nixos_store_nar_bytes|"
                 "nixos_gc_reclaimable_nar_bytes|nod_build_info")
        failures = 'sum by (host, instance) (increase(nod_builds_total{outcome="failed"}[24h]))'
        queries = ['{__name__=~"' + names + '",alertstate!="pending"}', failures,
                   "nixos_reboot_required == 1 or max by (__name__, host, instance) (nixos_reboot_required)"]
        before = ['{__name__=~"' + names.replace("nixos_boot_pending", "nixos_reboot_required|nixos_boot_pending") + '"}',
                  failures]
        curl = shutil.which("curl")
        a_cmd = [nixmon, "hosts", "--output", "json", "--prometheus", base]
        b_cmd = [curl, "-sf"] + [x for q in queries for x in ("-o", "/dev/null", query_url(base, q))]
        c_cmd = [curl, "-sf"] + [x for q in before for x in ("-o", "/dev/null", query_url(base, q))]
        if args.serve:
            print(f"Prometheus: {base}\nA: {' '.join(a_cmd)}\nB: {' '.join(b_cmd)}\nC: {' '.join(c_cmd)}\n(Ctrl-C ends)", flush=True)
            signal.pause()
        wall(a_cmd), wall(b_cmd), wall(c_cmd)  # warm-up: caches, page cache
        a, b, c, ratio, ratio_c = [], [], [], [], []
        for _ in range(args.rounds):
            ta, tb, tc = wall(a_cmd), wall(b_cmd), wall(c_cmd)
            a.append(ta), b.append(tb), c.append(tc), ratio.append(ta / tb), ratio_c.append(ta / tc)
        med = statistics.median

        def line(label, xs):
            print(f"{label}: median {med(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})")
        print(f"rounds: {args.rounds} (A, B and C in turn)")
        line("A nixmon hosts --output json          ", a)
        line(f"B curl, the same {len(queries)} queries one by one ", b)
        line("C curl, the 2 queries asked before     ", c)
        print(f"A/B per round                         : median {med(ratio):.2f} (min {min(ratio):.2f}, max {max(ratio):.2f})")
        print(f"A/C per round                         : median {med(ratio_c):.2f} (min {min(ratio_c):.2f}, max {max(ratio_c):.2f})")
    finally:
        if prom:
            prom.terminate()
            prom.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
