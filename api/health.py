"""``GET /health``: each dependency the API needs, probed on every call.

Required (``/predict`` cannot answer without it; down means ``unhealthy``, 503): the
database, the model store and, when ``REDIS_URL`` is set, the rate limiter in Redis (every
authenticated request counts against it). Optional (down means ``degraded``, still 200):
the prediction cache in Redis, since ``/predict`` then serves forecasts uncached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import text

from api.runtime import Runtime
from core.db.engine import safe_url
from core.errors import CoreError


@dataclass(frozen=True)
class Dependency:
    name: str
    ok: bool
    required: bool
    detail: str  # for authenticated callers only: it may name hosts and paths


def overall(deps: list[Dependency]) -> str:
    """``unhealthy`` if a required dependency is down, ``degraded`` if an optional one is.

    >>> overall([Dependency("db", True, True, ""), Dependency("cache", False, False, "")])
    'degraded'
    """
    if any(not d.ok and d.required for d in deps):
        return "unhealthy"
    return "degraded" if any(not d.ok for d in deps) else "ok"


def _database(rt: Runtime) -> Dependency:
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
    except CoreError as exc:
        return Dependency("database", False, True, str(exc))
    return Dependency("database", True, True, safe_url(rt.db.url))


def _model_store(rt: Runtime) -> Dependency:
    store = rt.settings.model_dir
    if store.is_dir() and os.access(store, os.R_OK | os.X_OK):
        return Dependency("model_store", True, True, str(store))
    return Dependency("model_store", False, True, f"model directory {store} is missing or not "
                                                  "readable")


def _store(name: str, store: object, *, required: bool) -> Dependency:
    """A cache or rate limiter: probed when it lives in Redis (it has ``ping``)."""
    ping = getattr(store, "ping", None)
    if ping is None:
        return Dependency(name, True, required, "in-process")
    problem: str | None = ping()
    return Dependency(name, problem is None, required, problem or "Redis answers")


def check(rt: Runtime) -> list[Dependency]:
    """Probe every dependency (blocking: call it from a worker thread)."""
    return [
        _database(rt),
        _model_store(rt),
        _store("rate_limiter", rt.limiter, required=True),
        _store("prediction_cache", rt.cache, required=False),
    ]
