#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (unit, golden, end-to-end with real
# Nix, Prometheus, Alertmanager and NATS started by the tests on loopback).
#   PRESET=asan scripts/test.sh   the same under AddressSanitizer + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
preset="${PRESET:-default}"
ctest --preset "$preset" -j2 "$@"
