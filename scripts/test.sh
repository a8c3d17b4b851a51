#!/usr/bin/env bash
# The whole suite: lint, types, unit, integration (SQLite + a throwaway PostgreSQL),
# AppTest and the real-browser tests. Installs the Debian packages it needs when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=$VENV/bin/python

need_pkgs=()
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
# TimescaleDB is built from the vendored source against the server headers (scripts/timescaledb.sh).
[ -f /usr/include/postgresql/15/server/postgres.h ] || need_pkgs+=(postgresql-server-dev-15)
command -v cmake >/dev/null 2>&1 || need_pkgs+=(cmake)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need_pkgs[*]} (run as root, or install them)" >&2
  fi
fi

# A throwaway PostgreSQL server on a free port, removed on exit.
source scripts/pg-throwaway.sh
pg_throwaway_start

# TimescaleDB: built once from the vendored source (cached under /var/cache/stockcast) and
# run as a second throwaway server; without the tarball its tests skip with a message.
source scripts/timescaledb.sh
timescaledb_ensure
pg_throwaway_start_timescale

# A throwaway Redis on a free port (API cache and rate-limit tests), removed on exit.
REDIS_PID=""
redis_throwaway_start() {
  command -v redis-server >/dev/null 2>&1 || { echo "redis-server not found; Redis tests will be skipped" >&2; return 0; }
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile '' >/dev/null &
  REDIS_PID=$!
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "Redis on port $port"
}
redis_throwaway_stop() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true; }
redis_throwaway_start
trap 'pg_throwaway_stop; pg_throwaway_stop_timescale; redis_throwaway_stop' EXIT

# Airflow 3 lives in its own venv (its pins clash with ours), created once: apache-airflow
# pinned by requirements-airflow.txt (the freeze of a clean install), plus what the DAG file
# itself needs while Airflow parses it (exchange_calendars for the exchanges' time zones and
# sessions, at our own pins). The tasks' work runs in the project's interpreter
# (STOCKCAST_PYTHON, default .venv/bin/python). Measured here on 2 shared cores:
# apache-airflow 3.3.2 alone 120 s (130 packages); this whole command 373 s (137 packages)
# while a test run shared the machine.
if [ ! -f .venv-airflow/.complete ]; then
  echo "== creating .venv-airflow (apache-airflow 3, once)"
  rm -rf .venv-airflow
  python3 -m venv .venv-airflow
  # shellcheck disable=SC2046  # the pins are words on purpose
  .venv-airflow/bin/pip install -q apache-airflow==3.3.2 \
    $(grep -E '^(exchange_calendars|pandas|numpy)==' requirements.txt) \
    --constraint requirements-airflow.txt
  touch .venv-airflow/.complete  # an interrupted install is redone next time
fi

VENV=$VENV bash scripts/lint.sh
echo "== pytest"
if [ $# -eq 0 ]; then
  # The whole suite, plus the runnable examples in core's docstrings.
  set -- tests core --doctest-modules --ignore=core/db/migrations
fi
$PY -m pytest "$@"
