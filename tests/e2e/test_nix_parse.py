"""Every .nix file of the repository parses (`nix-instantiate --parse`, Debian's real Nix 2.8).
Needs nothing but nix-bin, so it runs everywhere, nixpkgs or not."""
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
        out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".nix")]
    return sorted(out)


def parse(path=None, text=None):
    argv = [h.tool("nix-instantiate"), "--parse"] + ([path] if path else ["-E", text])
    return subprocess.run(argv, capture_output=True, text=True)


class EveryNixFileParses(unittest.TestCase):
    def test_every_nix_file_parses(self):
        files = nix_files()
        rels = [os.path.relpath(f, h.SOURCE_DIR) for f in files]
        for expected in ("flake.nix", "nix/package.nix", "nix/overlay.nix", "nix/modules/default.nix",
                         "nix/modules/nixos-exporter.nix", "nix/modules/nod.nix", "nix/modules/nixmon.nix"):
            self.assertIn(expected, rels)
        for f in files:
            with self.subTest(file=os.path.relpath(f, h.SOURCE_DIR)):
                r = parse(path=f)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_syntax_error_is_caught(self):
        r = parse(text="{ a = 1; b = ; }")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("syntax error", r.stderr)


if __name__ == "__main__":
    unittest.main()
