"""One place that turns the ``CoreError`` hierarchy into HTTP statuses (never a 500)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from core import errors as ce

log = logging.getLogger(__name__)


class UnknownSymbol(ce.CoreError):
    """The symbol has no stored data (the API's 404)."""


# Most specific first: the first class in the exception's MRO found here wins.
STATUS: dict[type[ce.CoreError], int] = {
    UnknownSymbol: 404,
    ce.ModelNotFound: 404,
    ce.NotEnoughHistory: 422,
    ce.ValidationFailed: 422,
    ce.FitFailed: 422,
    ce.PermissionDenied: 403,
    ce.JobConflict: 409,
    ce.DatabaseUnavailable: 503,
    ce.DataUnavailable: 503,
    ce.ArtifactRejected: 503,
    ce.CoreError: 400,
}


def status_for(exc: ce.CoreError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def core_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ce.CoreError)
    status = status_for(exc)
    headers = {"Retry-After": "30"} if status == 503 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error that escaped ``Database.begin/read`` translation: still a 503."""
    log.warning("database error: %s", exc)
    return JSONResponse({"detail": "the database is unavailable; try again shortly"},
                        status_code=503, headers={"Retry-After": "30"})


async def redis_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("redis error: %s", exc)
    return JSONResponse({"detail": "the rate-limit store (Redis) is unavailable"},
                        status_code=503, headers={"Retry-After": "30"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ce.CoreError, core_error)
    app.add_exception_handler(DBAPIError, database_error)
    try:
        from redis.exceptions import RedisError

        app.add_exception_handler(RedisError, redis_error)
    except ImportError:  # pragma: no cover
        pass
