#!/usr/bin/env bash
# Runs every sqshook test, the integration tests against a real SQS emulator
# included: installs the pinned local-aws-sqs emulator from npm, starts it on
# 127.0.0.1 on a free port, runs `go test -race -count=1 -v` over all packages,
# prints a summary line and stops the emulator.
#
# Extra arguments go to `go test` (for example: ./scripts/test.sh -run Hook).
# Set SQSHOOK_EMULATOR_ENDPOINT to use an emulator you started yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

emu_dir=testdata/sqs-emulator
tmp=$(mktemp -d)
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${SQSHOOK_EMULATOR_ENDPOINT:-}" ]; then
  command -v node >/dev/null || { echo "scripts/test.sh: node and npm are needed for the SQS emulator" >&2; exit 1; }
  if [ ! -d "$emu_dir/node_modules/local-aws-sqs" ]; then
    echo "installing the SQS emulator (npm ci in $emu_dir)"
    (cd "$emu_dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  node "$emu_dir/server.mjs" >"$tmp/emulator.out" 2>"$tmp/emulator.err" &
  emu_pid=$!
  endpoint=""
  for _ in $(seq 1 300); do
    endpoint=$(head -n 1 "$tmp/emulator.out" 2>/dev/null || true)
    [ -n "$endpoint" ] && break
    kill -0 "$emu_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$endpoint" ]; then
    echo "scripts/test.sh: the SQS emulator did not start:" >&2
    cat "$tmp/emulator.err" >&2
    exit 1
  fi
  # Wait until it answers on its port.
  port=${endpoint##*:}
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  export SQSHOOK_EMULATOR_ENDPOINT="$endpoint"
  echo "SQS emulator local-aws-sqs $(node -p "require('./$emu_dir/node_modules/local-aws-sqs/package.json').version") listening at $endpoint"
fi

set +e
go test -race -count=1 -v "$@" ./... >"$tmp/test.out" 2>&1
status=$?
set -e

# Show everything but the per-test start lines, then a summary.
grep -vE '^\s*=== (RUN|PAUSE|CONT|NAME)' "$tmp/test.out" || true
passed=$(grep -cE '^\s*--- PASS' "$tmp/test.out" || true)
failed=$(grep -cE '^\s*--- FAIL' "$tmp/test.out" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$tmp/test.out" || true)
emulator=$(grep -cE '^\s*--- PASS: TestEmulator' "$tmp/test.out" || true)
echo
echo "emulator-backed tests passed: $emulator"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
