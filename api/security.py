"""Authentication (``X-API-Key`` or ``Authorization: Bearer``) and the per-key rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from api.requestlog import SCOPE_KEY
from api.runtime import Runtime, call_store
from core.apikeys import KeyInfo, authenticate, hash_key
from core.errors import CoreError

# Security schemes shown in the OpenAPI document (see ``api.app.add_security_schemes``).
# Authentication itself reads the two headers directly in ``require_key``: one dependency
# instead of three (each FastAPI dependency costs per request; this is the hot path).
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the process runtime and the caller's key."""

    rt: Runtime
    key: KeyInfo


async def get_runtime(request: Request) -> Runtime:
    holder = request.app.state.runtime
    if holder.runtime is not None:
        return holder.runtime
    return await run_in_threadpool(holder.get)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _lookup(rt: Runtime, key: str) -> KeyInfo | None:
    """The key's record, from the short per-process memo or one indexed query."""
    return await rt.keys.get(hash_key(key), partial(authenticate, rt.db, key))


def presented_key(request: Request) -> str | None:
    """The key from ``X-API-Key``, else from ``Authorization: Bearer <key>``.

    Reads the raw ASGI header list (names arrive lower-cased) rather than building
    ``request.headers``: this runs on every authenticated request.
    """
    api_key = authorization = None
    for name, value in request.scope["headers"]:
        if name == b"x-api-key" and value:
            api_key = value
            break
        if name == b"authorization" and authorization is None:
            authorization = value
    if api_key:
        return api_key.decode("latin-1")
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def optional_key(request: Request, rt: Runtime) -> KeyInfo | None:
    """The caller's active key, or None (no key, unknown, revoked, or the database cannot
    say): for an open endpoint that shows more to key holders. Not counted against the
    key's rate limit."""
    key = presented_key(request)
    if not key:
        return None
    try:
        return await _lookup(rt, key)
    except CoreError:
        return None


async def require_key(request: Request) -> Caller:
    """The caller's active key; 401 when missing, unknown or revoked; 429 over its limit."""
    rt = await get_runtime(request)
    key = presented_key(request)
    if not key:
        raise _unauthorized("an API key is required: send it as X-API-Key or Authorization: Bearer")
    info = await _lookup(rt, key)
    if info is None:
        raise _unauthorized("the API key is not valid (unknown or revoked)")
    log_info = request.scope.get(SCOPE_KEY)
    if log_info is not None:
        log_info["key_prefix"] = info.prefix
    decision = await call_store(rt.limiter, rt.limiter.hit, info.prefix,
                                info.rate_limit_per_minute)
    if not decision.allowed:
        raise HTTPException(
            429,
            f"rate limit of {info.rate_limit_per_minute} requests per minute exceeded for key "
            f"{info.prefix}; retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )
    return Caller(rt, info)
