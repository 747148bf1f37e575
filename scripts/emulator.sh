#!/usr/bin/env bash
# Starts the SQS emulator the tests use (local-aws-sqs, pinned in
# testdata/sqs-emulator) on 127.0.0.1, prints its endpoint and keeps it
# running until Ctrl-C. Installs it from npm on first use (node and npm
# needed).
#
#   ./scripts/emulator.sh              # a free port
#   ./scripts/emulator.sh 9324         # a fixed port
#
# Then, in another terminal:
#   export SQSHOOK_EMULATOR_ENDPOINT=http://127.0.0.1:9324
#   sqshook demo -endpoint "$SQSHOOK_EMULATOR_ENDPOINT"
#   go test -race ./...                # the emulator-backed tests run too
#
# scripts/test.sh and scripts/stress.sh start their own.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/emulator-lib.sh

emulator_start "${1:-0}"
echo "SQS emulator local-aws-sqs $(emulator_version) listening at $SQSHOOK_EMULATOR_ENDPOINT"
echo "export SQSHOOK_EMULATOR_ENDPOINT=$SQSHOOK_EMULATOR_ENDPOINT"
echo "(Ctrl-C stops it)"
trap 'emulator_stop; exit 0' INT TERM
wait "$emulator_pid"
