"""AppTest fixtures: a fresh SQLite database per test, caches cleared between tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.auth import SYSTEM
from core.context import AppContext, open_context
from core.settings import Settings

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _clear_streamlit_caches() -> Iterator[None]:
    """Streamlit caches outlive an AppTest instance within one pytest process.

    AppTest also runs the app as ``__main__`` and leaves it in ``sys.modules``; a later
    test that spawns processes (Dask's LocalCluster) would re-run the app in every child.
    """
    main = sys.modules.get("__main__")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the app at an empty, migrated SQLite database in a temp dir (local mode)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    for name in ("ANALYST_PASSWORD_HASH", "SLACK_WEBHOOK_URL", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


@pytest.fixture
def empty_app(app_env: Settings) -> AppContext:
    ctx = open_context(app_env)
    return ctx


@pytest.fixture
def sample_app(app_env: Settings) -> AppContext:
    """The embedded default: the bundled MSFT history loaded."""
    from core.market.ingest import ingest_sample

    ctx = open_context(app_env)
    ingest_sample(ctx.db, actor=SYSTEM)
    return ctx


def run_page(page: str | None = None, *, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(f"../pages/{page}")
        at.run()
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception on the page."""
    assert not at.exception, [e.value for e in at.exception]
