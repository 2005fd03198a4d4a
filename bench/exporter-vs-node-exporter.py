#!/usr/bin/env python3
"""Scrape latency and memory: nixos-exporter on a fake NixOS root vs Debian's node_exporter serving
the same series from its textfile collector, in one run, alternating rounds.

  python3 bench/exporter-vs-node-exporter.py [--rounds 5] [--seconds 10] [--connections 10]

Needs wrk and prometheus-node-exporter (scripts/setup.sh installs both) and a built exporter
(build/ or $NIXMON_BUILD_DIR). Prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402


def wrk(port, seconds, connections):
    out = subprocess.run([h.tool("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True, check=True).stdout
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        lat[pct] = value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return lat["50"], lat["99"], rps, errors.group(0) if errors else ""


def memory_kib(pid):
    """RSS, peak RSS, private anonymous memory (heap and stacks), and PSS (shared library pages
    divided among the processes that map them)."""
    fields = {}
    for path in (f"/proc/{pid}/status", f"/proc/{pid}/smaps_rollup"):
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    fields[k] = int(v.split()[0])
    return fields["VmRSS"], fields["VmHWM"], fields["RssAnon"], fields["Pss"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--exporter-flag", action="append", default=[],
                    help="extra nixos-exporter flag, e.g. --exporter-flag=--no-collector.upgrade")
    args = ap.parse_args()

    with h.TempDir() as tmp:
        root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
        ours_port, node_port = h.free_port(), h.free_port()
        ours = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{ours_port}", f"--path.root={root}",
                          "--log.level=warn", *args.exporter_flag], tmp, port=ours_port)
        with ours:
            text = h.scrape(ours_port)
            textdir = os.path.join(tmp, "textfile")
            os.makedirs(textdir)
            with open(os.path.join(textdir, "nixos.prom"), "w") as f:
                f.write(text)
            node = h.Process([h.tool("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{node_port}",
                              "--collector.disable-defaults", "--collector.textfile",
                              f"--collector.textfile.directory={textdir}", "--web.disable-exporter-metrics"],
                             tmp, port=node_port)
            with node:
                node_text = h.scrape(node_port)
                series = sum(1 for l in text.splitlines() if l and not l.startswith("#"))
                print(f"series: ours {series}, node_exporter "
                      f"{sum(1 for l in node_text.splitlines() if l and not l.startswith('#'))}", file=sys.stderr)
                results = {"ours": [], "node": []}
                for r in range(args.rounds):
                    for name, port in (("ours", ours_port), ("node", node_port)):
                        results[name].append(wrk(port, args.seconds, args.connections))
                        print(f"round {r + 1} {name}: p50 {results[name][-1][0]:.3f} ms "
                              f"p99 {results[name][-1][1]:.3f} ms {results[name][-1][2]:.0f} req/s "
                              f"{results[name][-1][3]}", file=sys.stderr)
                mem = {"ours": memory_kib(ours.proc.pid), "node": memory_kib(node.proc.pid)}

    def med(name, i):
        return statistics.median(x[i] for x in results[name])

    print(f"| figure (median of {args.rounds} rounds, wrk -t2 -c{args.connections} -d{args.seconds}s) "
          "| nixos-exporter | node_exporter textfile | ratio |")
    print("|---|---|---|---|")
    for label, i in (("p50 latency (ms)", 0), ("p99 latency (ms)", 1), ("requests/s", 2)):
        a, b = med("ours", i), med("node", i)
        print(f"| {label} | {a:.3f} | {b:.3f} | {a / b:.2f} |")
    for label, i in (("RSS after load (KiB)", 0), ("peak RSS (KiB)", 1), ("anonymous RSS: heap, stacks (KiB)", 2),
                     ("PSS (KiB)", 3)):
        a, b = mem["ours"][i], mem["node"][i]
        print(f"| {label} | {a} | {b} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
