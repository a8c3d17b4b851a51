# Two commands for a newcomer: `make run` (dashboard on SQLite + bundled data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint demo db-upgrade screenshots clean-venv

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

db-upgrade: $(VENV)/.runtime
	$(PY) -m core db upgrade

# Every bundled symbol (MSFT, AAPL, GOOG, IBM), a champion each and 60 replayed trading days
# in the ledger; resumable, so a second `make run` only checks and starts the dashboard.
DEMO_DAYS ?= 60

run: $(VENV)/.runtime
	$(PY) -m core db upgrade
	$(PY) -m core ingest --source sample --if-empty
	$(PY) -m core demo --days $(DEMO_DAYS)
	$(PY) -m streamlit run dashboard/app.py --server.port=$(PORT)

demo: $(VENV)/.runtime
	$(PY) -m core db upgrade
	$(PY) -m core demo --days 250
	$(PY) -m streamlit run dashboard/app.py --server.port=$(PORT)

test: $(VENV)/.dev
	bash scripts/test.sh

lint: $(VENV)/.dev
	bash scripts/lint.sh

# Refresh the README's pictures (tests write theirs to build/screenshots, never to docs/).
screenshots: $(VENV)/.dev
	SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/e2e/test_product.py -q

clean-venv:
	rm -rf $(VENV)
