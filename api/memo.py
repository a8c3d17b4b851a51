"""A short-lived per-process memo with single-flight refresh, for the request hot path.

When an entry expires under load, one request per key runs the (blocking) fetch in a
worker thread and the others await its answer. Without this, every in-flight request
fetched at once, each TTL period, queued on the connection pool and the thread pool, and
the p99 latency jumped to about a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")


class Memo(Generic[T]):
    """``get(key, fetch)``: the remembered value, or ``fetch()`` once per key per expiry.

    ``None`` results are not remembered (an unknown API key must not be cached as valid,
    and a 404 should not outlive the data that fixes it). ``ttl_seconds <= 0`` turns the
    memo off: every call fetches.
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._values: dict[str, tuple[float, T]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def peek(self, key: str) -> T | None:
        item = self._values.get(key)
        if item is None or item[0] <= self._clock():
            return None
        return item[1]

    def put(self, key: str, value: T) -> None:
        if self.ttl_seconds > 0:
            if len(self._values) >= self._max_entries:
                self._values.clear()
                self._locks.clear()
            self._values[key] = (self._clock() + self.ttl_seconds, value)

    async def get(self, key: str, fetch: Callable[[], T | None]) -> T | None:
        value = self.peek(key)
        if value is not None:
            return value
        if self.ttl_seconds <= 0:
            return await run_in_threadpool(fetch)
        async with self._locks.setdefault(key, asyncio.Lock()):
            value = self.peek(key)
            if value is None:
                value = await run_in_threadpool(fetch)
                if value is not None:
                    self.put(key, value)
            return value
