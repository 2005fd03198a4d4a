#!/usr/bin/env bash
# The store and gc collectors against what people run instead, side by side on one big store:
#   1. store size: `nixmon-store-report stats` (SUM(narSize) over the database) vs `du -sb`
#   2. reclaimable: `nixmon-store-report print-dead` vs `nix-store --gc --print-dead` (same set
#      checked first)
#   3. a warm scrape: the collectors' collect() once the background analysis answered
#      (store-collector-bench, Google Benchmark), and the exporter's own
#      nixos_exporter_collector_duration_seconds over real HTTP scrapes
#   4. peak memory of the one-shot analysis and of the exporter holding the 200k-path graph
#   5. what each root alone keeps alive (dominators) beside reachability: in process
#      (root-ownership-bench) and as whole processes (`gc` vs `roots`)
#
#   bench/store-bench.sh [BUILD_DIR] [ROOT]      (defaults: build, a new store in $TMPDIR)
#
# ROOT is made by bench/make-store.py when it has no store yet (200,000 paths: minutes).
# Timings are whole processes via /usr/bin/time; run it on a quiet machine and repeat. On 200k
# paths one `nix-store --gc --print-dead` took 23 minutes here: RUNS=1 (default 3) keeps it short,
# or make a smaller store first (python3 bench/make-store.py ROOT --paths 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
root="${2:-${TMPDIR:-/tmp}/nixmon-bench-store}"
report="$build/src/store-report/nixmon-store-report"
exporter="$build/src/exporter/nixos-exporter"
[ -x "$report" ] || { echo "build first: $report is missing" >&2; exit 2; }
[ -e "$root/nix/var/nix/db/db.sqlite" ] || python3 bench/make-store.py "$root"

timed() {  # timed LABEL CMD...: wall seconds, CPU seconds and peak RSS of one run
  local label="$1"; shift
  /usr/bin/time -f "$label: %e s wall, %U s user, %S s sys, %M KB peak RSS" "$@" >/dev/null
}

echo "== same answer"
"$report" --path.root "$root" print-dead | sort >"$root.ours"
nix-store --store "$root" --gc --print-dead 2>/dev/null | sort >"$root.nix"
cmp "$root.ours" "$root.nix" && echo "reclaimable sets equal: $(wc -l <"$root.ours") paths"

echo "== store size (${RUNS:-3} runs each, alternating)"
for i in $(seq "${RUNS:-3}"); do
  timed "nixmon-store-report stats" "$report" --path.root "$root" stats
  timed "du -sb" du -sb "$root/nix/store"
done

echo "== reclaimable (${RUNS:-3} runs each, alternating)"
for i in $(seq "${RUNS:-3}"); do
  timed "nixmon-store-report print-dead" "$report" --path.root "$root" print-dead
  timed "nix-store --gc --print-dead" nix-store --store "$root" --gc --print-dead
done

echo "== one-shot gc analysis (graph size, peak memory)"
"$report" --path.root "$root" gc | grep -E "valid_paths|reclaimable|graph_memory|seconds"
timed "nixmon-store-report gc" "$report" --path.root "$root" gc

echo "== per-root ownership beside reachability (${RUNS:-3} runs each, alternating)"
NIXMON_BENCH_STORE_ROOT="$root" "$build/bench/root-ownership-bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
for i in $(seq "${RUNS:-3}"); do
  timed "nixmon-store-report gc" "$report" --path.root "$root" gc
  timed "nixmon-store-report roots" "$report" --path.root "$root" roots
done

echo "== warm scrape, in process"
NIXMON_BENCH_STORE_ROOT="$root" "$build/bench/store-collector-bench" --benchmark_min_time=1

echo "== warm scrape, over HTTP (the exporter's own collector durations)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$exporter" --listen "127.0.0.1:$port" --path.root "$root" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^nixos_gc_analysis_ready 1'; do sleep 0.2; done
for i in $(seq 20); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; done
curl -sf "http://127.0.0.1:$port/metrics" |
  grep -E '^nixos_exporter_collector_duration_seconds\{collector="(store|gc)"\}|^nixos_(store|gc)_analysis_duration'
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
