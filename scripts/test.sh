#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (unit, golden, end-to-end with real
# Nix, Prometheus, Alertmanager and NATS started by the tests on loopback, fuzz corpus replay);
# then builds again under AddressSanitizer + UndefinedBehaviorSanitizer (preset asan, build-asan/)
# and runs every test that runs nixmon's code there. Left out under the sanitizers: the tests that
# run none of it (fixtures, rules, the Nix files and modules) and e2e.sandbox (the package's
# checkPhase, which is the default build's). Figures: docs/robustness.md#sanitizers.
#   PRESET=default scripts/test.sh   the default build only
#   PRESET=asan scripts/test.sh      the sanitizer build only, every test
#   scripts/test.sh -L unit          extra arguments go to ctest (both runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

if [ -n "${PRESET:-}" ]; then
  scripts/setup.sh
  exec ctest --preset "$PRESET" -j2 "$@"
fi

status=0
PRESET=default scripts/setup.sh
ctest --preset default -j2 "$@" || status=$?
# Run even when the first failed: both sets of failures in one CI run.
PRESET=asan scripts/setup.sh
ctest --preset asan -j2 -E '^e2e[.](fixtures|rules|nix-parse|nix-modules|nix-flake|sandbox)$' \
  "$@" || status=$?
exit "$status"
