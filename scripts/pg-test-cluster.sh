#!/usr/bin/env bash
# pg-test-cluster.sh start DIR | stop DIR: a throwaway PostgreSQL cluster for the tests.
#
# start: installs Debian's postgresql when initdb is missing, creates DIR, runs initdb in it (as
# the postgres user when run as root, since PostgreSQL refuses to run as root; as the caller
# otherwise, who must own DIR), starts the server on a free loopback port with its socket in
# DIR, waits until it accepts connections, and prints the admin URL on stdout:
#   postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
# Only loopback connections are accepted, with trust authentication: a test cluster, never a
# real one. fsync stays on (the default), so the tests see the same durability as production.
#
# stop: stops the server (fast shutdown) if it runs, and removes DIR. Safe to call twice, and
# on a DIR that start never finished.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1 dir=$2
[ -n "$dir" ] && [ "$dir" != / ] || usage

# bindir prints the newest installed PostgreSQL's bin folder (Debian keeps them out of PATH).
bindir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && best=$d
  done
  if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
    best=$(dirname "$(command -v initdb)")
  fi
  [ -n "$best" ] && echo "$best"
}

# as_owner runs a command as the user who owns the cluster: postgres when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local bin
  if ! bin=$(bindir); then
    "$(dirname "$0")/ensure-package.sh" initdb postgresql "the PostgreSQL tests" >&2
    bin=$(bindir) || { echo "initdb not found after installing postgresql" >&2; exit 1; }
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -e "$dir/data" ]; then
    echo "$dir/data exists: stop the cluster there first ($0 stop $dir)" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "the postgres user cannot reach $dir (a parent folder is closed to it); use a folder under /tmp" >&2
      exit 1
    fi
  fi
  chmod 700 "$dir"

  # Superuser postgres whoever runs it, trust on the loopback only, UTF-8 with byte order
  # collation (the schema names its collations itself; see db/migrations_postgres).
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }

  # A free port: one nothing listens on now. Another program may take it before the server
  # binds it, so a start that fails is tried again on another port, a few times.
  local port="" try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue # something answers there
    fi
    rm -f "$dir/postgres.log"
    # -w -t 60: pg_ctl waits until the server accepts connections, for 60 seconds at most.
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300" >&2; then
      break
    fi
    if ! grep -q "could not bind\|Address already in use" "$dir/postgres.log" 2>/dev/null; then
      tail -n 30 "$dir/postgres.log" >&2 || true
      exit 1
    fi
    port=""
  done
  if [ -z "$port" ]; then
    echo "no free loopback port found for PostgreSQL" >&2
    exit 1
  fi
  echo "$port" >"$dir/port"
  # pg_ctl saw the socket answer; check the TCP address the tests use, with a deadline.
  local deadline=$((SECONDS + 30))
  until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
    if [ $SECONDS -ge $deadline ]; then
      echo "PostgreSQL did not accept connections on 127.0.0.1:$port within 30 s" >&2
      tail -n 30 "$dir/postgres.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

stop() {
  local bin
  if [ -f "$dir/data/PG_VERSION" ] && bin=$(bindir); then
    # fast: roll back open transactions and stop now; the cluster is thrown away anyway.
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >&2 ||
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >&2
    fi
  fi
  rm -rf "$dir"
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
