"""Every .nix file of the repository parses (`nix-instantiate --parse`, Debian's real Nix 2.8).
Needs nothing but nix-bin, so it runs everywhere, nixpkgs or not."""
import json
import os
import subprocess
import unittest

import harness as h

SKIP_DIRS = {".git", "result"}


def nix_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(h.SOURCE_DIR):
        rel = os.path.relpath(dirpath, h.SOURCE_DIR)
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not (rel == "." and d.startswith("build"))]
        # A fake root's links into its own /nix/store (a user environment's manifest.nix) name
        # host paths that do not exist here: they are fixtures' links, not Nix files to parse.
        out += [os.path.join(dirpath, f) for f in filenames
                if f.endswith(".nix") and os.path.exists(os.path.join(dirpath, f))]
    return sorted(out)


def parse(path=None, text=None):
    argv = [h.tool("nix-instantiate"), "--parse"] + ([path] if path else ["-E", text])
    return subprocess.run(argv, capture_output=True, text=True)


class EveryNixFileParses(unittest.TestCase):
    def test_every_nix_file_parses(self):
        files = nix_files()
        rels = [os.path.relpath(f, h.SOURCE_DIR) for f in files]
        for expected in ("flake.nix", "nix/package.nix", "nix/overlay.nix", "nix/modules/default.nix",
                         "nix/modules/nixos-exporter.nix", "nix/modules/nod.nix",
                         "nix/modules/nixmon/default.nix"):
            self.assertIn(expected, rels)
        for f in files:
            with self.subTest(file=os.path.relpath(f, h.SOURCE_DIR)):
                r = parse(path=f)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_vm_test_scripts_are_python(self):
        # The nixosTest scripts (flake checks) cannot run here; at least they must compile.
        tests_dir = os.path.join(h.SOURCE_DIR, "nix", "tests")
        names = sorted(f for f in os.listdir(tests_dir) if f.endswith(".nix"))
        self.assertEqual(names, ["exporter-nod.nix", "stack.nix"])
        for name in names:
            with self.subTest(test=name):
                r = subprocess.run([h.tool("nix-instantiate"), "--eval", "--strict", "--json", "-E",
                                    f"(import {json.dumps(os.path.join(tests_dir, name))} {{ module = {{ }}; }}).testScript"],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                script = json.loads(r.stdout)
                compile(script, name, "exec")
                self.assertIn("wait_for_unit", script)

    def test_a_syntax_error_is_caught(self):
        r = parse(text="{ a = 1; b = ; }")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("syntax error", r.stderr)


if __name__ == "__main__":
    unittest.main()
