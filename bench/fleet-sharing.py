#!/usr/bin/env python3
"""Flake sharing at fleet scale: `nix flake metadata` runs per check interval for N nixos-exporters
(default 100) watching one flake, as bench/flake-sharing.py measures for a few, with the same local
git flake and counting nix wrapper (tests/e2e/test_flake.py).

  python3 bench/fleet-sharing.py [--hosts 100] [--interval 10] [--intervals 6]

  (a) one real nats-server: runs per interval with sharing, and without it (the baseline, each
      host for itself) for a few intervals in the same run;
  (b) the same fleet, the fetching host killed (SIGKILL): how long until another host runs nix,
      in intervals, and the runs per interval after;
  (c) a fleet on a 3-node nats-server cluster (real processes joined by routes, loopback, free
      ports; each exporter given all three URLs, first connected to node i mod 3): one node killed
      and, three intervals later, started again; runs per interval throughout.

Exporters run only the flake collector (--collector.disable-defaults). The first intervals after
start are a warm-up (start-up collisions) and are not counted. Needs a built exporter (build/ or
$NIXMON_BUILD_DIR), nix and nats-server. Prints Markdown.
"""
import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402
from test_flake import FakeRoot, Flake, NatsServer, count, nix_wrapper  # noqa: E402
from test_flake_cluster import NatsCluster  # noqa: E402


class Fleet:
    def __init__(self, tmp, flake, root, n, interval, urls_of=None):
        self.procs, self.calls = [], []
        for i in range(n):
            wrapper, calls = nix_wrapper(tmp, f"host{i}")
            port = h.free_port()
            argv = [h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root.dir}",
                    "--collector.disable-defaults", "--collector.flake", f"--flake.url={flake.url}",
                    f"--flake.check-interval={interval}s", f"--flake.nix-binary={wrapper}"]
            if urls_of:
                argv += ["--flake.nats.enable", "--flake.nats.url=" + ",".join(urls_of(i))]
            self.procs.append(h.Process(argv, tmp, name=f"host{i}", port=port).start())
            self.calls.append(calls)

    def counts(self):
        return [count(c) for c in self.calls]

    def per_interval(self, interval, intervals, at=None):
        """Runs of nix per interval, fleet-wide, and how many hosts ran it; at(k) is called at the
        start of interval k (to kill something)."""
        runs, hosts = [], []
        for k in range(intervals):
            if at:
                at(k)
            before = self.counts()
            time.sleep(interval)
            deltas = [a - b for a, b in zip(self.counts(), before)]
            runs.append(sum(deltas))
            hosts.append(sum(1 for d in deltas if d))
        return runs, hosts

    def rss_mib(self):
        total = 0
        for p in self.procs:
            if p.alive():
                with open(f"/proc/{p.proc.pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return total / 1024

    def stop(self):
        for p in self.procs:
            p.stop()


def row(label, runs, hosts):
    return f"| {label} | {' '.join(map(str, runs))} | {' '.join(map(str, hosts))} | {statistics.mean(runs):.2f} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--interval", type=int, default=10, help="check interval, seconds")
    ap.add_argument("--intervals", type=int, default=6, help="intervals counted after the warm-up")
    ap.add_argument("--baseline-intervals", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3, help="intervals not counted after the start")
    a = ap.parse_args()
    n, P = a.hosts, a.interval
    print(f"{n} exporters (flake collector only), check interval {P}s; per interval: nix runs "
          "fleet-wide / hosts that ran nix\n")
    print("| run | nix runs per interval | hosts running nix per interval | mean runs per interval |")
    print("|---|---|---|---|")
    with h.TempDir() as tmp:
        flake = Flake(tmp)
        root = FakeRoot(tmp)
        root.run_system("0" * 40)  # never the remote revision: no smart refresh

        # (a) baseline: no sharing.
        fleet = Fleet(tmp, flake, root, n, P)
        try:
            time.sleep(P)
            runs, hosts = fleet.per_interval(P, a.baseline_intervals)
            print(row("(a) no sharing", runs, hosts), flush=True)
            baseline = statistics.mean(runs)
        finally:
            fleet.stop()

        # (a) sharing on one nats-server, then (b) the fetcher killed.
        nats = NatsServer(tmp).start()
        fleet = Fleet(tmp, flake, root, n, P, urls_of=lambda i: [nats.url])
        try:
            time.sleep(a.warmup * P)
            rss = fleet.rss_mib()
            runs, hosts = fleet.per_interval(P, a.intervals)
            print(row("(a) NATS, one server", runs, hosts), flush=True)
            ratio = baseline / statistics.mean(runs)
            # The host that ran nix last is the fetcher.
            before = fleet.counts()
            fetcher = None
            deadline = time.monotonic() + 3 * P
            while fetcher is None and time.monotonic() < deadline:
                time.sleep(0.05)
                fetcher = next((i for i, (x, b) in enumerate(zip(fleet.counts(), before)) if x > b), None)
            time.sleep(0.3 * P)  # mid-interval: its message is out, the next check not yet due
            fleet.procs[fetcher].stop(sig=signal.SIGKILL)
            killed = time.monotonic()
            rest = [i for i in range(n) if i != fetcher]
            base = fleet.counts()
            while time.monotonic() - killed < 4 * P:
                time.sleep(0.05)
                now = fleet.counts()
                if any(now[i] > base[i] for i in rest):
                    break
            took = time.monotonic() - killed
            runs, hosts = fleet.per_interval(P, a.intervals)
            print(row(f"(b) after the fetcher was killed (another host ran nix {took:.1f}s = "
                      f"{took / P:.2f} intervals later)", runs, hosts), flush=True)
        finally:
            fleet.stop()
            nats.stop()

        # (c) a 3-node cluster, one node killed at interval 2 and started again at interval 5.
        cluster = NatsCluster(tmp).start()
        fleet = Fleet(tmp, flake, root, n, P,
                      urls_of=lambda i: cluster.urls[i % 3:] + cluster.urls[:i % 3])
        try:
            time.sleep(a.warmup * P)

            def at(k):
                if k == 2:
                    cluster.kill_node(0)
                elif k == 5:
                    cluster.start_node(0)
            runs, hosts = fleet.per_interval(P, max(a.intervals, 8), at=at)
            print(row("(c) 3-node cluster; node 0 killed at interval 3, back at interval 6", runs, hosts),
                  flush=True)
            clients = [cluster.clients(i) for i in range(3)]
        finally:
            fleet.stop()
            cluster.stop()
    print(f"\nnix runs without sharing / with sharing on one server: {ratio:.0f}x")
    print(f"Exporters' resident memory, all {n}: {rss:.0f} MiB; clients per node at the end of (c): "
          f"{clients}")


if __name__ == "__main__":
    main()
