#!/usr/bin/env bash
# Sets everything up, builds, and runs nixos-exporter on this host at :9971 (Ctrl-C stops it).
# Extra arguments go to the exporter, e.g. scripts/run.sh --listen 127.0.0.1:9971
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/src/exporter/nixos-exporter "$@"
