#!/usr/bin/env python3
"""Endurance run of nixos-exporter (figures in docs/robustness.md, "Endurance").

    python3 bench/soak-exporter.py [--minutes 30] [--scrapers 100] [--paths 10000] [--out DIR]

The exporter runs with its default collectors (store and gc included, checking their database
every 2 s instead of 30 s) on a root made by bench/make-store.py (a store database created by
real Nix 2.8, with profiles, GC roots and a file tree) plus the /etc and /boot of the
nixos-basic fixture root. While it runs:
  - SCRAPERS threads each keep one keep-alive HTTP connection and scrape /metrics once a second
    (as a Prometheus does, only more often), half of them asking for gzip;
  - the store changes every few seconds by real Nix: `nix-store --add` of a new file, now and then
    a GC root made for one of them, and later removed and the path deleted with `nix-store --delete`;
  - every 10 s a sample: the exporter's RSS and anonymous RSS, threads (/proc/PID/status), open
    fds and those that are not sockets (/proc/PID/fd), the scrapes of those 10 s (count, errors,
    latency percentiles), the store's valid paths and the collectors reporting success 0.
Writes DIR/soak-exporter.csv and DIR/soak-exporter-summary.txt (also printed): the first minute
after the warm-up against the last minute, errors, and the growth per hour fitted after the
warm-up. Exit status 1 on any scrape error or if the exporter died. Standard library only;
plot with bench/soak-plot.py (matplotlib). `--change-every 0` keeps the store unchanged (a
control run: memory that grows with the store against memory that grows with time).
"""
import argparse
import csv
import gzip
import http.client
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402
from soak_common import Tally, proc_stats, sample_ticks, summarize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def scraper(port, use_gzip, stop, scrapes, interval):
    conn = None
    headers = {"Accept-Encoding": "gzip"} if use_gzip else {}
    next_t = time.monotonic()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics", headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if r.status != 200 or b"nixos_exporter_collector_success" not in body:
                scrapes.error(f"status {r.status}, {len(body)} bytes")
            else:
                scrapes.ok(time.monotonic() - t0)
        except Exception as e:  # a failed scrape is the measurement, not the end of the run
            scrapes.error(f"{type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
        next_t += interval
        stop.wait(max(0.0, next_t - time.monotonic()))
    if conn is not None:
        conn.close()


class StoreChanger:
    """Changes the store with real Nix every `every` seconds: adds a path; every 5th time roots one
    of the added paths; every 7th time unroots the oldest rooted one and deletes it."""

    def __init__(self, root, tmp, every):
        self.root, self.tmp, self.every = root, tmp, every
        conf = os.path.join(tmp, "nix-conf")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "nix.conf"), "w") as f:
            f.write("sandbox = false\nsubstituters =\n")
        self.env = dict(os.environ, NIX_CONF_DIR=conf)
        self.added, self.rooted = [], []
        self.adds = self.deletes = self.roots = self.errors = 0
        self.last_error = None
        self.gcroots = os.path.join(root, "nix/var/nix/gcroots/soak")
        os.makedirs(self.gcroots, exist_ok=True)

    def nix_store(self, *args):
        r = subprocess.run(["nix-store", "--store", self.root, *args], capture_output=True,
                           text=True, env=self.env, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"nix-store {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout.strip()

    def run(self, stop):
        i = 0
        while not stop.wait(self.every):
            i += 1
            try:
                src = os.path.join(self.tmp, f"soak-{i}.txt")
                with open(src, "w") as f:
                    f.write(f"soak path {i} {time.time()}\n" * (1 + i % 50))
                self.added.append(self.nix_store("--add", src))
                os.unlink(src)
                self.adds += 1
                if i % 5 == 0:
                    path = self.added[-1]
                    os.symlink(path, os.path.join(self.gcroots, os.path.basename(path)))
                    self.rooted.append(path)
                    self.roots += 1
                if i % 7 == 0 and len(self.rooted) > 2:
                    path = self.rooted.pop(0)
                    os.unlink(os.path.join(self.gcroots, os.path.basename(path)))
                    self.nix_store("--delete", path)
                    self.deletes += 1
            except Exception as e:
                self.errors += 1
                self.last_error = str(e)


def valid_paths(root):
    import sqlite3
    con = sqlite3.connect(f"file:{os.path.join(root, 'nix/var/nix/db/db.sqlite')}?mode=ro", uri=True,
                          timeout=5)
    try:
        return con.execute("SELECT count(*) FROM ValidPaths").fetchone()[0]
    finally:
        con.close()


def failed_collectors(port):
    try:
        s = h.samples(h.scrape(port))
    except Exception:
        return None
    return sorted(k.split('"')[1] for k, v in s.items()
                  if k.startswith("nixos_exporter_collector_success{") and v == 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--scrapers", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between a scraper's scrapes")
    ap.add_argument("--paths", type=int, default=10000, help="valid paths of the generated store")
    ap.add_argument("--change-every", type=float, default=3.0,
                    help="seconds between store changes (0: the store does not change)")
    ap.add_argument("--warmup", type=int, default=300, help="seconds left out of the summary")
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    with h.TempDir() as tmp:
        root = os.path.join(tmp, "root")
        t = time.monotonic()
        subprocess.run([sys.executable, os.path.join(HERE, "make-store.py"), root, "--paths",
                        str(a.paths)], check=True, stdout=subprocess.DEVNULL)
        for d in ("etc", "boot"):
            shutil.copytree(h.fixture("roots", "nixos-basic", d), os.path.join(root, d),
                            symlinks=True, dirs_exist_ok=True)
        print(f"store of {valid_paths(root):,} valid paths made in {time.monotonic() - t:.0f} s",
              flush=True)
        port = h.free_port()
        argv = [h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                "--collector.store.check-interval=2s", "--collector.gc.check-interval=2s"]
        with h.Process(argv, tmp, port=port) as p:
            pid = p.proc.pid
            stop = threading.Event()
            scrapes = Tally()
            changer = StoreChanger(root, tmp, a.change_every)
            threads = [threading.Thread(target=scraper, args=(port, i % 2 == 0, stop, scrapes,
                                                              a.interval), daemon=True)
                       for i in range(a.scrapers)]
            if a.change_every > 0:
                threads.append(threading.Thread(target=changer.run, args=(stop,), daemon=True))
            start = time.monotonic()
            for th in threads:
                th.start()
                time.sleep(a.interval / a.scrapers)  # spread the scrapers over the interval
            rows = []
            csv_path = os.path.join(a.out, "soak-exporter.csv")
            fields = ["t_s", "rss_kib", "rss_anon_kib", "threads", "fds", "fds_not_sockets", "scrapes", "scrape_errors", "p50_ms",
                      "p99_ms", "max_ms", "valid_paths", "adds", "deletes", "change_errors",
                      "collectors_failed"]
            with open(csv_path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                for _ in sample_ticks(start, a.minutes * 60, p.alive):
                    rss, anon, nthreads, fds, fds_other = proc_stats(pid)
                    lat, err = scrapes.take()
                    failed = failed_collectors(port)
                    row = {"t_s": round(time.monotonic() - start), "rss_kib": rss, "rss_anon_kib": anon,
                           "threads": nthreads, "fds": fds, "fds_not_sockets": fds_other,
                           "scrapes": len(lat) + err,
                           "scrape_errors": err,
                           "p50_ms": round(1000 * (percentile(lat, 0.5) or 0), 1),
                           "p99_ms": round(1000 * (percentile(lat, 0.99) or 0), 1),
                           "max_ms": round(1000 * (lat[-1] if lat else 0), 1),
                           "valid_paths": valid_paths(root), "adds": changer.adds,
                           "deletes": changer.deletes, "change_errors": changer.errors,
                           "collectors_failed": ",".join(failed) if failed is not None else "?"}
                    w.writerow(row)
                    f.flush()
                    rows.append(row)
                    print(" ".join(f"{k}={row[k]}" for k in fields), flush=True)
            alive = p.alive()
            stop.set()
            for th in threads:
                th.join(15)
            final_failed = failed_collectors(port) if alive else None
        exit_status = p.returncode

    lines = [f"nixos-exporter soak: {a.minutes:g} min, {a.scrapers} scrapers every {a.interval:g} s, "
             f"store of {a.paths:,} generated paths changed every {a.change_every:g} s",
             f"load average at the end: {open('/proc/loadavg').read().split()[:3]}"]
    lines += summarize(rows, a.warmup, ["rss_kib", "rss_anon_kib", "fds", "fds_not_sockets", "threads", "p99_ms"])
    lines.append(f"scrapes: {scrapes.total:,}, errors: {scrapes.total_errors}"
                 + (f" (last: {scrapes.last_error})" if scrapes.last_error else ""))
    lines.append(f"store changes: {changer.adds} paths added, {changer.roots} rooted, "
                 f"{changer.deletes} deleted, {changer.errors} failed"
                 + (f" (last: {changer.last_error})" if changer.last_error else ""))
    lines.append(f"collectors reporting success 0 at the end: {final_failed}")
    lines.append(f"exporter alive at the end: {alive}; exit status after SIGTERM: {exit_status}")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    with open(os.path.join(a.out, "soak-exporter-summary.txt"), "w") as f:
        f.write(text)
    return 0 if alive and exit_status == 0 and scrapes.total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
