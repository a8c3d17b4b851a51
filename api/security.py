"""Authentication (``X-API-Key`` or ``Authorization: Bearer``) and the per-key rate limit."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.ratelimit import MemoryRateLimiter
from api.requestlog import SCOPE_KEY
from api.runtime import Runtime
from core.apikeys import KeyInfo, authenticate, hash_key

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


async def get_runtime(request: Request) -> Runtime:
    holder = request.app.state.runtime
    if holder.runtime is not None:
        return holder.runtime
    return await run_in_threadpool(holder.get)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _lookup(rt: Runtime, key: str) -> KeyInfo | None:
    """The key's record, from a short-lived per-process cache or one indexed query."""
    digest = hash_key(key)
    now = time.monotonic()
    hit = rt.key_cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[return-value]
    info = await run_in_threadpool(authenticate, rt.db, key)
    if rt.config.key_cache_seconds and info is not None:
        if len(rt.key_cache) > 10_000:
            rt.key_cache.clear()
        rt.key_cache[digest] = (now + rt.config.key_cache_seconds, info)
    return info


async def require_key(
    request: Request,
    rt: Annotated[Runtime, Depends(get_runtime)],
    header_key: Annotated[str | None, Security(api_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> KeyInfo:
    """The caller's active key; 401 when missing, unknown or revoked; 429 over its limit."""
    key = header_key or (credentials.credentials if credentials is not None else None)
    if not key:
        raise _unauthorized("an API key is required: send it as X-API-Key or Authorization: Bearer")
    info = await _lookup(rt, key)
    if info is None:
        raise _unauthorized("the API key is not valid (unknown or revoked)")
    log_info = request.scope.get(SCOPE_KEY)
    if log_info is not None:
        log_info["key_prefix"] = info.prefix
    if isinstance(rt.limiter, MemoryRateLimiter):
        decision = rt.limiter.hit(info.prefix, info.rate_limit_per_minute)
    else:
        decision = await run_in_threadpool(rt.limiter.hit, info.prefix, info.rate_limit_per_minute)
    if not decision.allowed:
        raise HTTPException(
            429,
            f"rate limit of {info.rate_limit_per_minute} requests per minute exceeded for key "
            f"{info.prefix}; retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )
    return info
