"""The committed fixtures are what their generators write.

tests/fixtures/roots/* (make-roots.py, make-channel-roots.py) and tests/fixtures/store-db/*.sql
(make-store-db.py, make-roots.py) are committed; a change to one generator that is not run again,
or a generated file edited by hand, leaves a fixture that no longer describes one consistent host
(e.g. store paths on disk that the store database does not list, which the gc collector then
counts as invalid entries). The generators are run on a copy and the trees compared, link targets
included.
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness as h

GENERATORS = ("make-roots.py", "make-store-db.py", "make-channel-roots.py")


def differences(a, b, rel=""):
    """Paths below a and b that differ in kind, content or link target, or exist on one side."""
    out = []
    names = set(os.listdir(a)) | set(os.listdir(b))
    for n in sorted(names):
        pa, pb, r = os.path.join(a, n), os.path.join(b, n), os.path.join(rel, n)
        if not os.path.lexists(pa) or not os.path.lexists(pb):
            out.append(r)
        elif os.path.islink(pa) or os.path.islink(pb):
            if not (os.path.islink(pa) and os.path.islink(pb)) or os.readlink(pa) != os.readlink(pb):
                out.append(r)
        elif os.path.isdir(pa) and os.path.isdir(pb):
            out += differences(pa, pb, r)
        elif os.path.isdir(pa) or os.path.isdir(pb) or not filecmp.cmp(pa, pb, shallow=False):
            out.append(r)
    return out


class FixturesAreGenerated(unittest.TestCase):
    def test_generators_reproduce_the_committed_fixtures(self):
        committed = h.fixture()
        with tempfile.TemporaryDirectory(prefix="nixmon-fixtures-") as tmp:
            copy = os.path.join(tmp, "fixtures")
            shutil.copytree(committed, copy, symlinks=True)
            for g in GENERATORS:
                r = subprocess.run([sys.executable, os.path.join(copy, g)], cwd=copy,
                                   capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, f"{g}: {r.stderr}")
            self.assertEqual(differences(committed, copy), [],
                             "fixtures differ from what their generators write: run "
                             + ", ".join(GENERATORS) + " in tests/fixtures and commit the result")

    def test_a_stale_fixture_is_noticed(self):
        # The comparison itself: a file edited by hand and a retargeted link are both found.
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            for d in (a, b):
                os.makedirs(os.path.join(d, "x"))
                with open(os.path.join(d, "x", "f"), "w") as f:
                    f.write("same")
            os.symlink("/nix/store/a", os.path.join(a, "l"))
            os.symlink("/nix/store/b", os.path.join(b, "l"))
            with open(os.path.join(b, "x", "f"), "w") as f:
                f.write("edited")
            self.assertEqual(differences(a, b), ["l", os.path.join("x", "f")])


if __name__ == "__main__":
    unittest.main()
