"""The alert rules in rules/: Debian's real promtool checks every rule file and runs the unit tests in
rules/tests/; every alert has a test that fires it and one that keeps it silent; the committed files
are the templates rendered with the defaults; every metric a rule reads is exported by someone."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

import harness as h
import monitoring_support as ms

sys.path.insert(0, ms.RULES_DIR)
import render  # noqa: E402  (rules/render.py)


def promtool(*args, cwd=None):
    return subprocess.run([h.tool("promtool"), *args], capture_output=True, text=True, cwd=cwd)


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def unit_test_files(directory=os.path.join(ms.RULES_DIR, "tests")):
    return sorted(glob.glob(os.path.join(directory, "*.test.yml")))


def unit_test_cases(path):
    """{alertname: {"fires": n, "silent": n}} from a promtool unit-test file in this project's layout."""
    cases = {}
    lines = read(path).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*alertname:\s*(\S+)\s*$", line)
        if not m:
            continue
        rest = lines[i + 1] if i + 1 < len(lines) else ""
        kind = "silent" if re.match(r"^\s*exp_alerts:\s*\[\]\s*$", rest) else "fires"
        if kind == "fires" and not (i + 2 < len(lines) and "exp_labels" in lines[i + 2]):
            continue
        c = cases.setdefault(m.group(1), {"fires": 0, "silent": 0})
        c[kind] += 1
    return cases


class Rules(unittest.TestCase):
    def test_promtool_checks_every_rule_file(self):
        files = ms.rule_files()
        self.assertGreaterEqual(len(files), 4, files)
        for f in files:
            r = promtool("check", "rules", f)
            self.assertEqual(r.returncode, 0, f"{f}:\n{r.stdout}{r.stderr}")
            # promtool's count of rules equals what our reader finds, so the checks below that use
            # the reader see every rule.
            found = int(re.search(r"SUCCESS: (\d+) rules found", r.stdout).group(1))
            self.assertEqual(found, len(ms.alerts_in(f)), f)
        # The check can fail: a rule with a broken expression is refused.
        with h.TempDir() as tmp:
            bad = os.path.join(tmp, "bad.yml")
            with open(bad, "w") as f:
                f.write("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n")
            self.assertNotEqual(promtool("check", "rules", bad).returncode, 0)

    def test_promtool_unit_tests_pass(self):
        files = unit_test_files()
        self.assertTrue(files)
        r = promtool("test", "rules", *files)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_alert_has_a_firing_and_a_silent_unit_test(self):
        alerts = {a["alert"] for f in ms.rule_files() for a in ms.alerts_in(f)}
        cases = {}
        for f in unit_test_files():
            for name, c in unit_test_cases(f).items():
                cases.setdefault(name, {"fires": 0, "silent": 0})
                for k in c:
                    cases[name][k] += c[k]
        for name in sorted(alerts):
            with self.subTest(alert=name):
                self.assertIn(name, cases, f"{name} has no promtool unit test")
                self.assertGreater(cases[name]["fires"], 0, f"no test where {name} fires")
                self.assertGreater(cases[name]["silent"], 0, f"no test where {name} stays silent")
        self.assertEqual(sorted(set(cases) - alerts), [], "unit tests for alerts that do not exist")

    def test_alert_names_are_unique_and_labelled(self):
        seen = {}
        for f in ms.rule_files():
            for a in ms.alerts_in(f):
                with self.subTest(alert=a["alert"]):
                    self.assertNotIn(a["alert"], seen, f"{a['alert']} in {f} and {seen.get(a['alert'])}")
                    seen[a["alert"]] = f
                    self.assertIn(a["labels"].get("severity"), ms.SEVERITIES)
                    self.assertTrue(a["annotations"].get("summary"))
                    self.assertTrue(a["annotations"].get("description"))
                    # Every summary names the host.
                    self.assertRegex(a["annotations"]["summary"], r"\$labels\.(host|instance|job)")
        # The alerts of the Go nixos-exporter and the hand-built stacks, deduplicated (rules/README.md
        # maps each original name to ours).
        for name in ("NixOSConfigStale", "NixOSRebootRequired", "NixpkgsInputStale", "NixOSRevisionBehind",
                     "HighCPUUsage", "HighMemoryUsage", "LowDiskSpace", "HostDown", "NixStoreSize",
                     "SystemdServiceFailed", "HighNetworkTraffic", "InstanceDown", "HostOutOfDiskSpace",
                     "HostOutOfMemory"):
            self.assertIn(name, seen)

    def test_every_metric_a_rule_reads_is_exported(self):
        ours = ms.names_in_sources()
        node_names = ms.names_in_exposition(ms.node_exporter_scrape())
        # cAdvisor and the pve exporter cannot run here: their documented expositions stand in
        # (tests/fixtures/expositions/README.md names the sources).
        third_party = {"container_": ms.names_in_exposition(ms.fixture_exposition("cadvisor.prom")),
                       "pve_": ms.names_in_exposition(ms.fixture_exposition("pve.prom"))}
        queries = [q for f in ms.rule_files() for a in ms.alerts_in(f) for t in a["annotations"].values()
                   for q in ms.template_queries(t)]
        self.assertGreater(len(queries), 15, "the annotations' queries are checked too")
        for f in ms.rule_files():
            for a in ms.alerts_in(f):
                names = ms.metric_names(a["expr"])
                for text in a["annotations"].values():
                    for q in ms.template_queries(text):
                        names |= ms.metric_names(q)
                self.assertTrue(names, a["alert"])
                for n in sorted(names):
                    with self.subTest(alert=a["alert"], metric=n):
                        if n == "up":
                            continue  # Prometheus' own, for every target
                        if n.startswith("node_"):
                            if n.startswith("node_systemd_"):
                                # node_exporter's systemd collector needs systemd's D-Bus, which
                                # this machine lacks; check that the collector exists at least.
                                r = subprocess.run([h.tool("prometheus-node-exporter"), "--help"],
                                                   capture_output=True, text=True)
                                self.assertIn("--collector.systemd", r.stdout + r.stderr)
                                self.assertEqual(n, "node_systemd_unit_state")
                                continue
                            self.assertIn(n, node_names, f"node_exporter does not export {n}")
                            continue
                        prefix = next((p for p in third_party if n.startswith(p)), None)
                        if prefix:
                            self.assertIn(n, third_party[prefix], f"{n} is not in the documented exposition")
                            continue
                        self.assertTrue(ms.exported_by_us(n, ours), f"nothing in src/ exports {n}")
        # The check can fail.
        self.assertFalse(ms.exported_by_us("nixos_no_such_metric", ours))

    def test_committed_rules_are_the_rendered_templates(self):
        params = render.load_params()
        with h.TempDir() as tmp:
            render.render_all(render.values_with(params, {}), tmp)
            rendered = sorted(os.listdir(tmp))
            self.assertEqual(rendered, sorted(os.path.basename(f) for f in ms.rule_files()),
                             "every rules/*.yml comes from a template, and every template is rendered")
            for name in rendered:
                with open(os.path.join(tmp, name)) as a, open(os.path.join(ms.RULES_DIR, name)) as b:
                    self.assertEqual(a.read(), b.read(), f"rules/{name} differs from its template: run rules/render.py")

    def test_every_parameter_is_used_and_documented(self):
        params = render.load_params()
        used = set()
        for t in render.templates():
            with open(t) as f:
                used |= set(render.PLACEHOLDER.findall(f.read()))
        self.assertEqual(sorted(used - set(params)), [], "placeholders without a parameter")
        self.assertEqual(sorted(set(params) - used), [], "parameters no template uses")
        with open(os.path.join(ms.RULES_DIR, "README.md")) as f:
            readme = f.read()
        for name, p in params.items():
            default = str(p["default"]).replace("|", "\\|")
            self.assertIn(f"| `{name}` | `{default}` |", readme, f"rules/README.md does not document {name} = {default}")

    def test_a_changed_threshold_reaches_the_rules_and_the_tests_notice(self):
        """Rendering with other values changes the rules (what the NixOS module does), the result still
        passes promtool check, and the unit tests, written for the defaults, now fail: they really
        test the thresholds."""
        with h.TempDir() as tmp:
            out = os.path.join(tmp, "rules")
            r = subprocess.run([sys.executable, os.path.join(ms.RULES_DIR, "render.py"), "--out", out,
                                "--set", "cpu_usage_percent=97", "--set", "reboot_required_for=48h",
                                "--set", "fleet_label=flake"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('[5m]))) > 97\n', read(out, "host.yml"))
            self.assertIn("for: 48h", read(out, "nixos.yml"))
            self.assertIn("count by (flake, configuration_rev)", read(out, "flake.yml"))
            for f in glob.glob(os.path.join(out, "*.yml")):
                c = promtool("check", "rules", f)
                self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
            shutil.copytree(os.path.join(ms.RULES_DIR, "tests"), os.path.join(out, "tests"))
            for name in ("host", "nixos", "flake"):
                t = promtool("test", "rules", os.path.join(out, "tests", f"{name}.test.yml"))
                self.assertNotEqual(t.returncode, 0, f"{name}.test.yml passed with changed thresholds")
                self.assertIn("FAILED", t.stdout + t.stderr)

    def test_nix_renders_the_same_rules(self):
        """rules/default.nix (what the NixOS module imports) gives render.py's output, byte for byte,
        with the defaults and with changed values, and refuses what render.py refuses."""
        def nix_texts(values_nix):
            r = subprocess.run([h.tool("nix-instantiate"), "--eval", "--strict", "--json", "-E",
                                f"(import {ms.RULES_DIR} {{ values = {values_nix}; }}).texts"],
                               capture_output=True, text=True)
            return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else r.stderr)

        rc, texts = nix_texts("{ }")
        self.assertEqual(rc, 0, texts)
        self.assertEqual(sorted(texts), sorted(os.path.basename(f) for f in ms.rule_files()))
        for name, text in texts.items():
            self.assertEqual(text, read(ms.RULES_DIR, name), name)

        rc, texts = nix_texts('{ cpu_usage_percent = 80; reboot_required_for = "48h"; fleet_label = "flake"; }')
        self.assertEqual(rc, 0, texts)
        with h.TempDir() as tmp:
            r = subprocess.run([sys.executable, os.path.join(ms.RULES_DIR, "render.py"), "--out", tmp,
                                "--set", "cpu_usage_percent=80", "--set", "reboot_required_for=48h",
                                "--set", "fleet_label=flake"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            for name, text in texts.items():
                self.assertEqual(text, read(tmp, name), name)
        self.assertIn("> 80\n", texts["host.yml"])

        for bad, message in (('{ cpu_usage_percent = "90) or vector(1"; }', "cpu_usage_percent"),
                             ('{ host_down_for = "2 minutes"; }', "host_down_for"),
                             ("{ no_such_param = 1; }", "no_such_param")):
            rc, err = nix_texts(bad)
            self.assertNotEqual(rc, 0, bad)
            self.assertIn(message, err)

    def test_bad_values_are_refused(self):
        with h.TempDir() as tmp:
            for setting in ("cpu_usage_percent=90) or vector(1", "host_down_for=2 minutes",
                            'node_job_regex=node"} or vector(1) or up{job="', "no_such_param=1"):
                with self.subTest(setting=setting):
                    r = subprocess.run([sys.executable, os.path.join(ms.RULES_DIR, "render.py"), "--out", tmp,
                                        "--set", setting], capture_output=True, text=True)
                    self.assertNotEqual(r.returncode, 0)
                    self.assertIn("render.py:", r.stderr)
            self.assertEqual(os.listdir(tmp), [], "nothing is written when a value is refused")


if __name__ == "__main__":
    unittest.main()
