"""Per-key rate limits: over the limit is 429 with Retry-After; keys do not share a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.api.conftest import REDIS_URL, redis_client


@pytest.fixture(params=["memory", "redis"])
def clock_and_limiter(request: pytest.FixtureRequest) -> tuple[list[float], RateLimiter]:
    now = [6_000_030.0]  # 30 s into a one-minute window

    def clock() -> float:
        return now[0]

    if request.param == "memory":
        return now, MemoryRateLimiter(clock=clock)
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set (scripts/test.sh starts a throwaway redis)")
    r = redis_client()
    r.flushdb()
    return now, RedisRateLimiter(r, clock=clock)


def test_over_the_limit_is_429_with_retry_after(
    client_for: Callable[..., Any], new_key: Callable[..., str],
    clock_and_limiter: tuple[list[float], RateLimiter],
) -> None:
    now, limiter = clock_and_limiter
    limited, other = new_key(rate_limit=2), new_key(rate_limit=2)
    with client_for(limiter=limiter) as client:
        statuses = [client.get("/symbols", headers={"X-API-Key": limited}).status_code
                    for _ in range(3)]
        refused = client.get("/symbols", headers={"X-API-Key": limited})
        assert client.get("/symbols", headers={"X-API-Key": other}).status_code == 200
        assert client.get("/health").status_code == 200  # open, not counted
        now[0] += 30  # the next window
        after = client.get("/symbols", headers={"X-API-Key": limited})
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert "2 requests per minute" in refused.json()["detail"]
    assert after.status_code == 200


def test_memory_window_resets() -> None:
    now = [120.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.hit("k", 1).allowed for _ in range(2)] == [True, False]
    now[0] = 179.5
    assert limiter.hit("k", 1).retry_after == 1
    now[0] = 180.0
    assert limiter.hit("k", 1).allowed
