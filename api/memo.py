"""A short-lived per-process memo with single-flight refresh, for the request hot path.

Two things keep a request from ever waiting on the database while a value is remembered:

- single flight: when an entry is missing or expired, one request per key runs the
  (blocking) fetch in a worker thread and the others await its answer. Without it every
  in-flight request fetched at once each TTL period and the p99 jumped to about a second;
- refresh ahead: once an entry is past half its TTL, the next request still gets it at
  once and starts one background refresh. Under steady traffic an entry is renewed before
  it expires, so no request waits for the refresh (measured: p99 at 50 clients went from
  ~350 ms, every request stalled once a second behind the refresh, to tens of ms).

A value is never served after its TTL: once expired, requests wait for the fetch, so a
change in the database (a promote, a revoked key) is seen within ``ttl_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")
log = logging.getLogger(__name__)


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
        self._values: dict[str, tuple[float, T]] = {}  # key -> (expires at, value)
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

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

    def forget(self, key: str) -> None:
        self._values.pop(key, None)

    async def get(self, key: str, fetch: Callable[[], T | None]) -> T | None:
        item = self._values.get(key)
        if item is not None:
            remaining = item[0] - self._clock()
            if remaining > 0:
                if remaining < self.ttl_seconds / 2:
                    running = self._refreshing.get(key)
                    if running is None or running.done():
                        self._refreshing[key] = asyncio.create_task(self._refresh(key, fetch))
                return item[1]
        if self.ttl_seconds <= 0:
            return await run_in_threadpool(fetch)
        async with self._locks.setdefault(key, asyncio.Lock()):
            value = self.peek(key)
            if value is None:
                value = await run_in_threadpool(fetch)
                if value is not None:
                    self.put(key, value)
            return value

    async def _refresh(self, key: str, fetch: Callable[[], T | None]) -> None:
        """Fetch in the background; ``None`` or an error drops the entry (next call asks)."""
        try:
            value = await run_in_threadpool(fetch)
        except Exception as exc:  # the next request's own fetch reports it to its caller
            log.debug("background refresh of %s failed: %s", key, exc)
            value = None
        finally:
            self._refreshing.pop(key, None)
        if value is None:
            self.forget(key)
        else:
            self.put(key, value)
