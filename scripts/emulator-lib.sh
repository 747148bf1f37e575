# Shell functions shared by the scripts that need the SQS emulator; sourced,
# not run. emulator_start installs the pinned local-aws-sqs (npm ci in
# testdata/sqs-emulator) when needed, starts it on 127.0.0.1 and exports
# SQSHOOK_EMULATOR_ENDPOINT once it answers; emulator_stop stops it.
# Run from the repository's root.

emulator_dir=testdata/sqs-emulator
emulator_pid=""
emulator_log=""

emulator_version() {
  node -p "require('./$emulator_dir/node_modules/local-aws-sqs/package.json').version"
}

# emulator_start [port]: port 0 (the default) lets the kernel pick one.
emulator_start() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "node and npm are needed for the SQS emulator" >&2; return 1; }
  if [ ! -d "$emulator_dir/node_modules/local-aws-sqs" ]; then
    echo "installing the SQS emulator (npm ci in $emulator_dir)" >&2
    (cd "$emulator_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
  emulator_log=$(mktemp -d)
  SQS_EMULATOR_PORT="${1:-0}" node "$emulator_dir/server.mjs" >"$emulator_log/out" 2>"$emulator_log/err" &
  emulator_pid=$!
  local endpoint="" port
  for _ in $(seq 1 300); do
    endpoint=$(head -n 1 "$emulator_log/out" 2>/dev/null || true)
    [ -n "$endpoint" ] && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$endpoint" ]; then
    echo "the SQS emulator did not start:" >&2
    cat "$emulator_log/err" >&2
    return 1
  fi
  port=${endpoint##*:}
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  export SQSHOOK_EMULATOR_ENDPOINT="$endpoint"
}

emulator_stop() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    emulator_pid=""
  fi
  [ -n "$emulator_log" ] && rm -rf "$emulator_log"
  emulator_log=""
}
