"""Shared fixtures: fresh databases (SQLite file per test; PostgreSQL database per test).

The ``db`` fixture runs each repository test on SQLite, on plain PostgreSQL
(TEST_POSTGRES_URL) and on PostgreSQL with TimescaleDB (TEST_TIMESCALE_URL), where the
migrations turn bars and predictions into hypertables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.db.engine import Database
from core.db.migrate import upgrade
from core.settings import Settings

PG_URL = os.environ.get("TEST_POSTGRES_URL")
TS_URL = os.environ.get("TEST_TIMESCALE_URL")
_PG_TEMPLATE = "stockcast_template"
_templates_ready: set[str] = set()


def _admin_engine(server_url: str) -> Engine:
    return create_engine(server_url, isolation_level="AUTOCOMMIT")


def _ensure_template(server_url: str) -> None:
    """Migrate once into a template database; each test clones it (fast, isolated)."""
    if server_url in _templates_ready:
        return
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{_PG_TEMPLATE}"'))
    admin.dispose()
    url = make_url(server_url).set(database=_PG_TEMPLATE).render_as_string(hide_password=False)
    db = Database.connect(url)
    upgrade(db)
    db.dispose()
    _templates_ready.add(server_url)


def _pg_admin_engine() -> Engine:
    assert PG_URL
    return _admin_engine(PG_URL)


def _ensure_pg_template() -> None:
    assert PG_URL
    _ensure_template(PG_URL)


def _server_db(server_url: str) -> Iterator[Database]:
    """A fresh database cloned from the migrated template on ``server_url``."""
    _ensure_template(server_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_PG_TEMPLATE}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    db = Database.connect(url)
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database.connect(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    if not PG_URL:
        pytest.skip("TEST_POSTGRES_URL is not set (make test starts a throwaway server)")
    yield from _server_db(PG_URL)


@pytest.fixture
def timescale_db() -> Iterator[Database]:
    if not TS_URL:
        pytest.skip(
            "TEST_TIMESCALE_URL is not set: make test builds TimescaleDB from "
            "../shared/vendor/timescaledb-2.28.3.tar.gz when it is there and starts a server"
        )
    yield from _server_db(TS_URL)


_BACKENDS = {"sqlite": "sqlite_db", "postgres": "postgres_db", "timescale": "timescale_db"}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def db(request: pytest.FixtureRequest) -> Database:
    """The same repository tests run against SQLite, PostgreSQL and TimescaleDB."""
    db: Database = request.getfixturevalue(_BACKENDS[request.param])
    return db


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "MODEL_DIR": str(tmp_path / "models"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'market.db'}",
    }
    return Settings.from_env(env)
