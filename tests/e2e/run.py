"""Runs end-to-end test files as `python3 -m unittest -v FILE...` does, and tells ctest what
happened through the exit status (tests/CMakeLists.txt registers every e2e test this way):

  0   every test passed;
  1   a test failed or erred;
  77  (harness.SKIPPED_EXIT, the tests' SKIP_RETURN_CODE) nothing failed, but nothing was really
      checked either: NIXMON_ACCEPT=1 rewrote a golden file, or every test skipped itself (e.g.
      the module tests without nixpkgs' lib). ctest then reports the test skipped, not passed.
"""
import os
import sys
import unittest

import harness

# As `python3 -m unittest` does: test modules are imported from the working directory.
sys.path.insert(0, os.getcwd())


def main():
    program = unittest.main(module=None, argv=[sys.argv[0], "-v", *sys.argv[1:]], exit=False)
    result = program.result
    if not result.wasSuccessful():
        return 1
    if harness.ACCEPTED:
        print(f"NIXMON_ACCEPT=1 rewrote {len(harness.ACCEPTED)} golden file(s): "
              f"{', '.join(harness.ACCEPTED)}; reported as skipped", flush=True)
        return harness.SKIPPED_EXIT
    if result.testsRun > 0 and len(result.skipped) == result.testsRun:
        print("every test skipped itself; reported as skipped", flush=True)
        return harness.SKIPPED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
