#!/usr/bin/env bash
# Scans sqshook for known vulnerabilities against a pinned copy of the Go
# vulnerability database, fetched through the Go module proxy only:
#
#   scripts/vulndb.sh           build the database from the pinned
#                               golang.org/x/vulndb module (its data/osv entries,
#                               indexed by its own cmd/indexdb) into a temporary
#                               directory, then run the pinned govulncheck on
#                               every package, tests included. Exits non-zero when
#                               the code reaches a known vulnerability (or the
#                               scan cannot run).
#   scripts/vulndb.sh refresh   pin the newest golang.org/x/vulndb version the
#                               module proxy serves (rewrites the pin below and
#                               the Database line of docs/security.md), then scan.
#
# The database's date is the commit time in the pinned pseudo-version; the scan
# prints it and writes it into the database index, so govulncheck reports it too.
set -euo pipefail
cd "$(dirname "$0")/.."

# The patched toolchain (see the README's Requirements); the go command fetches
# it from the module proxy when the installed Go is older.
export GOTOOLCHAIN=go1.26.10

GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

# db_date v0.0.0-20261105234957-e22db6528018 → 2026-11-05T23:49:57Z
db_date() {
  local ts=${1#v0.0.0-}
  ts=${ts%%-*}
  [[ $ts =~ ^[0-9]{14}$ ]] || { echo "scripts/vulndb.sh: $1 is not a pseudo-version" >&2; exit 2; }
  echo "${ts:0:4}-${ts:4:2}-${ts:6:2}T${ts:8:2}:${ts:10:2}:${ts:12:2}Z"
}

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ "${1:-}" = refresh ]; then
  # Outside the module, so that nothing here touches go.mod.
  latest=$(cd "$tmp" && go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
  if [ "$latest" = "$VULNDB_VERSION" ]; then
    echo "golang.org/x/vulndb $VULNDB_VERSION is already the newest version"
  else
    old_date=$(db_date "$VULNDB_VERSION")
    new_date=$(db_date "$latest")
    sed -i "s/^VULNDB_VERSION=.*/VULNDB_VERSION=$latest/" scripts/vulndb.sh
    sed -i "/$VULNDB_VERSION/ s/${old_date%%T*}/${new_date%%T*}/g; s/$VULNDB_VERSION/$latest/g" docs/security.md
    echo "pinned golang.org/x/vulndb $latest (was $VULNDB_VERSION); scanning with it:"
  fi
  rm -rf "$tmp"
  trap - EXIT
  exec scripts/vulndb.sh
elif [ $# -gt 0 ]; then
  echo "usage: scripts/vulndb.sh [refresh]" >&2
  exit 2
fi

date=$(db_date "$VULNDB_VERSION")
echo "vulnerability database: golang.org/x/vulndb@$VULNDB_VERSION (entries up to $date)"

# The module's files, read-only in the module cache; downloaded outside the
# module so that go.mod and go.sum stay as they are.
osv_dir=$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$osv_dir/data/osv" ] || { echo "scripts/vulndb.sh: no data/osv in golang.org/x/vulndb@$VULNDB_VERSION" >&2; exit 2; }

# go run (not go install) so that the linked tools stay in the build cache.
go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$osv_dir/data/osv" -out "$tmp/db"
# The entries in data/osv carry no dates (the published database takes them
# from the repository's history), so the index would say 0001-01-01.
printf '{"modified":"%s"}' "$date" >"$tmp/db/index/db.json"
gzip -c "$tmp/db/index/db.json" >"$tmp/db/index/db.json.gz"

echo "scanning with govulncheck@$GOVULNCHECK_VERSION and $(go env GOVERSION)"
if ! go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$tmp/db" -test ./...; then
  echo "scripts/vulndb.sh: the scan failed; govulncheck exits with status 3 when the code reaches a known vulnerability" >&2
  exit 1
fi
