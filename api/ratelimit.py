"""Per-key rate limits: a fixed one-minute window, in-process or shared in Redis.

A fixed window is one counter per key per minute: cheap (one ``INCR`` in Redis) and easy to
explain in a ``Retry-After``. Its known edge: up to twice the limit across a window
boundary, which is acceptable for a per-minute quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until the window resets (0 when allowed)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> Decision: ...


ALLOWED = Decision(True, 0)


def _retry_after(now: float) -> int:
    return max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))


class MemoryRateLimiter:
    """One worker's counters (each worker enforces the limit on its own share)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, limit: int) -> Decision:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            start, count = self._counts.get(key, (window, 0))
            if start != window:
                count = 0
            count += 1
            self._counts[key] = (window, count)
        return ALLOWED if count <= limit else Decision(False, _retry_after(now))


class RedisRateLimiter:
    """Counters in Redis, shared by every worker: ``INCR`` + ``EXPIRE`` in one round trip."""

    def __init__(self, client: Any, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._clock = clock

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    def hit(self, key: str, limit: int) -> Decision:
        now = self._clock()
        name = f"stockcast:rl:{key}:{int(now // WINDOW_SECONDS)}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS + 5)
        count = int(pipe.execute()[0])
        return ALLOWED if count <= limit else Decision(False, _retry_after(now))

    def ping(self) -> str | None:
        """None when Redis answers, else what went wrong (``/health`` reports it)."""
        from redis.exceptions import RedisError

        try:
            self._redis.ping()
        except RedisError as exc:
            return f"Redis does not answer: {exc}"
        return None
