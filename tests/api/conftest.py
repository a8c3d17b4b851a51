"""API fixtures: one database per backend with MSFT and a cheap champion (built once per
session), a fresh app per test, API keys, and the real Redis from ``TEST_REDIS_URL``."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, literal, select, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.config import ApiConfig
from api.ratelimit import RateLimiter
from core import apikeys
from core.auth import SYSTEM
from core.cache import MemoryCache, PredictionCache
from core.db.engine import Database
from core.db.migrate import upgrade
from core.db.models import Bar
from core.forecast.service import FitRequest, fit_model, save_model
from core.market.ingest import ingest_sample
from core.settings import Settings
from tests.conftest import PG_URL, _ensure_pg_template, _pg_admin_engine

REDIS_URL = os.environ.get("TEST_REDIS_URL")
NO_CHAMPION = "NOCHAMP"  # has bars but no model


@dataclass
class World:
    backend: str
    db: Database
    settings: Settings


def save_drift_model(world: World) -> int:
    """Fit and save a cheap drift model of MSFT; returns its version id."""
    request = FitRequest(symbol="MSFT", kind="drift", options={}, start=dt.date(2016, 1, 1),
                         folds=2, horizon=5)
    fitted = fit_model(world.db, world.settings, request)
    return save_model(world.db, world.settings, fitted, SYSTEM).id


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp(f"api-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'api.db'}"
    else:
        if not PG_URL:
            pytest.skip("TEST_POSTGRES_URL is not set (make test starts a throwaway server)")
        _ensure_pg_template()
        pg_name = f"api_{uuid.uuid4().hex[:12]}"
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}" TEMPLATE "stockcast_template"'))
        url = make_url(PG_URL).set(database=pg_name).render_as_string(hide_password=False)
    db = Database.connect(url)
    upgrade(db)
    settings = Settings.from_env({
        "DATA_DIR": str(root / "data"), "MODEL_DIR": str(root / "models"), "DATABASE_URL": url,
    })
    ingest_sample(db, actor=SYSTEM)
    with db.begin() as session:  # a second symbol with data but no model
        cols = [c.name for c in Bar.__table__.columns if c.name != "symbol"]
        session.execute(insert(Bar).from_select(
            ["symbol", *cols],
            select(literal(NO_CHAMPION), *[Bar.__table__.c[c] for c in cols])
            .where(Bar.symbol == "MSFT", Bar.date >= dt.date(2016, 1, 1)),
        ))
    w = World(request.param, db, settings)
    save_drift_model(w)
    yield w
    db.dispose()
    if pg_name:
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture
def new_key(world: World) -> Callable[..., str]:
    """Create an API key in the world's database; returns the key itself."""

    def make(rate_limit: int = 100_000) -> str:
        _, key = apikeys.create_key(world.db, f"test-{uuid.uuid4().hex[:8]}", SYSTEM,
                                    rate_limit_per_minute=rate_limit)
        return key

    return make


@pytest.fixture
def key(new_key: Callable[..., str]) -> str:
    return new_key()


@pytest.fixture
def client_for(world: World) -> Callable[..., Any]:
    """A context manager giving a TestClient over a fresh app on the world's database."""

    @contextmanager
    def make(
        *, cache: PredictionCache | None = None, limiter: RateLimiter | None = None,
        settings: Settings | None = None, config: ApiConfig | None = None,
    ) -> Iterator[TestClient]:
        # champion_ttl_seconds=0: every request asks for the champion, so a promote is
        # seen by the next request (test_cache checks the 1 s memo with a fake clock)
        app = create_app(settings or world.settings,
                         config=config or ApiConfig(champion_ttl_seconds=0),
                         cache=cache or MemoryCache(), limiter=limiter)
        with TestClient(app) as client:
            yield client

    return make


@pytest.fixture
def client(client_for: Callable[..., Any]) -> Iterator[TestClient]:
    with client_for() as c:
        yield c


def redis_client() -> Any:
    import redis

    assert REDIS_URL
    return redis.Redis.from_url(REDIS_URL)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> PredictionCache:
    """Each cache test runs on the in-process cache and on a real Redis."""
    if request.param == "memory":
        return MemoryCache()
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set (scripts/test.sh starts a throwaway redis)")
    from core.cache import RedisCache

    r = redis_client()
    r.flushdb()
    return RedisCache(r)
