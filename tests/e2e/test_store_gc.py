"""The gc collector and `nixmon-store-report print-dead` against what real Nix 2.8 deletes, on a
store that has more than valid paths: the lock file of a failed build, the partial output of a
build killed mid-way, stray entries, a live build whose temporary roots keep its inputs, lock and
chroot directory, beside the dead and live valid paths of test_store.make_store.

Our figures are taken before Nix runs: `nix-store --gc --print-dead` itself deletes the entries
whose names are no store paths (NixOS/nix 2.8.0 src/libstore/gc.cc line 793)."""
import os
import signal
import stat
import subprocess
import time
import unittest

import harness as h
from test_store import ChrootStore, busybox, make_store, ready, scrape_until, start_exporter

# Builders that end by sleeping, so a build can be caught running.
BUILDS_EXPR = "let\n" + h.NIX_MK + r"""in rec {
  failing = mk "failing-1.0" "mkdir $out; echo half > $out/half; exit 1";
  interrupted = mk "interrupted-1.0" "mkdir $out; head -c 300000 /dev/zero > $out/partial; exec sleep 600";
  held = mk "held-1.0" "echo held > $out";
  running = mk "running-1.0" "mkdir $out; echo ${held} > $out/uses; exec sleep 600";
}
"""


def start_build(store, expr, attr, tmp):
    argv = [h.tool("nix-build"), "--store", store.root, "--option", "substituters", "",
            "--option", "sandbox-paths", f"/bin/sh={busybox()}", expr, "-A", attr, "--no-out-link"]
    with open(os.path.join(tmp, f"build-{attr}.log"), "wb") as log:
        return subprocess.Popen(argv, env=store.env, stdout=log, stderr=subprocess.STDOUT)


def sleeping_builder(nix_build, timeout=60):
    """The host PID of the builder nix-build started, once it sleeps (its output is written by
    then). The builder runs in its own PID namespace, where it is PID 1: only SIGKILL from here
    stops it, and it outlives a killed nix-build."""
    deadline = time.monotonic() + timeout
    task_dir = f"/proc/{nix_build.pid}/task"
    while time.monotonic() < deadline:
        if nix_build.poll() is not None:
            raise AssertionError(f"nix-build exited with {nix_build.returncode} before building")
        children = []
        for task in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, task, "children")) as f:
                    children += f.read().split()
            except (FileNotFoundError, ProcessLookupError):  # the thread ended since the listing
                pass
        for child in children:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0].endswith(b"sleep"):
                        return int(child)
            except FileNotFoundError:
                pass
        time.sleep(0.05)
    raise AssertionError("the builder never started sleeping")


def disk_bytes_freed(path):
    """Blocks freed by deleting `path`: every inode once, only when all its links are inside."""
    total, seen = 0, {}

    def visit(p):
        nonlocal total
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            total += st.st_blocks * 512
            for n in os.listdir(p):
                visit(os.path.join(p, n))
        elif st.st_nlink <= 1:
            total += st.st_blocks * 512
        else:
            key = (st.st_dev, st.st_ino)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == st.st_nlink:
                total += st.st_blocks * 512

    visit(path)
    return total


def stop_builder(pid, nix_build):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if nix_build.poll() is None:
        nix_build.wait(timeout=60)


class GcDeletesWhatWePredict(unittest.TestCase):
    def test_invalid_entries_and_temporary_roots(self):
        with h.TempDir() as tmp:
            store, _, _ = make_store(tmp)
            expr = os.path.join(tmp, "builds.nix")
            with open(expr, "w") as f:
                f.write(BUILDS_EXPR)
            store_dir = store.local("/nix/store")

            # A failed build leaves its output's lock file.
            failed = start_build(store, expr, "failing", tmp)
            self.assertNotEqual(failed.wait(timeout=120), 0)
            self.assertTrue(any(e.endswith("-failing-1.0.lock") for e in os.listdir(store_dir)))

            # An interrupted build: nix-build killed mid-build, then its builder; the partial
            # output (in the chroot directory), the lock and a stale temproots file remain.
            interrupted = start_build(store, expr, "interrupted", tmp)
            pid = sleeping_builder(interrupted)
            interrupted.kill()
            stop_builder(pid, interrupted)

            # Entries that are no store paths, deleted by Nix whatever they are.
            with open(os.path.join(store_dir, "stray-file"), "w") as f:
                f.write("x" * 10000)
            os.makedirs(os.path.join(store_dir, "trash", "old"))

            # A live build: its temporary roots keep `held` (valid, otherwise dead), its .drv
            # files, its lock and its chroot directory.
            running = start_build(store, expr, "running", tmp)
            running_pid = sleeping_builder(running)
            try:
                held = store.nix("nix-instantiate", expr, "-A", "held").strip()
                held_out = store.nix("nix-store", "-q", "--outputs", held).strip()
                temproots = os.listdir(store.local("/nix/var/nix/temproots"))
                self.assertIn(str(running.pid), temproots)
                self.assertIn(str(interrupted.pid), temproots)  # stale: its owner is gone

                before = set(os.listdir(store_dir))
                with store.db() as db:
                    valid = {r[0] for r in db.execute("SELECT path FROM ValidPaths")}
                    nar = dict(db.execute("SELECT path, narSize FROM ValidPaths"))

                # Ours, before Nix touches anything.
                report = subprocess.run([h.binary("nixmon-store-report"),
                                         f"--path.root={store.root}", "print-dead"],
                                        capture_output=True, text=True, check=True)
                ours = set(report.stdout.split())
                p, port = start_exporter(tmp, store.root)
                with p:
                    _, s = scrape_until(port, ready, "both analyses ready")
                    invalid_predicted = sorted(x for x in ours if x not in valid)
                    expected_bytes = sum(disk_bytes_freed(store.local(x)) for x in invalid_predicted)

                    nix_dead = set(store.print_dead())
                    self.assertEqual(ours, nix_dead)

                    names = {os.path.basename(x) for x in nix_dead}
                    for suffix in ("-failing-1.0.lock", "-interrupted-1.0.lock",
                                   "-interrupted-1.0.drv.chroot", "stray-file", "trash"):
                        self.assertTrue(any(n.endswith(suffix) for n in names), (suffix, names))
                    # What the live build holds is alive for both.
                    self.assertNotIn(held_out, nix_dead)
                    for n in before:
                        if n.endswith("-running-1.0.lock") or n.endswith("-running-1.0.drv.chroot"):
                            self.assertNotIn(f"/nix/store/{n}", nix_dead)

                    dead_valid = [x for x in nix_dead if x in valid]
                    self.assertEqual(s["nixos_gc_reclaimable_paths"], len(dead_valid))
                    self.assertEqual(s["nixos_gc_reclaimable_nar_bytes"], sum(nar[x] for x in dead_valid))
                    self.assertEqual(s["nixos_gc_reclaimable_invalid_entries"], len(invalid_predicted))
                    self.assertEqual(s["nixos_gc_reclaimable_invalid_disk_bytes"], expected_bytes)
                    self.assertGreater(expected_bytes, 300000)  # the interrupted build's partial file
                    self.assertEqual(s["nixos_gc_reclaimable_invalid_unmeasured"], 0)
                    self.assertGreaterEqual(s["nixos_gc_temp_roots"], 2)
                    self.assertEqual(s['nixos_gc_roots_unreadable{source="temporary"}'], 0)

                    # Real collection, with the build still running: it deletes what we said.
                    store.nix("nix-store", "--gc")
                    after = set(os.listdir(store_dir))
                    self.assertEqual({f"/nix/store/{n}" for n in before - after}, ours)

                    # And the exporter follows: nothing left to reclaim.
                    _, s = scrape_until(port, lambda s: s.get("nixos_gc_reclaimable_paths") == 0
                                        and s.get("nixos_gc_reclaimable_invalid_entries") == 0,
                                        "nothing reclaimable after nix-store --gc")
                    self.assertEqual(s["nixos_gc_reclaimable_invalid_disk_bytes"], 0)
            finally:
                stop_builder(running_pid, running)


if __name__ == "__main__":
    unittest.main()
