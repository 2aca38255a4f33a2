#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]: runs CMD with CL_TEST_POSTGRES_URL pointing at a throwaway
# PostgreSQL 15 server (fresh temp dir, loopback, free port), then stops the server, removes its
# directory and exits with CMD's status. If CL_TEST_POSTGRES_URL is already set, just runs CMD.
# Used by the store tests and by end-to-end tests.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [[ -n "${CL_TEST_POSTGRES_URL:-}" ]]; then
  exec "$@"
fi

PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
if [[ ! -x "$PGBIN/initdb" ]]; then
  echo "with-postgres: $PGBIN/initdb not found (install postgresql-15)" >&2
  exit 2
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/cl-pg.XXXXXX")"
# initdb refuses to run as root: run the server as the `postgres` system user instead.
as_pg=()
if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi

started=0
cleanup() {
  if [[ $started -eq 1 ]]; then
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! "${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
  >"$dir/initdb.log" 2>&1; then
  echo "with-postgres: initdb failed:" >&2
  cat "$dir/initdb.log" >&2
  exit 2
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Another process may grab the port between the probe and the bind: retry a few times.
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [[ $started -ne 1 ]]; then
  echo "with-postgres: the server did not start:" >&2
  cat "$dir/server.log" >&2 || true
  exit 2
fi

export CL_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:${port}/postgres"
set +e
"$@"
status=$?
set -e
exit $status
