#!/usr/bin/env python3
"""Plots a soak run's CSV (bench/soak-exporter.py, bench/soak-nod.py) as one PNG: one panel per
quantity against minutes since the start, the warm-up shaded.

    python3 bench/soak-plot.py soak-exporter.csv soak-exporter.png [--warmup 300]
    python3 bench/soak-plot.py soak-nod.csv soak-nod.png
    python3 bench/soak-plot.py --compare-rss "LABEL=soak-nod.csv" ... out.png

--compare-rss draws only the RSS of several runs (their t_s and rss_kib columns), one line each,
for runs of the same load with different settings.

Also prints, for each plotted quantity, the mean of the first minute after the warm-up, of the
last minute, and the slope of a straight line fitted after the warm-up (per hour), so that a CSV can
be summarized again with another warm-up than the soak script's.

Needs matplotlib (Debian: `apt-get install python3-matplotlib`); the soak scripts themselves do not.
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = {
    "exporter": [("rss_kib", "RSS (MiB)", 1 / 1024), ("fds", "open fds", 1),
                 ("threads", "threads", 1), ("p99_ms", "scrape p99 / max (ms)", 1),
                 ("scrape_errors", "scrape errors per 10 s", 1),
                 ("valid_paths", "store valid paths", 1)],
    "nod": [("rss_kib", "RSS (MiB)", 1 / 1024), ("fds", "open fds", 1), ("threads", "threads", 1),
            ("wal_kib", "WAL size (MiB)", 1 / 1024), ("in_flight", "activities in flight", 1),
            ("lost", "events completed - committed, dropped", 1)],
}


def compare_rss(runs, png, warmup):
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for spec in runs:
        label, sep, path = spec.rpartition("=")
        if not sep:
            raise SystemExit(f"--compare-rss: expected LABEL=CSV, got '{spec}'")
        with open(path) as f:
            rows = list(csv.DictReader(f))
        ax.plot([int(r["t_s"]) / 60 for r in rows], [int(r["rss_kib"]) / 1024 for r in rows],
                label=label)
    ax.axvspan(0, warmup / 60, color="grey", alpha=0.15)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("RSS (MiB)", fontsize=8)
    ax.set_xlabel("minutes (warm-up shaded)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="+", help="the CSV (with --compare-rss: LABEL=CSV, several)")
    ap.add_argument("png")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--compare-rss", action="store_true")
    a = ap.parse_args()
    if a.compare_rss:
        return compare_rss(a.csv, a.png, a.warmup)
    if len(a.csv) != 1:
        ap.error("one CSV (several only with --compare-rss)")
    a.csv = a.csv[0]
    with open(a.csv) as f:
        rows = list(csv.DictReader(f))
    kind = "nod" if "committed" in rows[0] else "exporter"
    t = [int(r["t_s"]) / 60 for r in rows]
    panels = PANELS[kind]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2 * len(panels)), sharex=True)
    for ax, (key, label, scale) in zip(axes, panels):
        if key == "lost":
            ax.plot(t, [int(r["enqueued"]) - int(r["committed"]) for r in rows],
                    label="enqueued - committed (in the queue)")
            ax.plot(t, [int(r["dropped"]) for r in rows], label="dropped")
            ax.legend(fontsize=7)
        else:
            ax.plot(t, [float(r[key]) * scale for r in rows], label=label)
            if key == "rss_kib" and "rss_anon_kib" in rows[0]:
                ax.plot(t, [float(r["rss_anon_kib"]) / 1024 for r in rows], label="anonymous")
                ax.legend(fontsize=7)
            if key == "p99_ms":
                ax.plot(t, [float(r["max_ms"]) for r in rows], alpha=0.5, label="max")
                ax.legend(fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        ax.axvspan(0, a.warmup / 60, color="grey", alpha=0.15)
        ax.grid(alpha=0.3)
        lo, hi = ax.get_ylim()
        if key != "valid_paths":  # the store's change is small against its size
            ax.set_ylim(min(0, lo), hi if hi > 0 else 1)
    for key, label, _ in panels:
        if key == "lost" or key not in rows[0]:
            continue
        after = [r for r in rows if int(r["t_s"]) >= a.warmup]
        if len(after) < 12:
            continue
        xs = [int(r["t_s"]) / 3600 for r in after]
        ys = [float(r[key]) for r in after]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"{key}: start {sum(ys[:6]) / 6:,.1f}, end {sum(ys[-6:]) / 6:,.1f}, "
              f"min {min(ys):,.0f}, max {max(ys):,.0f}, slope {slope:+,.1f}/hour "
              f"(after {a.warmup} s)")
    axes[-1].set_xlabel("minutes (warm-up shaded)")
    fig.suptitle(f"{'nixos-exporter' if kind == 'exporter' else 'nod daemon'} soak", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.png, dpi=90)


if __name__ == "__main__":
    main()
