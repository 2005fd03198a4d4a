"""nixos-exporter end to end: the real binary on fake roots, scraped over HTTP."""
import gzip
import os
import subprocess
import unittest

import harness as h

# Series whose values depend on the clock or the test machine's disk.
VOLATILE = [
    r"nixos_exporter_collector_duration_seconds",
    r"nixos_generation_age_seconds",
    r"nixos_boot_filesystem_",
    r"nixos_autoupgrade_last_trigger_timestamp_seconds",  # the copied stamp's mtime: checked below
    r"process_",  # the exporter's own process (test_exporter_toolkit.py checks them)
    r"nixos_nixpkgs_age_seconds",  # from the real clock
]


def start_exporter(tmp, root, *extra, preexec_fn=None):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}", *extra],
                  tmp, port=port, preexec_fn=preexec_fn)
    return p, port


class ExporterEndToEnd(unittest.TestCase):
    def test_whole_scrape_matches_golden(self):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            p, port = start_exporter(tmp, root)
            with p:
                text = h.scrape(port)
            self.assertEqual(p.returncode, 0, p.log())
            h.check_golden(self, "tests/e2e/golden/exporter-nixos-basic.prom", h.mask(text, VOLATILE, whole=[r"nixos_exporter_build_info"]))

    def test_autoupgrade_trigger_time_is_the_timer_stamps_mtime(self):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            stamp = os.path.join(root, "var/lib/systemd/timers/stamp-nixos-upgrade.timer")
            os.utime(stamp, ns=(0, 1_795_000_000_250_000_000))  # as systemd touches it on a trigger
            p, port = start_exporter(tmp, root)
            with p:
                text = h.scrape(port)
                self.assertIn("nixos_autoupgrade_last_trigger_timestamp_seconds 1795000000.25\n", text)
                self.assertIn("nixos_autoupgrade_enabled 1\n", text)
                # Never triggered (or not Persistent=): absent, not 0; disabled: 0.
                os.unlink(stamp)
                os.unlink(os.path.join(root, "etc/systemd/system/timers.target.wants/nixos-upgrade.timer"))
                text = h.scrape(port)
                self.assertNotIn("nixos_autoupgrade_last_trigger_timestamp_seconds", text)
                self.assertIn("nixos_autoupgrade_enabled 0\n", text)

    def test_promtool_accepts_the_scrape(self):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            p, port = start_exporter(tmp, root)
            with p:
                text = h.scrape(port)
            self.assertEqual(h.promtool_check_metrics(text), [])
            # The check itself must be able to fail: a broken line is reported.
            self.assertTrue(h.promtool_check_metrics(text + "bad metric{ 1\n"))

    def test_http_surface(self):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            p, port = start_exporter(tmp, root)
            with p:
                status, headers, body = h.http_get(f"http://127.0.0.1:{port}/")
                self.assertEqual(status, 200)
                self.assertIn(b'href="/metrics"', body)
                status, _, body = h.http_get(f"http://127.0.0.1:{port}/nope")
                self.assertEqual(status, 404)
                self.assertIn(b"not found", body)
                status, headers, body = h.http_get(f"http://127.0.0.1:{port}/metrics",
                                                   {"Accept-Encoding": "gzip"})
                self.assertEqual(headers.get("Content-Encoding"), "gzip")
                self.assertIn(b"nixos_generation_count 3", gzip.decompress(body))
                self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
                status, headers, body = h.http_get(f"http://127.0.0.1:{port}/metrics")
                self.assertNotIn("Content-Encoding", headers)
            self.assertEqual(p.returncode, 0, "SIGTERM must shut down cleanly:\n" + p.log())
            self.assertIn("shutting down", p.log())

    def test_non_nixos_host_keeps_serving_with_failures_reported(self):
        with h.TempDir() as tmp:
            root = h.copy_root("non-nixos", os.path.join(tmp, "root"))
            p, port = start_exporter(tmp, root)
            with p:
                s = h.samples(h.scrape(port))
                self.assertTrue(p.alive())
            for c in ("generation", "system", "reboot"):
                self.assertEqual(s[f'nixos_exporter_collector_success{{collector="{c}"}}'], 0)
            self.assertFalse([k for k in s if k.startswith("nixos_generation") or k.startswith("nixos_config")],
                             "no generation metric may be reported for a non-NixOS host")

    def test_unreadable_profiles_directory_as_unprivileged_user(self):
        with h.TempDir() as tmp:
            os.chmod(tmp, 0o755)
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            os.chmod(os.path.join(root, "nix/var/nix/profiles"), 0)

            def drop():
                os.setgid(65534)
                os.setuid(65534)

            p, port = start_exporter(tmp, root, preexec_fn=drop if os.geteuid() == 0 else None)
            with p:
                text = h.scrape(port)
            s = h.samples(text)
            self.assertEqual(s['nixos_exporter_collector_success{collector="generation"}'], 0, text)
            self.assertEqual(s['nixos_exporter_collector_success{collector="system"}'], 1, text)
            self.assertNotIn("nixos_generation_count", text)
            self.assertIn("Permission denied", p.log())

    def test_generations_written_by_real_nix(self):
        """A chroot store made by Debian's Nix: nix-env writes the generation links itself."""
        with h.TempDir() as tmp:
            root = os.path.join(tmp, "root")
            src = os.path.join(tmp, "src")
            nix_opts = ["--store", root]

            def add(path):
                return subprocess.run([h.tool("nix-store"), *nix_opts, "--add", path], check=True,
                                      capture_output=True, text=True).stdout.strip()

            systems = []
            for n, kver in ((1, "6.6.30"), (2, "6.6.31")):
                kdir = os.path.join(src, f"linux-{kver}")
                os.makedirs(kdir)
                with open(os.path.join(kdir, "bzImage"), "w") as f:
                    f.write("kernel " + kver)
                kernel = add(kdir)
                sdir = os.path.join(src, f"nixos-system-host-{n}")
                os.makedirs(sdir)
                os.symlink(kernel + "/bzImage", os.path.join(sdir, "kernel"))
                with open(os.path.join(sdir, "nixos-version"), "w") as f:
                    f.write(f"24.05.{n}")
                systems.append(add(sdir))
            profile = os.path.join(root, "nix/var/nix/profiles/system")
            for s in systems:
                subprocess.run([h.tool("nix-env"), *nix_opts, "-p", profile, "--set", s], check=True,
                               capture_output=True)
            os.makedirs(os.path.join(root, "run"))
            os.symlink(systems[1], os.path.join(root, "run/current-system"))
            os.symlink(systems[0], os.path.join(root, "run/booted-system"))
            self.assertEqual(os.readlink(profile), "system-2-link")

            p, port = start_exporter(tmp, root)
            with p:
                s = h.samples(h.scrape(port))
            self.assertEqual(s["nixos_generation_count"], 2)
            self.assertEqual(s["nixos_current_generation"], 2)
            self.assertEqual(s["nixos_booted_generation"], 1)
            self.assertEqual(s["nixos_config_mismatch"], 1)
            self.assertEqual(s['nixos_reboot_required{reason="kernel"}'], 1)
            self.assertLess(s["nixos_generation_age_seconds"], 600)

    def test_bad_flags_and_taken_port_are_clear_errors(self):
        with h.TempDir() as tmp:
            r = subprocess.run([h.binary("nixos-exporter"), "--collector.nonesuch"], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("collector.nonesuch", r.stderr + r.stdout)
            r = subprocess.run([h.binary("nixos-exporter"), "--listen=nonsense"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("invalid listen address", r.stderr)
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            p, port = start_exporter(tmp, root)
            with p:
                r = subprocess.run([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}"],
                                   capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.stderr)


if __name__ == "__main__":
    unittest.main()
