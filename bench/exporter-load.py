#!/usr/bin/env python3
"""100 concurrent scrapers against nixos-exporter for a minute: errors, latency percentiles, and the
worker threads before, during and after (the pool grows for the burst and shrinks when idle).

Two shapes of load, each with wrk (Debian's package) and 100 keep-alive connections:
  flood     every connection sends its next request as soon as the last one is answered
  scrapers  every connection waits 1 s between requests, as a Prometheus keeps its connection
            open between scrapes (15 s in real life; 1 s keeps the test at a minute)

  python3 bench/exporter-load.py [--seconds 60] [--connections 100] [--web-config FILE]
Exit status 1 if any request failed or the exporter died. Prints a Markdown table.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def to_ms(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(url, connections, seconds, script=None):
    argv = [h.tool("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    if script:
        argv += ["-s", script]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    r = {"requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for p in ("50", "90", "99"):
        r[f"p{p}"] = to_ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1))
    r["max"] = to_ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx"] = int(m.group(1)) if m else 0
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return r, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--idle-wait", type=int, default=35, help="seconds to wait for idle workers to end")
    args = ap.parse_args()

    failed = False
    with h.TempDir() as tmp:
        script = os.path.join(tmp, "interval.lua")
        with open(script, "w") as f:
            f.write("function delay() return 1000 end\n")
        port = h.free_port()
        root = h.fixture("roots", "nixos-basic")
        with h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}"],
                       tmp, port=port) as p:
            pid = p.proc.pid
            url = f"http://127.0.0.1:{port}/metrics"
            rows = []
            for name, s in (("flood", None), ("scrapers (1 s interval)", script)):
                before = threads(pid)
                r, raw = wrk(url, args.connections, args.seconds, s)
                r.update(name=name, threads_before=before, threads_after_load=threads(pid), rss=rss_kib(pid))
                time.sleep(args.idle_wait)
                r["threads_idle"] = threads(pid)
                rows.append(r)
                if r["socket_errors"] or r["non_2xx"]:
                    failed = True
                    print(raw, file=sys.stderr)
            alive = p.alive()
        failed = failed or not alive or p.returncode != 0

    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s --timeout 5s --latency, nixos-basic root\n")
    print("| load | requests | req/s | errors | non-2xx | p50 ms | p90 ms | p99 ms | max ms | threads before / under load / after idle | RSS KiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['requests']} | {r['rps']:.0f} | {r['socket_errors']} | {r['non_2xx']} | "
              f"{r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
              f"{r['threads_before']} / {r['threads_after_load']} / {r['threads_idle']} | {r['rss']} |")
    print(f"\nexporter alive after load: {alive}; exit status after SIGTERM: {p.returncode}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
