"""The test machinery itself: the golden helper's accept switch, run.py's exit status (how ctest
learns a test was skipped), and the labels every ctest test carries.

Under NIXMON_ACCEPT=1 a golden comparison that rewrites its file must not pass: the test is
skipped, with the diff of what was written, and ctest reports it skipped; an equal file passes.
"""
import contextlib
import io
import json
import os
import subprocess
import sys
import unittest
from unittest import mock

import harness as h

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")

# One file of tests for run.py, in a scratch directory that stands for the source dir.
PROBE = '''import os
import unittest

import harness as h


class Probe(unittest.TestCase):
    def test_golden(self):
        h.check_golden(self, "golden.txt", "one\\nTWO\\n")
        self.assertNotEqual(os.environ.get("PROBE_FAIL_AFTER"), "1", "a later assertion failed")

    def test_other(self):
        if os.environ.get("PROBE_ALL_SKIP") == "1":
            self.skipTest("skips itself")
'''


class GoldenHelper(unittest.TestCase):
    """harness.check_golden, run on a scratch source dir inside a test of its own."""

    def check(self, golden, actual, accept):
        """Runs a test calling check_golden; returns (result, printed, file text afterwards)."""
        with h.TempDir() as tmp, mock.patch.object(h, "SOURCE_DIR", tmp), \
                mock.patch.object(h, "ACCEPT", accept), mock.patch.object(h, "ACCEPTED", []):
            path = os.path.join(tmp, "tests", "golden.txt")
            if golden is not None:
                os.makedirs(os.path.dirname(path))
                with open(path, "w") as f:
                    f.write(golden)

            class Inner(unittest.TestCase):
                def test_it(self):
                    h.check_golden(self, "tests/golden.txt", actual)

            result = unittest.TestResult()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                Inner("test_it").run(result)
            accepted = list(h.ACCEPTED)
            text = open(path).read() if os.path.exists(path) else None
        return result, out.getvalue(), text, accepted

    def test_accept_on_a_differing_golden_rewrites_it_and_skips_with_the_diff(self):
        result, printed, text, accepted = self.check("one\ntwo\n", "one\nTWO\n", accept=True)
        self.assertEqual((len(result.failures), len(result.errors), len(result.skipped)), (0, 0, 1))
        self.assertIn("NIXMON_ACCEPT=1 rewrote tests/golden.txt", result.skipped[0][1])
        self.assertIn("--- a/tests/golden.txt\n+++ b/tests/golden.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n",
                      printed)
        self.assertEqual(text, "one\nTWO\n")
        self.assertEqual(accepted, ["tests/golden.txt"])

    def test_accept_creates_a_missing_golden_and_skips(self):
        result, printed, text, accepted = self.check(None, "new\n", accept=True)
        self.assertEqual(len(result.skipped), 1)
        self.assertIn("created", result.skipped[0][1])
        self.assertIn("@@ -0,0 +1 @@\n+new\n", printed)
        self.assertEqual(text, "new\n")

    def test_accept_on_an_equal_golden_passes(self):
        result, printed, text, accepted = self.check("same\n", "same\n", accept=True)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual((result.testsRun, len(result.skipped)), (1, 0))
        self.assertEqual((printed, accepted), ("", []))

    def test_a_mismatch_fails_with_a_unified_diff(self):
        result, printed, text, accepted = self.check("one\ntwo\n", "one\nTWO\n", accept=False)
        self.assertEqual(len(result.failures), 1)
        self.assertIn("@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n", result.failures[0][1])
        self.assertEqual(text, "one\ntwo\n")

    def test_a_missing_final_newline_is_a_difference(self):
        self.assertEqual(h.golden_diff("x\n", "x", "f"),
                         "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n")


class Runner(unittest.TestCase):
    """run.py's exit status, which ctest reads (SKIP_RETURN_CODE 77)."""

    def run_probe(self, golden, **env):
        with h.TempDir() as tmp:
            with open(os.path.join(tmp, "golden.txt"), "w") as f:
                f.write(golden)
            with open(os.path.join(tmp, "test_probe.py"), "w") as f:
                f.write(PROBE)
            e = {k: v for k, v in os.environ.items()
                 if k not in ("NIXMON_ACCEPT", "PROBE_FAIL_AFTER", "PROBE_ALL_SKIP")}
            e.update(NIXMON_SOURCE_DIR=tmp, **env)
            r = subprocess.run([sys.executable, RUN, "test_probe.py"], cwd=tmp, env=e,
                               capture_output=True, text=True, timeout=60)
            with open(os.path.join(tmp, "golden.txt")) as f:
                return r, f.read()

    def test_accept_that_rewrites_exits_skipped_and_prints_the_diff(self):
        r, text = self.run_probe("one\ntwo\n", NIXMON_ACCEPT="1")
        self.assertEqual(r.returncode, h.SKIPPED_EXIT, r.stdout + r.stderr)
        self.assertIn("-two\n+TWO\n", r.stdout)
        self.assertEqual(text, "one\nTWO\n")

    def test_accept_on_equal_goldens_exits_passed(self):
        r, text = self.run_probe("one\nTWO\n", NIXMON_ACCEPT="1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_mismatch_exits_failed(self):
        r, text = self.run_probe("one\ntwo\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("-two\n+TWO\n", r.stderr)
        self.assertEqual(text, "one\ntwo\n")

    def test_a_failure_after_an_accept_still_fails(self):
        r, text = self.run_probe("one\ntwo\n", NIXMON_ACCEPT="1", PROBE_FAIL_AFTER="1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("a later assertion failed", r.stderr)

    def test_every_test_skipping_itself_exits_skipped(self):
        r, text = self.run_probe("one\ntwo\n", NIXMON_ACCEPT="1", PROBE_ALL_SKIP="1")
        self.assertEqual(r.returncode, h.SKIPPED_EXIT, r.stdout + r.stderr)


class CtestLabels(unittest.TestCase):
    """Every test ctest knows has exactly one of the labels unit, e2e, fuzz-replay (HACKING.md),
    and says how it reports a skip."""

    KINDS = {"unit", "e2e", "fuzz-replay"}

    def test_every_test_has_exactly_one_kind(self):
        r = subprocess.run(["ctest", "--test-dir", h.BUILD_DIR, "--show-only=json-v1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        tests = json.loads(r.stdout)["tests"]
        wrong, kinds = [], {}
        for t in tests:
            props = {p["name"]: p["value"] for p in t.get("properties", [])}
            labels = set(props.get("LABELS", [])) & self.KINDS
            if len(labels) != 1:
                wrong.append(f"{t['name']}: {sorted(props.get('LABELS', []))}")
                continue
            kind = labels.pop()
            kinds[kind] = kinds.get(kind, 0) + 1
            expected = {"e2e.": "e2e", "fuzz-replay.": "fuzz-replay"}
            prefix_kind = next((k for p, k in expected.items() if t["name"].startswith(p)), "unit")
            if kind != prefix_kind:
                wrong.append(f"{t['name']}: labelled {kind}")
            if kind == "e2e" and (props.get("SKIP_RETURN_CODE") != h.SKIPPED_EXIT
                                  or "run.py" not in t["command"]):
                wrong.append(f"{t['name']}: not run by run.py with SKIP_RETURN_CODE 77")
            if kind == "unit" and not props.get("SKIP_REGULAR_EXPRESSION"):
                wrong.append(f"{t['name']}: a GoogleTest skip would pass")
        self.assertEqual(wrong, [])
        self.assertEqual(set(kinds), self.KINDS, kinds)


if __name__ == "__main__":
    unittest.main()
