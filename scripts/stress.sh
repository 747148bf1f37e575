#!/usr/bin/env bash
# Runs the race-enabled tests of the root package and sqstest several times
# in a row on a busy machine: two CPU-burning processes hold two cores the
# whole time, and the SQS emulator is up, so the emulator-backed tests run
# too. Prints one pass/fail line per run; exits 1 if any run failed.
#
#   ./scripts/stress.sh          # 3 runs
#   ./scripts/stress.sh 5        # 5 runs
#   ./scripts/stress.sh 3 -run 'TestSoak|TestFault'   # extra go test args
#
# The logs of failed runs are kept; their paths are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The patched toolchain (see README, Requirements); fetched from the module
# proxy when the installed Go is older.
export GOTOOLCHAIN=go1.26.10
. scripts/emulator-lib.sh

runs=${1:-3}
[ $# -gt 0 ] && shift
case "$runs" in '' | *[!0-9]*) echo "usage: scripts/stress.sh [runs] [go test args...]" >&2; exit 2 ;; esac

burners=()
cleanup() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
  emulator_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${SQSHOOK_EMULATOR_ENDPOINT:-}" ]; then
  emulator_start 0 || { echo "scripts/stress.sh: cannot start the SQS emulator" >&2; exit 1; }
fi
echo "SQS emulator at $SQSHOOK_EMULATOR_ENDPOINT"

# Build the test binaries first, so that the runs measure the tests.
go test -race -count=1 -run '^$' . ./sqstest >/dev/null

for _ in 1 2; do
  yes >/dev/null &
  burners+=($!)
done
echo "CPU burners running: pids ${burners[*]} ($(nproc) cores)"

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/sqshook-stress.XXXXXX")
failures=0
for i in $(seq 1 "$runs"); do
  log="$log_dir/run-$i.log"
  start=$(date +%s)
  set +e
  go test -race -count=1 -timeout 60m -v "$@" . ./sqstest >"$log" 2>&1
  status=$?
  set -e
  secs=$(( $(date +%s) - start ))
  passed=$(grep -cE '^\s*--- PASS' "$log" || true)
  failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
  skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
  load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
  if [ "$status" -eq 0 ]; then
    echo "run $i/$runs: PASS in ${secs}s: $passed passed, $failed failed, $skipped skipped (load $load)"
    rm -f "$log"
  else
    failures=$((failures + 1))
    echo "run $i/$runs: FAIL in ${secs}s: $passed passed, $failed failed, $skipped skipped (load $load); log: $log"
    grep -E '^\s*--- FAIL' "$log" | sed 's/^/    /' || true
  fi
done
if [ "$failures" -eq 0 ]; then
  rm -rf "$log_dir"
  echo "stress: all $runs runs passed"
else
  echo "stress: $failures of $runs runs failed"
  exit 1
fi
