"""What both soak scripts (bench/soak-exporter.py, bench/soak-nod.py) sample and how they sum it up."""
import os
import threading
import time


def proc_stats(pid):
    """(RSS KiB, anonymous RSS KiB, threads, open fds, open fds other than sockets) of a live
    process, from /proc. Anonymous memory is the heap and stacks; the rest of RSS is mapped files
    (libraries, and SQLite's pages of a store database that grows as paths are added).
    The sockets include the scrapers' connections, which the HTTP library closes after a few
    requests (the scrapers then reconnect), so their count moves with the moment of sampling."""
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    fds = other = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        try:
            other += not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile
            pass
    return (int(st["VmRSS"].split()[0]), int(st["RssAnon"].split()[0]), int(st["Threads"]), fds,
            other)


def sample_ticks(start, seconds, alive, every=10):
    """Yields every `every` seconds after the monotonic time `start` until `seconds` have passed
    or `alive()` says the process under test is gone."""
    next_sample = start + every
    while time.monotonic() - start < seconds and alive():
        time.sleep(max(0.0, next_sample - time.monotonic()))
        next_sample += every
        if not alive():
            return
        yield


def summarize(rows, warmup, keys):
    """Lines comparing the first minute after the warm-up with the last minute, and the slope."""
    after = [r for r in rows if r["t_s"] >= warmup]
    if len(after) < 12:
        return ["run too short for a summary after the warm-up"]
    first, last = after[:6], after[-6:]
    lines = [f"samples: {len(rows)} every 10 s; warm-up {warmup} s; 'start' = mean of the first "
             f"minute after it, 'end' = mean of the last minute"]
    for k in keys:
        a = sum(r[k] for r in first) / len(first)
        b = sum(r[k] for r in last) / len(last)
        xs = [r["t_s"] / 3600 for r in after]
        ys = [r[k] for r in after]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        lines.append(f"{k}: start {a:,.1f}, end {b:,.1f}, min {min(ys):,} max {max(ys):,} after "
                     f"warm-up, fitted slope {slope:+,.1f}/hour")
    return lines


class Tally:
    """Latencies and errors (of scrapes, of queries) since the last take(), and totals; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lat, self.errors, self.total, self.total_errors = [], 0, 0, 0
        self.last_error = None

    def ok(self, seconds):
        with self.lock:
            self.lat.append(seconds)
            self.total += 1

    def error(self, what):
        with self.lock:
            self.errors += 1
            self.total += 1
            self.total_errors += 1
            self.last_error = what

    def take(self):
        with self.lock:
            lat, err = sorted(self.lat), self.errors
            self.lat, self.errors = [], 0
        return lat, err
