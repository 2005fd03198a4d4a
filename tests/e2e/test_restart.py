"""The restart collector on real processes: a chroot store built by Debian's Nix 2.8 holds two
systems, each with its own copy of a real executable (the static busybox the builds run with);
/run/current-system is the new one. The test runs a process from each system's copy, and the
exporter reads the machine's real /proc (the root's proc is a link to /proc) with the store
database Nix wrote.

The kernel writes a process's executable and mappings as paths on this machine
("<root>/nix/store/..."): the exporter takes a path under its root as the host path below it, as it
does for a chroot store's GC root links. The unit expected is derived from the process's real
/proc/PID/cgroup by systemd's rules (slices skipped, then the unit), "(none)" in no unit."""
import os
import subprocess
import time
import unittest

import harness as h
import test_store

NIX_EXPR = "let\n" + h.NIX_MK + r"""  # A real executable in the store: a copy of the builder's own shell (static busybox).
  tool = v: mk "tool-${v}" "mkdir -p $out/bin; cp /bin/sh $out/bin/busybox; echo ${v} > $out/version";
in rec {
  toolOld = tool "1";
  toolNew = tool "2";
  systemOld = mk "nixos-system-host-1" "mkdir $out; echo ${toolOld} > $out/sw";
  systemNew = mk "nixos-system-host-2" "mkdir $out; echo ${toolNew} > $out/sw";
}
"""

UNIT_SUFFIXES = (".service", ".scope", ".socket", ".mount", ".swap")


def expected_unit(pid):
    """The unit systemd attributes /proc/PID/cgroup to (systemctl status PID)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    path = next((l[3:] for l in lines if l.startswith("0::")), None)
    if path in (None, "/"):
        path = next((l.split(":", 2)[2] for l in lines if l.split(":")[1:2] == ["name=systemd"]), path)
    for c in (path or "/").strip("/").split("/"):
        if c.endswith(".slice"):
            continue
        return c if c.endswith(UNIT_SUFFIXES) else "(none)"
    return "(none)"


def make_store(tmp):
    s = test_store.ChrootStore(tmp)
    with open(s.expr, "w") as f:
        f.write(NIX_EXPR)
    old = s.build("systemOld")
    new = s.build("systemNew")
    tool_old = s.build("toolOld")
    tool_new = s.build("toolNew")
    s.set_profile(old)
    s.set_profile(new)
    os.makedirs(s.local("/run"))
    os.symlink(new, s.local("/run/current-system"))
    os.symlink(old, s.local("/run/booted-system"))
    os.symlink("/proc", s.local("/proc"))
    return s, tool_old, tool_new


def start_exporter(tmp, root, preexec_fn=None):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                   "--collector.restart", "--no-collector.store", "--no-collector.gc"],
                  tmp, port=port, preexec_fn=preexec_fn)
    return p, port


def closure_ready(s):
    return s.get("nixos_restart_closure_ready") == 1


class Sleeper:
    """A real process running the busybox copy in a store path: `sleep` until stopped."""

    def __init__(self, store, tool):
        self.p = subprocess.Popen([store.local(tool + "/bin/busybox"), "sleep", "600"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


class RestartOnRealProcesses(unittest.TestCase):
    def test_process_running_the_old_systems_code_is_pending_in_its_unit(self):
        with h.TempDir() as tmp:
            store, tool_old, tool_new = make_store(tmp)
            with Sleeper(store, tool_old) as old, Sleeper(store, tool_new):
                unit = expected_unit(old.p.pid)
                p, port = start_exporter(tmp, store.root)
                with p:
                    text, s = test_store.scrape_until(port, closure_ready, "the closure read")
                    key = f'nixos_restart_pending_processes{{unit="{unit}"}}'
                    # Only the old copy: the new one is in the current system's closure, and no
                    # other process on this machine runs code from this store.
                    self.assertEqual(s.get(key), 1, text)
                    self.assertEqual(s['nixos_restart_processes{state="pending"}'], 1, text)
                    self.assertEqual(s["nixos_restart_pending_units"], 1, text)
                    self.assertGreaterEqual(s['nixos_restart_processes{state="up_to_date"}'], 2, text)
                    self.assertEqual(s['nixos_exporter_collector_success{collector="restart"}'], 1)
                    self.assertEqual(h.promtool_check_metrics(text), [])
                    took = s['nixos_exporter_collector_duration_seconds{collector="restart"}']
                    print(f"\nrestart collector on this machine's {len(os.listdir('/proc'))} /proc "
                          f"entries: {took * 1000:.1f} ms", flush=True)
                    # Restarted (here: stopped), the debt is gone.
                    old.p.kill()
                    old.p.wait()
                    text, s = test_store.scrape_until(
                        port, lambda s: s.get('nixos_restart_processes{state="pending"}') == 0,
                        "no pending process after the old one exited")
                    self.assertNotIn("nixos_restart_pending_processes{", text)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run the exporter as another user")
    def test_without_ptrace_access_processes_are_uninspectable_not_up_to_date(self):
        with h.TempDir() as tmp:
            os.chmod(tmp, 0o755)
            store, tool_old, _ = make_store(tmp)
            # SQLite's read-only WAL reader creates the -shm file beside the database.
            os.chmod(store.local("/nix/var/nix/db"), 0o1777)

            def drop():
                os.setgid(65534)
                os.setuid(65534)

            with Sleeper(store, tool_old):
                p, port = start_exporter(tmp, store.root, preexec_fn=drop)
                with p:
                    text, s = test_store.scrape_until(port, closure_ready, "the closure read")
            # Root's processes, the old copy among them, cannot be read by nobody.
            self.assertGreaterEqual(s['nixos_restart_processes{state="uninspectable"}'], 1, text)
            self.assertEqual(s['nixos_restart_processes{state="pending"}'], 0, text)


if __name__ == "__main__":
    unittest.main()
