#!/usr/bin/env python3
"""nod's ingest benchmark (figures in docs/benchmarks.md, section "nod ingest").

    python3 bench/nod-bench.py [--build-dir build] [--records 1000000] [--connections 4] [--runs 3]

For each run: a synthetic json-log-path stream (mostly build log lines and progress results) sent
one write() per record, as Nix does, over several connections, into
  1. a sink that only reads and discards (the transport's limit),
  2. `nod daemon` (parse, track, queue, SQLite) on a normal disk,
  3. `nod daemon` whose fsync()s each take 500 ms (LD_PRELOAD slow-fsync shim),
  4. `nod daemon` while another process holds the database's write lock for 3 s (a stalled disk).
Reports records/s end to end (until the daemon has read and tracked every record), the ratio to
the sink, nod's peak RSS, and how long the writers' write() calls were blocked.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout


def wait_socket(path, proc):
    for _ in range(200):
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read())
        time.sleep(0.02)
    raise TimeoutError(path)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def one(build, target, records, connections, env_extra=None, stall=False):
    bench = os.path.join(build, "bench", "nod-socket-bench")
    with tempfile.TemporaryDirectory(prefix="nod-bench-") as d:
        sock = os.path.join(d, "s.sock")
        db = os.path.join(d, "nod.db")
        if target == "sink":
            proc = subprocess.Popen([bench, "sink", sock], stderr=subprocess.PIPE, text=True)
        else:
            env = dict(os.environ, **(env_extra or {}))
            proc = subprocess.Popen([os.path.join(build, "src", "nod", "nod"), "daemon",
                                     "--socket", sock, "--db", db],
                                    stderr=subprocess.PIPE, text=True, env=env)
        try:
            wait_socket(sock, proc)
            holder = None
            if stall:
                time.sleep(0.3)
                def hold():
                    con = sqlite3.connect(db, timeout=10, isolation_level=None)
                    con.execute("BEGIN IMMEDIATE")
                    time.sleep(3)
                    con.execute("ROLLBACK")
                    con.close()
                holder = threading.Thread(target=hold)
                holder.start()
                time.sleep(0.1)
            out = json.loads(run([bench, "send", sock, "--records", str(records),
                                  "--connections", str(connections)]
                                 + (["--nod"] if target != "sink" else [])))
            if holder:
                holder.join()
            if target != "sink":
                out["peak_rss_mib"] = round(peak_rss_kib(proc.pid) / 1024, 1)
                status = json.loads(run([os.path.join(build, "src", "nod", "nod"), "status",
                                         "--socket", sock]))["result"]
                out["dropped"] = status["queue"]["dropped"]
                out["enqueued"] = status["queue"]["enqueued"]
        finally:
            proc.terminate()
            proc.wait(30)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    shim = os.path.abspath(os.path.join(a.build_dir, "bench", "libslow-fsync.so"))
    cases = [
        ("sink (read and discard)", "sink", None, False),
        ("nod daemon", "nod", None, False),
        ("nod daemon, fsync 500 ms", "nod", {"LD_PRELOAD": shim, "SLOW_FSYNC_MS": "500"}, False),
        ("nod daemon, write lock held 3 s", "nod", None, True),
    ]
    results = {}
    for name, target, env, stall in cases:
        runs = [one(a.build_dir, target, a.records, a.connections, env, stall)
                for _ in range(a.runs)]
        results[name] = runs
    sink_rate = statistics.median(r["records_per_second"] for r in results[cases[0][0]])
    print(f"{a.records} records, {a.connections} connections, {a.runs} runs each (median; "
          f"min-max)\n")
    print("| target | records/s | vs sink | blocked write() max | p99.9 | writes >1 ms | "
          "peak RSS | dropped |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        rate = [r["records_per_second"] for r in runs]
        med = statistics.median(rate)
        mx = statistics.median(r["blocked_us_max"] for r in runs)
        p999 = statistics.median(r["blocked_us_p999"] for r in runs)
        over = statistics.median(r["writes_blocked_over_1ms"] for r in runs)
        rss = max((r.get("peak_rss_mib") or 0) for r in runs)
        dropped = max(r.get("dropped", 0) for r in runs)
        print(f"| {name} | {med:,.0f} ({min(rate):,.0f}-{max(rate):,.0f}) | "
              f"{med / sink_rate:.0%} | {mx / 1000:.1f} ms | {p999 / 1000:.2f} ms | {over:.0f} | "
              f"{rss if rss else '-'} MiB | {dropped if 'dropped' in runs[0] else '-'} |")


if __name__ == "__main__":
    main()
