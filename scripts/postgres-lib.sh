# Shell functions shared by the scripts that need PostgreSQL; sourced, not
# run. postgres_find exports SQSHOOK_POSTGRES_URL, the database in which the
# fleet tests (streamapi's PostgresStore and Fleet, "sqshook serve
# -postgres") create and drop schemas of their own:
#   1. SQSHOOK_POSTGRES_URL, or else DATABASE_URL, when set;
#   2. else a server on 127.0.0.1:5432 that lets the role postgres (or the
#      current user) in without a password, database test or postgres;
#   3. else the local cluster, started with pg_ctlcluster (Debian, Ubuntu)
#      when there is one, then 2. again;
#   4. else a private server of its own: initdb into a temporary directory
#      (trust authentication, loopback only, a free port), started with
#      pg_ctl and stopped by postgres_stop. PostgreSQL's programs are found
#      on PATH, in SQSHOOK_POSTGRES_BIN or under /usr/lib/postgresql; in CI
#      (CI set, running as root with apt-get) they are installed first.
#      SQSHOOK_POSTGRES_PRIVATE=1 skips 1-3 (to try this step on a machine
#      that has a server).
# It returns 1, saying what is needed, when none works.

postgres_ok() { # postgres_ok URL: the database answers
  if command -v psql >/dev/null; then
    psql "$1" -Atqc 'select 1' >/dev/null 2>&1
  else
    # Without psql only the port can be checked; the tests say the rest.
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

postgres_try_local() {
  local user db url
  for user in postgres "${USER:-$(id -un)}"; do
    for db in test postgres; do
      url="postgres://$user@127.0.0.1:5432/$db?sslmode=disable"
      if postgres_ok "$url"; then
        export SQSHOOK_POSTGRES_URL="$url"
        return 0
      fi
    done
  done
  return 1
}

postgres_find() {
  if [ -n "${SQSHOOK_POSTGRES_PRIVATE:-}" ]; then
    postgres_start_private && return 0
    return 1
  fi
  if [ -n "${SQSHOOK_POSTGRES_URL:-}" ]; then
    return 0
  fi
  if [ -n "${DATABASE_URL:-}" ]; then
    export SQSHOOK_POSTGRES_URL="$DATABASE_URL"
    return 0
  fi
  postgres_try_local && return 0
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local version
    for version in $(ls /etc/postgresql); do
      echo "starting the local PostgreSQL $version cluster (pg_ctlcluster)" >&2
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    done
    for _ in $(seq 1 50); do
      postgres_try_local && return 0
      sleep 0.2
    done
  fi
  postgres_start_private && return 0
  cat >&2 <<'MSG'
PostgreSQL is needed for the fleet tests (shared hook settings): set
SQSHOOK_POSTGRES_URL (or DATABASE_URL) to a database in which schemas may be
created, e.g. postgres://user:password@host:5432/db?sslmode=disable, or run
PostgreSQL on 127.0.0.1:5432 letting the role postgres in without a password.
MSG
  return 1
}

# postgres_bin prints the directory holding initdb and pg_ctl, or fails.
postgres_bin() {
  local d
  for d in "${SQSHOOK_POSTGRES_BIN:-}" "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# postgres_start_private starts a server of its own (step 4 above) and
# exports SQSHOOK_POSTGRES_URL and SQSHOOK_POSTGRES_PRIVATE_DIR; the caller
# stops it with postgres_stop (scripts that source this file do, on exit).
postgres_start_private() {
  local bin dir port owner
  if ! bin=$(postgres_bin); then
    if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing PostgreSQL (apt-get install postgresql)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; } || return 1
      bin=$(postgres_bin) || return 1
    else
      return 1
    fi
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sqshook-pg.XXXXXX")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  owner=()
  if [ "$(id -u)" = 0 ]; then # initdb refuses to run as root
    id postgres >/dev/null 2>&1 || useradd -r -M postgres >&2 || return 1
    chown postgres "$dir"
    owner=(runuser -u postgres --)
  fi
  echo "starting a private PostgreSQL ($bin) on 127.0.0.1:$port in $dir" >&2
  "${owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  "${owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2 ||
    { cat "$dir/server.log" >&2; return 1; }
  # Only the shell that started it stops it (scripts it runs inherit these).
  export SQSHOOK_POSTGRES_PRIVATE_DIR="$dir" SQSHOOK_POSTGRES_PRIVATE_BIN="$bin" SQSHOOK_POSTGRES_PRIVATE_OWNER=$$
  export SQSHOOK_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

# postgres_stop stops the private server postgres_start_private started, if any.
postgres_stop() {
  local dir=${SQSHOOK_POSTGRES_PRIVATE_DIR:-}
  [ -n "$dir" ] && [ "${SQSHOOK_POSTGRES_PRIVATE_OWNER:-}" = "$$" ] || return 0
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$SQSHOOK_POSTGRES_PRIVATE_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  else
    "$SQSHOOK_POSTGRES_PRIVATE_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  unset SQSHOOK_POSTGRES_PRIVATE_DIR
}
