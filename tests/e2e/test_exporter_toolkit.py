"""nixos-exporter's node_exporter / exporter-toolkit parity and a new user's first run, end to end:
usage errors exit 2, a --path.root that is no directory stops startup, an empty root reports no
made-up values, and node_exporter's web and collector flags (node_exporter.go, v1.12)."""
import os
import re
import subprocess
import time
import unittest

import harness as h


def run(binary, *args):
    r = subprocess.run([h.binary(binary), *args], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def start(tmp, root, *extra):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}", *extra],
                  tmp, port=port)
    return p, port


class UsageErrors(unittest.TestCase):
    """Every usage error exits 2 with a message naming the problem (CLI11's own codes, 105 for a
    bad value and 109 for an unknown flag, are not what docs/nixos-exporter.md promises)."""

    CASES = {
        "nixos-exporter": [
            (["--nonesuch"], "--nonesuch"),                      # unknown flag
            (["--collector.nonesuch"], "--collector.nonesuch"),  # unknown collector
            (["--web.max-requests=many"], "--web.max-requests"), # bad value
            (["--listen"], "--listen"),                          # missing value
            (["--web.telemetry-path=metrics"], "must start with '/'"),
            (["--scrape.timeout=soon"], "--scrape.timeout"),     # checked after parsing
            (["unexpected"], "unexpected"),                      # a stray argument
        ],
        "nixmon-store-report": [
            (["--nonesuch"], "--nonesuch"),
            (["everything"], "everything"),  # not one of stats, gc, print-dead
            (["--path.root"], "--path.root"),
        ],
        "nod": [
            (["--nonesuch"], "--nonesuch"),
            (["--db"], "--db"),
            (["--output=yaml"], "yaml"),
        ],
    }

    def test_every_usage_error_exits_2_with_a_message(self):
        for binary, cases in self.CASES.items():
            for args, needle in cases:
                with self.subTest(binary=binary, args=args):
                    code, out = run(binary, *args)
                    self.assertEqual(code, 2, out)
                    self.assertIn(needle, out)

    def test_help_and_version_exit_0(self):
        for binary in self.CASES:
            for flag in ("--help", "--version"):
                with self.subTest(binary=binary, flag=flag):
                    code, out = run(binary, flag)
                    if binary == "nixmon-store-report" and flag == "--version":
                        continue  # it has no --version
                    self.assertEqual(code, 0, out)


class PathRoot(unittest.TestCase):
    def test_missing_or_non_directory_root_stops_startup(self):
        with h.TempDir() as tmp:
            missing = os.path.join(tmp, "does", "not", "exist")
            a_file = os.path.join(tmp, "file")
            open(a_file, "w").close()
            for binary, extra in (("nixos-exporter", ["--listen=127.0.0.1:0"]), ("nixmon-store-report", ["stats"])):
                with self.subTest(binary=binary):
                    code, out = run(binary, *extra, f"--path.root={missing}")
                    self.assertEqual(code, 2, out)
                    self.assertIn(f"--path.root {missing}: No such file or directory", out)
                    code, out = run(binary, *extra, f"--path.root={a_file}")
                    self.assertEqual(code, 2, out)
                    self.assertIn(f"--path.root {a_file}: not a directory", out)

    def test_an_empty_root_reports_no_made_up_values(self):
        # A root that exists but holds nothing of a host: no /etc, no /nix, no /run, no /boot.
        # Every collector must fail or stay silent; no nixos_* series may carry a value for it
        # (nixos_autoupgrade_enabled 0 and success for boot and upgrade were such values).
        with h.TempDir() as tmp:
            root = os.path.join(tmp, "root")
            os.mkdir(root)
            p, port = start(tmp, root)
            with p:
                s = h.samples(h.scrape(port))
            collectors = {k: v for k, v in s.items() if k.startswith("nixos_exporter_collector_success")}
            self.assertTrue(collectors, s)
            for series, value in collectors.items():
                self.assertEqual(value, 0, f"{series} reports success for a host that is not there")
            invented = [k for k in s if k.startswith("nixos_") and not k.startswith("nixos_exporter_")]
            self.assertEqual(invented, [], "series reported for an empty root")
            for c in ("boot", "upgrade"):
                self.assertIn(f'nixos_exporter_collector_success{{collector="{c}"}}', s)


class WebFlags(unittest.TestCase):
    def test_telemetry_path(self):
        with h.TempDir() as tmp:
            p, port = start(tmp, h.fixture("roots", "nixos-basic"), "--web.telemetry-path=/custom/metrics")
            with p:
                self.assertIn("nixos_generation_count 3", h.scrape(port, "/custom/metrics"))
                status, _, _ = h.http_get(f"http://127.0.0.1:{port}/metrics")
                self.assertEqual(status, 404)
                status, _, body = h.http_get(f"http://127.0.0.1:{port}/")
                self.assertEqual(status, 200)
                self.assertIn(b'href="/custom/metrics"', body)

    def test_exporter_metrics_are_the_exporters_own_and_can_be_disabled(self):
        with h.TempDir() as tmp:
            # A root with a /proc of its own whose figures are absurd: process_* must come from the
            # exporter's /proc/self, never from below --path.root.
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            os.makedirs(os.path.join(root, "proc", "self", "fd"))
            with open(os.path.join(root, "proc", "self", "stat"), "w") as f:
                f.write("1 (fake) S " + " ".join(["999999999"] * 49) + "\n")
            with open(os.path.join(root, "proc", "stat"), "w") as f:
                f.write("btime 1\n")
            before = time.time()
            p, port = start(tmp, root)
            with p:
                text = h.scrape(port)
            s = h.samples(text)
            for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                         "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                         "process_start_time_seconds", "process_virtual_memory_max_bytes"):
                self.assertIn(name, s, text)
            self.assertLess(s["process_cpu_seconds_total"], 60)
            self.assertGreater(s["process_open_fds"], 2)
            self.assertGreater(s["process_resident_memory_bytes"], 1 << 20)
            self.assertLess(s["process_resident_memory_bytes"], 1 << 30)
            self.assertAlmostEqual(s["process_start_time_seconds"], before, delta=5)
            self.assertIn("# TYPE process_cpu_seconds_total counter", text)
            self.assertEqual(s['promhttp_metric_handler_requests_total{code="200"}'], 0)
            self.assertEqual(s["promhttp_metric_handler_requests_in_flight"], 1)
            self.assertEqual(h.promtool_check_metrics(text), [])

            p, port = start(tmp, root, "--web.disable-exporter-metrics")
            with p:
                text = h.scrape(port)
            self.assertFalse(re.search(r"^(process|promhttp)_", text, re.M), text)
            # The collectors' own status and build info are not "exporter metrics" (node_exporter
            # keeps node_scrape_collector_* and its build info under the same flag).
            self.assertIn("nixos_exporter_collector_success", text)
            self.assertIn("nixos_exporter_build_info", text)

    def test_disable_defaults_runs_only_the_named_collectors(self):
        with h.TempDir() as tmp:
            root = h.fixture("roots", "nixos-basic")
            p, port = start(tmp, root, "--collector.disable-defaults", "--collector.system")
            with p:
                s = h.samples(h.scrape(port))
            ran = sorted(re.search(r'collector="([^"]+)"', k).group(1)
                         for k in s if k.startswith("nixos_exporter_collector_success"))
            self.assertEqual(ran, ["system"])
            self.assertNotIn("nixos_generation_count", s)
            # A collector switched off by name stays off; with nothing named, nothing runs.
            p, port = start(tmp, root, "--collector.disable-defaults", "--no-collector.system",
                            "--collector.generation")
            with p:
                s = h.samples(h.scrape(port))
            ran = sorted(re.search(r'collector="([^"]+)"', k).group(1)
                         for k in s if k.startswith("nixos_exporter_collector_success"))
            self.assertEqual(ran, ["generation"])


class DocumentedFlags(unittest.TestCase):
    """docs/nixos-exporter.md, the exporter's reference, and --help agree: every flag --help shows is
    documented, every collector has its row, and every flag the flag tables name exists."""

    def shown(self):
        return h.help_flags(self.help)

    def setUp(self):
        self.help = subprocess.run([h.binary("nixos-exporter"), "--help"], capture_output=True,
                                   text=True, timeout=30, check=True).stdout
        with open(os.path.join(h.SOURCE_DIR, "docs", "nixos-exporter.md")) as f:
            self.doc = f.read()

    def collectors(self):
        shown = self.shown()
        return sorted(f[len("--collector."):] for f in shown
                      if f.startswith("--collector.") and "--no-" + f[2:] in shown)

    def test_every_flag_of_help_is_documented(self):
        names = self.collectors()
        self.assertIn("generation", names)
        self.assertEqual([n for n in names if f"| `{n}` |" not in self.doc], [],
                         "collectors without a row in docs/nixos-exporter.md")
        switches = {f"--{no}collector.{n}" for n in names for no in ("", "no-")}
        flags = self.shown() - switches - {"--help"}
        self.assertEqual(sorted(f for f in flags if f"`{f}`" not in self.doc), [],
                         "flags of --help not documented in docs/nixos-exporter.md")

    def test_every_documented_flag_exists(self):
        documented = set()
        for table in re.findall(r"^\| flag \|.*?\n((?:\|.*\n)+)", self.doc, re.M):
            for row in table.splitlines()[1:]:
                documented |= set(re.findall(r"`(--[a-z][a-z0-9.-]*)`", row.split("|")[1]))
        self.assertIn("--path.root", documented)
        shown = self.shown()
        self.assertEqual(sorted(documented - shown), [], "documented flags nixos-exporter does not have")


if __name__ == "__main__":
    unittest.main()
