"""Shared fixtures: fresh databases (SQLite file per test; PostgreSQL database per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.db.engine import Database
from core.db.migrate import upgrade
from core.settings import Settings

PG_URL = os.environ.get("TEST_POSTGRES_URL")
_PG_TEMPLATE = "stockcast_template"
_pg_template_ready = False


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    assert PG_URL
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _ensure_pg_template() -> None:
    """Migrate once into a template database; each test clones it (fast, isolated)."""
    global _pg_template_ready
    if _pg_template_ready:
        return
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{_PG_TEMPLATE}"'))
    admin.dispose()
    url = make_url(PG_URL).set(database=_PG_TEMPLATE).render_as_string(hide_password=False)
    db = Database.connect(url)
    upgrade(db)
    db.dispose()
    _pg_template_ready = True


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
    _ensure_pg_template()
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_PG_TEMPLATE}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db = Database.connect(url)
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """The same repository tests run against SQLite and against a real PostgreSQL."""
    fixture = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "MODEL_DIR": str(tmp_path / "models"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'market.db'}",
    }
    return Settings.from_env(env)
