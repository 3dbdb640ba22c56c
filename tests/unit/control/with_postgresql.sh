#!/usr/bin/env bash
# tests/unit/control/with_postgresql.sh CMD... — runs CMD (the control store's unit tests) against
# a real PostgreSQL server that this script starts itself from Debian's packages: initdb and
# pg_ctl in a temporary directory, listening on a Unix socket there only (no TCP), as the
# `postgres` system user (PostgreSQL refuses to run as root). CMD sees the server's URL in
# MXGATE_TEST_PG. The server is stopped and the directory removed at the end, also on failure.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z $bin || ! -x $bin/initdb ]]; then
  echo "with_postgresql: no PostgreSQL server binaries (scripts/setup installs postgresql)" >&2
  exit 1
fi
run_as=postgres
id "$run_as" >/dev/null 2>&1 || { echo "with_postgresql: no '$run_as' user" >&2; exit 1; }
dir=$(mktemp -d /tmp/mxpg.XXXXXX)
chown "$run_as" "$dir"
chmod 700 "$dir"
as_pg() { if [[ $(id -un) == "$run_as" ]]; then "$@"; else runuser -u "$run_as" -- "$@"; fi; }
stop() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_pg "$bin/initdb" -D "$dir/data" -U mxtest --auth=trust --no-sync --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off" start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }
as_pg "$bin/createdb" -h "$dir" -U mxtest mxtest
# Clients run as root: the socket directory must be reachable.
chmod 755 "$dir"
export MXGATE_TEST_PG="postgresql:///mxtest?host=$dir&user=mxtest"
echo "with_postgresql: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $dir"
"$@"
