"""The FastAPI application: ``uvicorn api.app:app`` (Procfile ``api``) or ``create_app()``.

Configuration comes from the environment like every front door: ``DATABASE_URL``,
``MODEL_DIR`` (core ``Settings``) and ``REDIS_URL`` (shared cache and rate limits).
Nothing connects at import; the first request builds the runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors
from api.config import ApiConfig
from api.ratelimit import RateLimiter
from api.requestlog import RequestLog, RequestLogMiddleware
from api.routes import router
from api.runtime import RuntimeHolder
from api.security import SECURITY_SCHEMES
from core.cache import PredictionCache
from core.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    config: ApiConfig | None = None,
    cache: PredictionCache | None = None,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """A new app; tests pass their own settings, cache and limiter."""
    holder = RuntimeHolder(settings, config, cache, limiter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        holder.close()  # writes the request-log rows still queued

    app = FastAPI(
        title="Stockcast API",
        version="1.0.0",
        description="Forecasts from each symbol's champion model, with 80%/95% intervals and "
        "the naive baseline. Send an API key as `X-API-Key` or `Authorization: Bearer`.",
        lifespan=lifespan,
    )
    app.state.runtime = holder
    errors.install(app)
    app.include_router(router)

    def sink() -> RequestLog | None:
        return holder.runtime.request_log if holder.runtime is not None else None

    app.add_middleware(RequestLogMiddleware, sink=sink)
    add_security_schemes(app)
    return app


def add_security_schemes(app: FastAPI) -> None:
    """Declare the key schemes in the OpenAPI document (operations reference them)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
