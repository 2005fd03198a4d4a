#!/usr/bin/env python3
"""`nix flake metadata` invocations per check interval for a fleet of N nixos-exporters watching
one flake: each checking for itself (the Go nixos-exporter's behaviour without NATS) vs sharing the
remote revision on one real nats-server.

  python3 bench/flake-sharing.py [--hosts 3 10] [--interval 3] [--intervals 6]

The "remote" is a local git flake (git+file://, lock file with local inputs: no network needed);
each exporter runs nix through a wrapper that logs one line per invocation and execs the real nix.
The first two intervals are a warm-up (start-up collisions) and are not counted. Needs a built
exporter (build/ or $NIXMON_BUILD_DIR), nix and nats-server. Prints a Markdown table.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402
from test_flake import FakeRoot, Flake, NatsServer, count, nix_wrapper  # noqa: E402


def run(n, interval, intervals, sharing):
    with h.TempDir() as tmp:
        flake = Flake(tmp)
        root = FakeRoot(tmp)
        root.run_system("0" * 40)  # never the remote revision: no smart refresh
        nats = NatsServer(tmp).start() if sharing else None
        procs, calls = [], []
        try:
            for i in range(n):
                wrapper, c = nix_wrapper(tmp, f"host{i}")
                port = h.free_port()
                argv = [h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root.dir}",
                        "--collector.flake", f"--flake.url={flake.url}", f"--flake.check-interval={interval}s",
                        f"--flake.nix-binary={wrapper}"]
                if sharing:
                    argv += ["--flake.nats.enable", f"--flake.nats.url={nats.url}"]
                procs.append(h.Process(argv, tmp, name=f"host{i}", port=port).start())
                calls.append(c)
            time.sleep(2 * interval)  # warm-up
            per_interval = []
            for _ in range(intervals):
                before = sum(count(c) for c in calls)
                time.sleep(interval)
                per_interval.append(sum(count(c) for c in calls) - before)
            return per_interval
        finally:
            for p in procs:
                p.stop()
            if nats:
                nats.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--interval", type=int, default=3, help="check interval, seconds")
    ap.add_argument("--intervals", type=int, default=6, help="intervals counted after the warm-up")
    a = ap.parse_args()
    print(f"| exporters | sharing | nix runs per {a.interval}s interval, each of {a.intervals} | "
          "mean per interval | total |")
    print("|---|---|---|---|---|")
    for n in a.hosts:
        for sharing in (False, True):
            counts = run(n, a.interval, a.intervals, sharing)
            print(f"| {n} | {'NATS' if sharing else 'none'} | {' '.join(map(str, counts))} | "
                  f"{statistics.mean(counts):.2f} | {sum(counts)} |", flush=True)


if __name__ == "__main__":
    main()
