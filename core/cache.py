"""Prediction cache: serialised forecasts by (symbol, days, champion version, data date).

Two implementations of one small interface: Redis when ``REDIS_URL`` is set (shared by
every worker and host), otherwise an in-process TTL cache. Values are the finished JSON
bytes, so a hit is served without building or serialising anything.

The key holds the champion's version id and the last data date, so a promotion or
rollback done anywhere (dashboard, CLI, scheduler) or a new day of data makes old entries
unreachable without anyone calling ``invalidate``; they then expire with the TTL.
``invalidate(symbol)`` also drops them at once, for callers that want the memory back.

>>> c = MemoryCache()
>>> k = prediction_key("MSFT", 7, 3, "2024-05-01")
>>> c.set(k, b"{}"); c.get(k)
b'{}'
>>> c.invalidate("MSFT"), c.get(k)
(1, None)
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

DEFAULT_TTL_SECONDS = 24 * 3600
_NAMESPACE = "stockcast:pred"
log = logging.getLogger(__name__)


def prediction_key(symbol: str, days: int, version_id: int, data_date: dt.date | str) -> str:
    """The cache key of one forecast; the symbol comes first so it can be invalidated."""
    return f"{_NAMESPACE}:{symbol}:{days}:{version_id}:{data_date}"


def _symbol_prefix(symbol: str) -> str:
    return f"{_NAMESPACE}:{symbol}:"


class PredictionCache(Protocol):
    """Get/set serialised forecasts; drop every entry of one symbol."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int = DEFAULT_TTL_SECONDS) -> None: ...

    def invalidate(self, symbol: str) -> int: ...


class MemoryCache:
    """Thread-safe in-process TTL cache, bounded (least recently used entries go first)."""

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires <= self._clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: int = DEFAULT_TTL_SECONDS) -> None:
        with self._lock:
            self._data[key] = (self._clock() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def invalidate(self, symbol: str) -> int:
        prefix = _symbol_prefix(symbol)
        with self._lock:
            stale = [k for k in self._data if k.startswith(prefix)]
            for k in stale:
                del self._data[k]
            return len(stale)


class RedisCache:
    """The same interface over Redis (``SET key value EX ttl``).

    A cache is an optimisation: when Redis cannot be reached, ``get`` misses and ``set``
    does nothing (each logs a warning), so forecasts are still served, uncached.
    ``ping`` says whether Redis answers (``/health`` reports it).
    """

    def __init__(self, client: Any) -> None:
        from redis.exceptions import RedisError

        self._redis = client
        self._errors: type[Exception] = RedisError

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    def get(self, key: str) -> bytes | None:
        try:
            value = self._redis.get(key)
        except self._errors as exc:
            log.warning("prediction cache unavailable, serving uncached: %s", exc)
            return None
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl: int = DEFAULT_TTL_SECONDS) -> None:
        try:
            self._redis.set(key, value, ex=ttl)
        except self._errors as exc:
            log.warning("prediction cache unavailable, not cached: %s", exc)

    def invalidate(self, symbol: str) -> int:
        keys = list(self._redis.scan_iter(match=_symbol_prefix(symbol) + "*", count=500))
        return int(self._redis.delete(*keys)) if keys else 0

    def ping(self) -> str | None:
        """None when Redis answers, else what went wrong."""
        try:
            self._redis.ping()
        except self._errors as exc:
            return f"Redis does not answer: {exc}"
        return None


def cache_from_env(env: Mapping[str, str]) -> PredictionCache:
    """Redis when ``REDIS_URL`` is set, else the in-process cache."""
    url = env.get("REDIS_URL")
    return RedisCache.from_url(url) if url else MemoryCache()
