# Sourced by scripts/test.sh and the benchmarks: start/stop private PostgreSQL servers.
# initdb refuses to run as root, so as root the cluster is owned by the postgres user.
# pg_throwaway_start sets TEST_POSTGRES_URL (plain PostgreSQL); pg_throwaway_start_timescale
# starts a second server with the timescaledb library preloaded and sets TEST_TIMESCALE_URL
# (when the extension is installed; see scripts/timescaledb.sh).

_pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# _pg_server_start BINDIR EXTRA_OPTS: initdb + start; sets _PG_STARTED_DIR and _PG_STARTED_PORT.
_pg_server_start() {
  local bindir=$1 dir port run=()
  dir=$(mktemp -d /tmp/pgtest.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off $2" -w start >/dev/null ||
    { echo "PostgreSQL did not start (log: $dir/log)" >&2; return 1; }
  PG_RUN=("${run[@]}")
  _PG_STARTED_DIR=$dir
  _PG_STARTED_PORT=$port
}

pg_throwaway_start() {
  local bindir
  bindir=$(_pg_bindir)
  if [ -z "$bindir" ]; then
    echo "PostgreSQL server binaries not found; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  _pg_server_start "$bindir" "" || return 0
  PG_BINDIR=$bindir
  PG_DIR=$_PG_STARTED_DIR
  export TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$_PG_STARTED_PORT/postgres"
  echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $_PG_STARTED_PORT"
}

pg_throwaway_stop() {
  if [ -n "${PG_DIR:-}" ]; then
    "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}

# A second server with TimescaleDB preloaded. Background workers are off: the tests clone
# a template database per test, which fails while a job scheduler is connected to it, and
# they run compression and refreshes explicitly. Telemetry is off (no network in tests).
pg_throwaway_start_timescale() {
  local bindir
  bindir=$(_pg_bindir)
  if [ -z "$bindir" ] || ! ls "$("$bindir/pg_config" --pkglibdir 2>/dev/null || echo /nonexistent)"/timescaledb.so >/dev/null 2>&1; then
    echo "TimescaleDB is not installed for $bindir; TimescaleDB tests will be skipped" >&2
    return 0
  fi
  _pg_server_start "$bindir" "-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off -c timescaledb.max_background_workers=0" || return 0
  TS_BINDIR=$bindir
  TS_DIR=$_PG_STARTED_DIR
  TS_RUN=("${PG_RUN[@]}")
  export TEST_TIMESCALE_URL="postgresql+psycopg://postgres@127.0.0.1:$_PG_STARTED_PORT/postgres"
  echo "PostgreSQL + TimescaleDB on port $_PG_STARTED_PORT"
}

pg_throwaway_stop_timescale() {
  if [ -n "${TS_DIR:-}" ]; then
    "${TS_RUN[@]}" "$TS_BINDIR/pg_ctl" -D "$TS_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TS_DIR"
    TS_DIR=""
  fi
}
