# Shell functions shared by the scripts that need PostgreSQL; sourced, not
# run. postgres_find exports SQSHOOK_POSTGRES_URL, the database in which the
# fleet tests (streamapi's PostgresStore and Fleet, "sqshook serve
# -postgres") create and drop schemas of their own:
#   1. SQSHOOK_POSTGRES_URL, or else DATABASE_URL, when set;
#   2. else a server on 127.0.0.1:5432 that lets the role postgres (or the
#      current user) in without a password, database test or postgres;
#   3. else the local cluster, started with pg_ctlcluster (Debian, Ubuntu)
#      when there is one, then 2. again.
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
  cat >&2 <<'MSG'
PostgreSQL is needed for the fleet tests (shared hook settings): set
SQSHOOK_POSTGRES_URL (or DATABASE_URL) to a database in which schemas may be
created, e.g. postgres://user:password@host:5432/db?sslmode=disable, or run
PostgreSQL on 127.0.0.1:5432 letting the role postgres in without a password.
MSG
  return 1
}
