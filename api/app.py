"""The FastAPI application: ``uvicorn api.app:app`` (Procfile ``api``) or ``create_app()``.

Configuration comes from the environment like every front door: ``DATABASE_URL``,
``MODEL_DIR`` (core ``Settings``), ``REDIS_URL`` (shared cache and rate limits) and the
``API_*`` variables of ``api.config``.
Nothing connects at import; the first request builds the runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import (
    validation_error_definition,
    validation_error_response_definition,
)

from api import errors
from api.config import ApiConfig
from api.ratelimit import RateLimiter
from api.requestlog import RequestLog, RequestLogMiddleware
from api.routes import hot_router, router
from api.runtime import RuntimeHolder
from api.schemas import PredictRequest
from api.security import SECURITY_SCHEMES
from core.cache import PredictionCache
from core.errors import ValidationFailed
from core.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    config: ApiConfig | None = None,
    cache: PredictionCache | None = None,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """A new app; tests pass their own settings, cache and limiter.

    The ``API_*`` settings are read here, when the app is made, so a bad value stops the
    server at start-up with a message naming it, not at the first request."""
    config = config or ApiConfig.from_env()
    holder = RuntimeHolder(settings, config, cache, limiter)
    telemetry = config.telemetry

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
        # The routes go straight into the app's router: ``include_router`` would nest them
        # behind a router that is matched twice per request (~3% of a cached /predict).
        routes=[*hot_router.routes, *router.routes],
        telemetry=None if telemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = holder
    errors.install(app)

    def sink() -> RequestLog | None:
        return holder.runtime.request_log if holder.runtime is not None else None

    app.add_middleware(RequestLogMiddleware, sink=sink)
    add_security_schemes(app)
    return app


def add_security_schemes(app: FastAPI) -> None:
    """Declare the key schemes in the OpenAPI document (operations reference them), and the
    ``PredictRequest`` body that ``POST /predict`` parses itself (see ``api.routes``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {})
            components["securitySchemes"] = SECURITY_SCHEMES
            schemas = components.setdefault("schemas", {})
            schemas.setdefault("PredictRequest", PredictRequest.model_json_schema(
                ref_template="#/components/schemas/{model}"))
            schemas.setdefault("ValidationError", validation_error_definition)
            schemas.setdefault("HTTPValidationError", validation_error_response_definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _app_from_env() -> FastAPI:
    """The app ``uvicorn api.app:app`` serves; a bad setting ends the process with one line
    naming it (``SystemExit``), not a traceback."""
    try:
        return create_app()
    except ValidationFailed as exc:
        raise SystemExit(f"stockcast api: bad configuration: {exc}") from None


app = _app_from_env()
