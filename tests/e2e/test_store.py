"""The store and gc collectors against real Nix: a chroot store built by Debian's Nix 2.8 (real
derivations with references, profile generations, result links, dead paths), then the exporter's
figures compared with what Nix itself says (`nix-store --gc --print-dead`, `--print-roots`,
`nix path-info`, `nix-store -qR`) and with sqlite3 on the same database.

Builds in a chroot store run chrooted; Debian's static busybox is their /bin/sh
(sandbox-paths), and substituters are off so nothing waits on the network."""
import json
import os
import sqlite3
import subprocess
import time
import unittest

import harness as h

NIX_EXPR = "let\n" + h.NIX_MK + r"""in rec {
  lib = mk "lib-1.0" "echo library > $out";
  app = mk "app-1.0" "mkdir $out; echo ${lib} > $out/uses-lib; echo app > $out/data";
  tool = mk "tool-2.0" "echo ${app} > $out";
  orphan = mk "orphan-0.1" "echo ${lib} > $out";
  old = mk "old-0.9" "echo old > $out";
  systemA = mk "nixos-system-host-a" "mkdir $out; echo ${app} > $out/sw";
  systemB = mk "nixos-system-host-b" "mkdir $out; echo ${tool} > $out/sw; echo ${app} > $out/app";
}
"""


def busybox():
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return p
    raise FileNotFoundError("busybox (busybox-static) is not installed: run scripts/setup.sh")


class ChrootStore:
    """A Nix store below `root`, as real Nix makes it (no daemon needed as root)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        self.expr = os.path.join(tmp, "store.nix")
        with open(self.expr, "w") as f:
            f.write(NIX_EXPR)
        os.makedirs(os.path.join(self.root, "home", "alice"))
        # Only this test's settings, whatever the machine's /etc/nix/nix.conf says.
        self.conf_dir = os.path.join(tmp, "nix-conf")
        os.makedirs(self.conf_dir)
        with open(os.path.join(self.conf_dir, "nix.conf"), "w") as f:
            f.write("sandbox = false\nsubstituters =\n")
        self.env = dict(os.environ, NIX_CONF_DIR=self.conf_dir,
                        NIXMON_TEST_STORE_SALT=os.urandom(8).hex())

    def nix(self, tool, *args, check=True):
        r = subprocess.run([h.tool(tool), "--store", self.root, *args], capture_output=True,
                           text=True, env=self.env, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed:\n{r.stderr}")
        return r.stdout

    def build(self, attr, out_link=None):
        link = ["-o", out_link] if out_link else ["--no-out-link"]
        return self.nix("nix-build", "--option", "substituters", "",
                        "--option", "sandbox-paths", f"/bin/sh={busybox()}",
                        self.expr, "-A", attr, *link).strip()

    def set_profile(self, path):
        self.nix("nix-env", "-p", self.local("/nix/var/nix/profiles/system"), "--set", path)

    def local(self, host_path):
        return os.path.join(self.root, host_path.lstrip("/"))

    def print_dead(self):
        return sorted(self.nix("nix-store", "--gc", "--print-dead").split())

    def print_roots(self):
        return [l for l in self.nix("nix-store", "--gc", "--print-roots").splitlines() if l.strip()]

    def db(self):
        return sqlite3.connect(f"file:{self.local('/nix/var/nix/db/db.sqlite')}?mode=ro", uri=True)


def make_store(tmp):
    s = ChrootStore(tmp)
    a = s.build("systemA")
    b = s.build("systemB")
    s.build("tool", s.local("/home/alice/result"))   # a result link: an indirect root (gcroots/auto)
    s.build("old", s.local("/home/alice/old-result"))
    os.remove(s.local("/home/alice/old-result"))      # its gcroots/auto link now dangles: dead
    s.build("orphan")                                 # built, never rooted: dead
    s.set_profile(a)
    s.set_profile(b)                                  # generations 1 (a) and 2 (b)
    os.makedirs(s.local("/run"))
    os.symlink(b, s.local("/run/current-system"))
    os.symlink(a, s.local("/run/booted-system"))
    added = os.path.join(tmp, "added")
    os.makedirs(added)
    with open(os.path.join(added, "f"), "w") as f:
        f.write("added, no references\n")
    s.nix("nix-store", "--add", added)              # registered, not rooted: dead
    return s, a, b


def start_exporter(tmp, root, *extra, preexec_fn=None):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                   "--collector.store.check-interval=100ms", "--collector.gc.check-interval=100ms",
                   *extra], tmp, port=port, preexec_fn=preexec_fn)
    return p, port


def scrape_until(port, predicate, what, timeout=60):
    """Scrapes until `predicate(samples)` holds: the background workers answer asynchronously.
    A generous deadline against a hang, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        text = h.scrape(port)
        s = h.samples(text)
        if predicate(s):
            return text, s
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}; last scrape:\n{text}")
        time.sleep(0.05)


def ready(s):
    return s.get("nixos_store_analysis_ready") == 1 and s.get("nixos_gc_analysis_ready") == 1


class StoreAgainstRealNix(unittest.TestCase):
    def test_figures_equal_what_nix_and_sqlite_say(self):
        with h.TempDir() as tmp:
            store, a, b = make_store(tmp)
            nix_dead = store.print_dead()
            nix_roots = store.print_roots()
            self.assertEqual(len(nix_dead), 5, nix_dead)  # old, orphan, added and two .drvs

            # The same set of paths, from the tool the benchmarks also run.
            ours = subprocess.run([h.binary("nixmon-store-report"), f"--path.root={store.root}",
                                   "print-dead"], capture_output=True, text=True, check=True)
            self.assertEqual(sorted(ours.stdout.split()), nix_dead)

            with store.db() as db:
                count, nar, drvs, built = db.execute(
                    "SELECT count(*), sum(narSize), sum(path LIKE '%.drv'), "
                    "sum(ultimate IS NOT NULL AND ultimate != 0) FROM ValidPaths").fetchone()
                dead_nar = sum(db.execute("SELECT narSize FROM ValidPaths WHERE path = ?", (p,)).fetchone()[0]
                               for p in nix_dead)
            info = json.loads(store.nix("nix", "--extra-experimental-features", "nix-command",
                                        "path-info", "--json", "--all"))
            closure_b = json.loads(store.nix("nix", "--extra-experimental-features", "nix-command",
                                             "path-info", "--json", "-S", b))[0]
            closure_a = json.loads(store.nix("nix", "--extra-experimental-features", "nix-command",
                                             "path-info", "--json", "-S", a))[0]
            self.assertEqual(len(info), count)
            self.assertEqual(sum(p["narSize"] for p in info), nar)

            p, port = start_exporter(tmp, store.root)
            with p:
                text, s = scrape_until(port, ready, "both analyses ready")
            self.assertEqual(s["nixos_store_valid_paths"], count)
            self.assertEqual(s["nixos_store_nar_bytes"], nar)
            self.assertEqual(s["nixos_store_derivations"], drvs)
            self.assertEqual(s["nixos_store_built_paths"], built)
            self.assertEqual(s['nixos_store_registered_paths{window="24h"}'], count)
            self.assertEqual(s["nixos_gc_reclaimable_paths"], len(nix_dead))
            self.assertEqual(s["nixos_gc_reclaimable_nar_bytes"], dead_nar)
            self.assertEqual(s["nixos_gc_live_paths"] + s["nixos_gc_reclaimable_paths"], count)
            roots = sum(v for k, v in s.items() if k.startswith("nixos_gc_roots{"))
            self.assertEqual(roots, len(nix_roots), nix_roots)
            self.assertEqual(s['nixos_gc_roots{source="gcroots_auto"}'], 1)  # the result link
            self.assertEqual(s['nixos_gc_roots{source="profiles"}'], 2)
            self.assertEqual(s['nixos_system_closure_paths{system="current"}'],
                             len(store.nix("nix-store", "-qR", b).split()))
            self.assertEqual(s['nixos_system_closure_nar_bytes{system="current"}'], closure_b["closureSize"])
            self.assertEqual(s['nixos_system_closure_nar_bytes{system="booted"}'], closure_a["closureSize"])
            self.assertEqual(s['nixos_exporter_collector_success{collector="store"}'], 1)
            self.assertEqual(s['nixos_exporter_collector_success{collector="gc"}'], 1)
            self.assertGreater(s["nixos_store_filesystem_size_bytes"], 0)
            self.assertIn("runtime roots (paths used by running processes) are NOT counted", text)
            self.assertEqual(h.promtool_check_metrics(text), [])

    def test_follows_nix_when_roots_and_database_change(self):
        with h.TempDir() as tmp:
            store, a, b = make_store(tmp)
            p, port = start_exporter(tmp, store.root)
            with p:
                scrape_until(port, ready, "both analyses ready")
                # Deleting a generation changes the roots, not the database.
                store.nix("nix-env", "-p", store.local("/nix/var/nix/profiles/system"),
                          "--delete-generations", "1")
                dead = store.print_dead()
                self.assertGreater(len(dead), 5)
                _, s = scrape_until(port, lambda s: s.get("nixos_gc_reclaimable_paths") == len(dead),
                                    f"reclaimable == {len(dead)} after deleting generation 1")
                self.assertEqual(s['nixos_gc_roots{source="profiles"}'], 1)
                # Real garbage collection: the database changes (data_version) and so do we.
                store.nix("nix-store", "--gc")
                with store.db() as db:
                    count = db.execute("SELECT count(*) FROM ValidPaths").fetchone()[0]
                _, s = scrape_until(port, lambda s: s.get("nixos_store_valid_paths") == count
                                    and s.get("nixos_gc_reclaimable_paths") == 0,
                                    f"{count} valid paths and nothing reclaimable after nix-store --gc")
                self.assertEqual(s["nixos_gc_reclaimable_nar_bytes"], 0)
                self.assertEqual(store.print_dead(), [])

    def test_unreadable_database_is_a_failure_not_zero(self):
        with h.TempDir() as tmp:
            os.chmod(tmp, 0o755)
            store, _, _ = make_store(tmp)
            for d in ("", "/nix", "/nix/var", "/nix/var/nix"):
                os.chmod(store.local(d) if d else store.root, 0o755)
            os.chmod(store.local("/nix/var/nix/db"), 0o700)

            def drop():
                os.setgid(65534)
                os.setuid(65534)

            p, port = start_exporter(tmp, store.root, preexec_fn=drop if os.geteuid() == 0 else None)
            with p:
                text, s = scrape_until(
                    port, lambda s: s.get('nixos_exporter_collector_success{collector="gc"}') == 0
                    and s.get('nixos_exporter_collector_success{collector="store"}') == 0,
                    "both collectors failing")
            for name in s:
                self.assertFalse(name.startswith("nixos_store_") or name.startswith("nixos_gc_"),
                                 f"{name} reported for an unreadable database:\n{text}")
            self.assertIn("Permission denied", p.log())
            self.assertEqual(s['nixos_exporter_collector_success{collector="generation"}'], 1)

    def test_runtime_roots_option_counts_processes_like_nix(self):
        """A process whose environment names a store path keeps it alive for Nix; with
        --collector.gc.runtime-roots the exporter agrees (it reads /proc under --path.root, so
        the chroot gets the real /proc bind-mounted)."""
        with h.TempDir() as tmp:
            store, _, _ = make_store(tmp)
            orphan = [x for x in store.print_dead() if x.endswith("-orphan-0.1")][0]
            proc = store.local("/proc")
            os.makedirs(proc)
            if subprocess.run(["mount", "--bind", "/proc", proc], capture_output=True).returncode != 0:
                self.fail("cannot bind-mount /proc into the test root (the test needs root)")
            try:
                holder = subprocess.Popen(["sleep", "600"], env={"HOLD": orphan})
                try:
                    nix_dead = store.print_dead()
                    self.assertNotIn(orphan, nix_dead, "Nix itself must see the runtime root")
                    p, port = start_exporter(tmp, store.root, "--collector.gc.runtime-roots")
                    with p:
                        text, s = scrape_until(port, ready, "both analyses ready")
                    self.assertEqual(s["nixos_gc_reclaimable_paths"], len(nix_dead))
                    self.assertGreaterEqual(s['nixos_gc_roots{source="runtime"}'], 1)
                    self.assertIn("runtime roots (paths used by running processes) are counted", text)
                finally:
                    holder.kill()
                    holder.wait()
            finally:
                subprocess.run(["umount", proc], check=True)


if __name__ == "__main__":
    unittest.main()
