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
trap pg_throwaway_stop EXIT

echo "== ruff"; $VENV/bin/ruff check core dashboard pages tests bench
echo "== mypy"; $VENV/bin/mypy
echo "== pytest"
$PY -m pytest "$@"
