"""The prediction cache: a hit skips the model, a promote makes old entries unreachable.

Every test here runs on the in-process cache and on a real Redis (``cache`` fixture).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from core.auth import SYSTEM
from core.cache import MemoryCache, PredictionCache, prediction_key
from core.db.models import Prediction
from core.forecast import lifecycle, service
from tests.api.conftest import World, save_drift_model


@pytest.fixture
def forecast_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Spy on ``service.forecast``: every call the API makes is recorded."""
    calls: list[dict[str, Any]] = []
    real = service.forecast

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append({"args": args[2:], **kwargs})
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "forecast", spy)
    return calls


def _ledger_rows(world: World) -> int:
    with world.db.read() as session:
        return int(session.scalar(
            select(func.count()).select_from(Prediction).where(Prediction.issued_by == "api")
        ) or 0)


def test_second_call_is_a_cache_hit(
    world: World, client_for: Callable[..., Any], key: str, cache: PredictionCache,
    forecast_calls: list[dict[str, Any]],
) -> None:
    before = _ledger_rows(world)
    with client_for(cache=cache) as client:
        first = client.post("/predict", json={"symbol": "MSFT", "days": 9},
                            headers={"X-API-Key": key})
        second = client.post("/predict", json={"symbol": "MSFT", "days": 9},
                             headers={"X-API-Key": key})
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert second.headers["content-type"] == "application/json"
    assert len(forecast_calls) == 1
    assert forecast_calls[0]["issued_by"] == "api"
    # the miss logged its forecast to the ledger (once per version, data date and target
    # date: an earlier test's shorter forecast may hold the first dates); the hit added nothing
    after = _ledger_rows(world)
    assert 0 <= after - before <= 9
    body = first.json()
    with world.db.read() as session:
        logged = set(session.scalars(select(Prediction.target_date).where(
            Prediction.issued_by == "api", Prediction.model_version_id == body["model_version"],
            Prediction.data_date == dt.date.fromisoformat(body["data_date"]))))
    assert {dt.date.fromisoformat(d) for d in body["dates"]} <= logged


def test_a_different_horizon_is_a_different_entry(
    client_for: Callable[..., Any], key: str, cache: PredictionCache,
    forecast_calls: list[dict[str, Any]],
) -> None:
    with client_for(cache=cache) as client:
        for days in (2, 3, 2, 3):
            response = client.post("/predict", json={"symbol": "MSFT", "days": days},
                                   headers={"X-API-Key": key})
            assert response.status_code == 200
            assert len(response.json()["dates"]) == days
    assert [c["args"][1] for c in forecast_calls] == [2, 3]


def test_promote_invalidates_without_being_told(
    world: World, client_for: Callable[..., Any], key: str, cache: PredictionCache,
    forecast_calls: list[dict[str, Any]],
) -> None:
    with client_for(cache=cache) as client:
        def predict() -> Any:
            return client.post("/predict", json={"symbol": "MSFT", "days": 4},
                               headers={"X-API-Key": key})

        old = predict()
        assert predict().headers["X-Cache"] == "hit"
        new_id = save_drift_model(world)
        lifecycle.promote(world.db, world.settings, new_id, SYSTEM,
                          override_reason="test: cache invalidation", override_for=new_id)
        fresh = predict()
        again = predict()
    assert old.json()["model_version"] != new_id
    assert fresh.headers["X-Cache"] == "miss"
    assert fresh.json()["model_version"] == new_id
    assert again.headers["X-Cache"] == "hit"
    assert [c["version_id"] for c in forecast_calls] == [old.json()["model_version"], new_id]


def test_invalidate_drops_every_entry_of_a_symbol(cache: PredictionCache) -> None:
    keys = [prediction_key("MSFT", d, 1, "2017-11-10") for d in (1, 5)]
    other = prediction_key("MSFTX", 1, 1, "2017-11-10")
    for k in [*keys, other]:
        cache.set(k, b'{"x": 1}')
    assert cache.get(keys[0]) == b'{"x": 1}'
    assert cache.invalidate("MSFT") == 2
    assert [cache.get(k) for k in keys] == [None, None]
    assert cache.get(other) == b'{"x": 1}'


def test_memory_cache_expires_and_stays_bounded() -> None:
    now = [1000.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    cache.set("a", b"1", ttl=10)
    cache.set("b", b"2", ttl=100)
    now[0] += 11
    assert cache.get("a") is None
    assert cache.get("b") == b"2"
    cache.set("c", b"3")
    cache.set("d", b"4")  # evicts the least recently used ("b")
    assert (cache.get("b"), cache.get("c"), cache.get("d")) == (None, b"3", b"4")


def test_redis_entries_carry_the_ttl(cache: PredictionCache) -> None:
    from core.cache import RedisCache

    if not isinstance(cache, RedisCache):
        pytest.skip("Redis only")
    cache.set("stockcast:pred:T:1:1:d", b"{}", ttl=123)
    assert 0 < cache._redis.ttl("stockcast:pred:T:1:1:d") <= 123


def test_the_champion_memo_sees_a_promote_after_its_ttl(
    world: World, client_for: Callable[..., Any], key: str,
    forecast_calls: list[dict[str, Any]],
) -> None:
    from api.config import ApiConfig
    from api.memo import Memo

    now = [100.0]
    with client_for(config=ApiConfig(champion_ttl_seconds=60)) as client:
        def predict() -> Any:
            return client.post("/predict", json={"symbol": "MSFT", "days": 6},
                               headers={"X-API-Key": key})

        assert predict().status_code == 200  # builds the runtime
        runtime = client.app.state.runtime.runtime  # type: ignore[attr-defined]
        runtime.champions = Memo(60, clock=lambda: now[0])
        old = predict().json()["model_version"]
        new_id = save_drift_model(world)
        lifecycle.promote(world.db, world.settings, new_id, SYSTEM,
                          override_reason="test: champion memo", override_for=new_id)
        within_ttl = predict()
        now[0] += 61
        after_ttl = predict()
    assert within_ttl.json()["model_version"] == old
    assert after_ttl.json()["model_version"] == new_id
    assert after_ttl.headers["X-Cache"] == "miss"
