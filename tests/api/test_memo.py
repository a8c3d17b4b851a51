"""The per-process memo on the request hot path (api/memo.py), with a fake clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from api.memo import Memo


class Source:
    """A fetch that returns the current ``value`` and counts its calls (from any thread)."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.calls = 0
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            self.calls += 1
        if self.fail:
            raise RuntimeError("database down")
        return self.value


def memo_with_clock(ttl: float) -> tuple[Memo[str], list[float]]:
    now = [1_000.0]
    return Memo(ttl, clock=lambda: now[0]), now


async def settle(memo: Memo[str]) -> None:
    """Wait for background refreshes started so far."""
    await asyncio.gather(*list(memo._refreshing.values()))


def run(coro_fn: Callable[[], object]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


def test_fresh_values_are_served_without_fetching() -> None:
    async def scenario() -> None:
        memo, now = memo_with_clock(10)
        source = Source("v1")
        assert await memo.get("k", source) == "v1"
        now[0] += 4  # still in the first half of the TTL
        source.value = "v2"
        assert await memo.get("k", source) == "v1"
        assert source.calls == 1
        assert not memo._refreshing

    run(scenario)


def test_past_half_the_ttl_the_old_value_is_served_and_refreshed_in_the_background() -> None:
    async def scenario() -> None:
        memo, now = memo_with_clock(10)
        source = Source("v1")
        await memo.get("k", source)
        source.value = "v2"
        now[0] += 6
        assert await memo.get("k", source) == "v1"  # no wait for the database
        assert await memo.get("k", source) == "v1"  # one refresh in flight, not two
        await settle(memo)
        assert source.calls == 2
        assert await memo.get("k", source) == "v2"
        now[0] += 9  # the refreshed value got a full TTL from its refresh
        assert await memo.get("k", source) == "v2"

    run(scenario)


def test_an_expired_value_is_never_served() -> None:
    async def scenario() -> None:
        memo, now = memo_with_clock(10)
        source = Source("v1")
        await memo.get("k", source)
        source.value = "v2"
        now[0] += 10
        assert await memo.get("k", source) == "v2"

    run(scenario)


def test_concurrent_misses_fetch_once() -> None:
    async def scenario() -> None:
        memo, _ = memo_with_clock(10)
        source = Source("v1")
        results = await asyncio.gather(*(memo.get("k", source) for _ in range(20)))
        assert results == ["v1"] * 20
        assert source.calls == 1

    run(scenario)


@pytest.mark.parametrize("outcome", ["gone", "error"])
def test_a_refresh_that_finds_nothing_or_fails_drops_the_entry(outcome: str) -> None:
    async def scenario() -> None:
        memo, now = memo_with_clock(10)
        source = Source("v1")
        await memo.get("k", source)
        now[0] += 6
        if outcome == "gone":
            source.value = None  # e.g. the key was revoked
        else:
            source.fail = True
        assert await memo.get("k", source) == "v1"
        await settle(memo)
        assert memo.peek("k") is None
        if outcome == "gone":
            assert await memo.get("k", source) is None
        else:
            with pytest.raises(RuntimeError, match="database down"):
                await memo.get("k", source)  # the caller's own fetch reports the failure

    run(scenario)


def test_ttl_zero_fetches_every_time() -> None:
    async def scenario() -> None:
        memo, _ = memo_with_clock(0)
        source = Source("v1")
        for _ in range(3):
            assert await memo.get("k", source) == "v1"
        assert source.calls == 3

    run(scenario)
