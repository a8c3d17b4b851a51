"""Everything a request needs, built once per process on first use.

Built lazily (not at import) so importing ``api.app`` never touches a database, and so the
Lambda handler, which runs without ASGI lifespan events, gets the same set-up.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool

from api.config import ApiConfig
from api.memo import Memo
from api.predictions import Champion
from api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from api.requestlog import RequestLog
from core.apikeys import KeyInfo
from core.cache import MemoryCache, PredictionCache, RedisCache
from core.context import open_context
from core.db.engine import Database
from core.settings import Settings

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    config: ApiConfig
    db: Database
    cache: PredictionCache
    limiter: RateLimiter
    request_log: RequestLog
    champions: Memo[Champion]  # symbol -> champion id and data date
    keys: Memo[KeyInfo]  # sha256 of a key -> its record

    def close(self) -> None:
        self.request_log.close()
        self.db.dispose()


async def call_store(store: object, method: Callable[..., T], *args: Any) -> T:
    """Call a cache or rate-limiter method from a request: inline for the in-process ones
    (a dict lookup; a thread hop would cost more than the call), in a worker thread for
    Redis (network I/O must not block the event loop)."""
    if isinstance(store, (MemoryCache, MemoryRateLimiter)):
        return method(*args)
    return await run_in_threadpool(method, *args)


class RuntimeHolder:
    """Creates the ``Runtime`` on first use (thread-safe); a failed start is retried later."""

    def __init__(
        self,
        settings: Settings | None,
        config: ApiConfig | None,
        cache: PredictionCache | None,
        limiter: RateLimiter | None,
    ) -> None:
        self._settings = settings
        self._config = config
        self._cache = cache
        self._limiter = limiter
        self._lock = threading.Lock()
        self.runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self.runtime is not None:
            return self.runtime
        with self._lock:
            if self.runtime is None:
                config = self._config or ApiConfig.from_env()
                ctx = open_context(self._settings)  # migrates, like the dashboard does
                if config.redis_url:
                    cache = self._cache or RedisCache.from_url(config.redis_url)
                    limiter = self._limiter or RedisRateLimiter.from_url(config.redis_url)
                else:
                    cache = self._cache or MemoryCache()
                    limiter = self._limiter or MemoryRateLimiter()
                self.runtime = Runtime(
                    settings=ctx.settings, config=config, db=ctx.db, cache=cache,
                    limiter=limiter,
                    request_log=RequestLog(ctx.db, flush_seconds=config.log_flush_seconds),
                    champions=Memo(config.champion_ttl_seconds),
                    keys=Memo(config.key_cache_seconds),
                )
                # The process holds millions of long-lived objects (pandas, statsmodels,
                # SQLAlchemy); without this every full collection walks them all and shows
                # up as a p99 spike. Freezing moves them out of the collector's reach.
                gc.collect()
                gc.freeze()
            return self.runtime

    def close(self) -> None:
        with self._lock:
            if self.runtime is not None:
                self.runtime.close()
                self.runtime = None
