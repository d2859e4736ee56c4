#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 for tests and benchmarks.
#   scripts/pg.sh start [PORT]   -> prints the DATABASE_URL on stdout
#   scripts/pg.sh stop  [PORT]
# Installs Debian's postgresql package when no server binaries are found.
set -euo pipefail
cmd=${1:-start}
port=${2:-${DIALER_PG_PORT:-54329}}
root=${DIALER_PG_ROOT:-/tmp/dialer-pg-$port}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

bin=$(find_bin || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing postgresql from apt..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

case "$cmd" in
start)
  if as_pg "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
    echo "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"; exit 0
  fi
  rm -rf "$root"; mkdir -p "$root"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$root"; fi
  as_pg "$bin/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # Throw-away cluster: durability off for speed; sized for several worker processes.
  as_pg "$bin/pg_ctl" -D "$root/data" -l "$root/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
    start >/dev/null
  echo "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$root/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$root"
  ;;
restart)
  as_pg "$bin/pg_ctl" -D "$root/data" -m fast -w restart >/dev/null
  ;;
*) echo "usage: $0 start|stop|restart [port]" >&2; exit 2 ;;
esac
