#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang, ASan + UBSan) and runs each for a set time,
# starting from the corpus in fuzz/corpus/<target>/. New inputs go to a scratch corpus, not the
# repository; crashes are written to $BUILD/fuzz-artifacts/<target>/ and make the script fail.
#   scripts/fuzz.sh                       every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh web-config nix-log-record
#   BUILD=build-x scripts/fuzz.sh         use an already configured fuzz build directory
# Prints one line per target: executions, corpus size, coverage, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
build="${BUILD:-build-fuzz}"
if [ -z "${BUILD:-}" ]; then
  cmake --preset fuzz >/dev/null
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(sed -n 's/^nixmon_fuzz_target(\([a-z0-9-]*\).*/\1/p' fuzz/CMakeLists.txt)
fi
ninja -C "$build" "${targets[@]/#/fuzz-}" >/dev/null

failed=0
printf '%-20s %12s %10s %8s %8s %s\n' target executions exec/s corpus cov crashes
for t in "${targets[@]}"; do
  scratch="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$scratch" "$artifacts"
  log="$build/fuzz-$t.log"
  set +e
  "$build/fuzz/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
    "$scratch" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$scratch" "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  printf '%-20s %12s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "${cov:-?}" "$crashes"
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    echo "  $t: exit $rc; see $log and $artifacts/" >&2
  fi
done
exit "$failed"
