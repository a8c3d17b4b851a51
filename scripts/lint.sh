#!/usr/bin/env bash
# The static checks, exactly as CI runs them (`make lint` and scripts/test.sh call this).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
echo "== ruff"; "$VENV/bin/ruff" check core api dashboard pages tests bench dags
echo "== mypy"; "$VENV/bin/mypy"
