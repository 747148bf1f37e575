#!/usr/bin/env bash
# Runs every sqshook test, the integration tests against a real SQS emulator
# included: installs the pinned local-aws-sqs emulator from npm, starts it on
# 127.0.0.1 on a free port, runs `go test -race -count=1 ./...` through
# gotestsum (pinned, fetched with `go run`, not a module dependency) so that
# progress shows while it runs, prints a summary and stops the emulator.
#
# Extra arguments go to `go test` (for example: ./scripts/test.sh -run Hook).
# The per-package timeout is 30 minutes rather than go test's 10, for busy
# machines; a -timeout among the extra arguments overrides it.
# Set SQSHOOK_EMULATOR_ENDPOINT to use an emulator you started yourself
# (./scripts/emulator.sh). The fleet tests need PostgreSQL: the script finds
# it (SQSHOOK_POSTGRES_URL, DATABASE_URL, 127.0.0.1:5432 or the local
# cluster, see scripts/postgres-lib.sh); without one they are skipped,
# loudly, and fail in CI. SQSHOOK_TEST_FORMAT picks gotestsum's format
# (default: dots-v2 on a terminal, testname otherwise).
#
# The last lines are, for CI:
#   emulator-backed tests passed: N
#   tests: N passed, N failed, N skipped
# On failure the full verbose log is kept and its path printed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The patched toolchain (see README, Requirements); fetched from the module
# proxy when the installed Go is older.
export GOTOOLCHAIN=go1.26.10
. scripts/emulator-lib.sh
. scripts/postgres-lib.sh

gotestsum=gotest.tools/gotestsum@v1.13.0
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/sqshook-test.XXXXXX")
trap 'emulator_stop; postgres_stop' EXIT

if [ -z "${SQSHOOK_EMULATOR_ENDPOINT:-}" ]; then
  emulator_start 0 || { echo "scripts/test.sh: cannot start the SQS emulator" >&2; exit 1; }
  echo "SQS emulator local-aws-sqs $(emulator_version) listening at $SQSHOOK_EMULATOR_ENDPOINT"
fi

if postgres_find; then
  echo "PostgreSQL for the fleet tests: SQSHOOK_POSTGRES_URL is set"
elif [ -n "${CI:-}" ]; then
  exit 1
fi

format=${SQSHOOK_TEST_FORMAT:-}
if [ -z "$format" ]; then
  if [ -t 1 ]; then format=dots-v2; else format=testname; fi
fi

json="$log_dir/test.json"
set +e
go run "$gotestsum" --format "$format" --format-hide-empty-pkg --jsonfile "$json" \
  -- -race -count=1 -timeout 30m "$@" ./...
status=$?
set -e

# The summary counts tests and subtests, as `go test -v` prints them.
count() { grep -cE "\"Action\":\"$1\",\"Package\":\"[^\"]*\",\"Test\":\"$2" "$json" || true; }
passed=$(count pass '')
failed=$(count fail '')
skipped=$(count skip '')
emulator=$(count pass TestEmulator)
if [ "$status" -ne 0 ] && [ "$passed$failed$skipped" = 000 ] && [ ! -s "$json" ]; then
  echo "scripts/test.sh: $gotestsum did not run (exit $status)" >&2
fi
echo
echo "emulator-backed tests passed: $emulator"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ]; then
  go run "$gotestsum" --raw-command --format standard-verbose -- cat "$json" >"$log_dir/test.log" 2>&1 || cp "$json" "$log_dir/test.log"
  echo "full log: $log_dir/test.log (JSON events: $json)"
else
  rm -rf "$log_dir"
fi
exit "$status"
