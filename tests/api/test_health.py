"""``GET /health`` reports each dependency: status only for anyone, details for key holders.

"Redis down" is a closed port on loopback; the real Redis comes from ``TEST_REDIS_URL``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from api.config import ApiConfig
from api.ratelimit import RedisRateLimiter
from core.cache import RedisCache
from core.settings import Settings
from tests.api.conftest import REDIS_URL, World

DEPENDENCIES = {"database", "model_store", "rate_limiter", "prediction_cache"}


def closed_redis_url() -> str:
    """A Redis URL on a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_all_up_is_ok_and_a_key_holder_sees_each_dependency(
    client: Any, key: str
) -> None:
    anonymous = client.get("/health")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ok"}
    detailed = client.get("/health", headers={"X-API-Key": key})
    assert detailed.status_code == 200
    body = detailed.json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == DEPENDENCIES
    assert all(d["status"] == "ok" for d in body["dependencies"].values())
    assert body["dependencies"]["database"]["required"] is True
    assert body["dependencies"]["prediction_cache"]["required"] is False


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-key"),
    pytest.param({"X-API-Key": "sk_not-a-real-key"}, id="wrong-key"),
])
def test_redis_down_is_unhealthy_like_predict_and_shows_no_details_without_a_key(
    client_for: Callable[..., Any], key: str, headers: dict[str, str]
) -> None:
    config = ApiConfig(redis_url=closed_redis_url(), champion_ttl_seconds=0)
    with client_for(config=config) as client:
        # the fixture's in-process cache; the limiter comes from REDIS_URL, as in production
        predict = client.post("/predict", json={"symbol": "MSFT", "days": 3},
                              headers={"X-API-Key": key})
        health = client.get("/health", headers=headers)
        detailed = client.get("/health", headers={"X-API-Key": key})
    assert predict.status_code == 503
    assert health.status_code == 503
    assert health.json() == {"status": "unhealthy"}
    assert detailed.status_code == 503
    limiter = detailed.json()["dependencies"]["rate_limiter"]
    assert limiter["status"] == "down" and limiter["required"] is True
    assert "Redis does not answer" in limiter["detail"]
    assert detailed.json()["dependencies"]["database"]["status"] == "ok"


def test_a_cache_down_is_degraded_and_predict_still_answers_uncached(
    client_for: Callable[..., Any], key: str
) -> None:
    with client_for(cache=RedisCache.from_url(closed_redis_url())) as client:
        first = client.post("/predict", json={"symbol": "MSFT", "days": 4},
                            headers={"X-API-Key": key})
        second = client.post("/predict", json={"symbol": "MSFT", "days": 4},
                             headers={"X-API-Key": key})
        health = client.get("/health", headers={"X-API-Key": key})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.headers["X-Cache"] == "miss"  # nothing could be cached
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    cache = health.json()["dependencies"]["prediction_cache"]
    assert (cache["status"], cache["required"]) == ("down", False)


def test_a_real_redis_is_reported_up(client_for: Callable[..., Any], key: str) -> None:
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set (scripts/test.sh starts a throwaway redis)")
    with client_for(cache=RedisCache.from_url(REDIS_URL),
                    limiter=RedisRateLimiter.from_url(REDIS_URL)) as client:
        health = client.get("/health", headers={"X-API-Key": key})
    assert health.status_code == 200, health.text
    deps = health.json()["dependencies"]
    assert deps["rate_limiter"] == {"status": "ok", "required": True, "detail": "Redis answers"}
    assert deps["prediction_cache"]["status"] == "ok"


def test_an_unreadable_model_store_is_unhealthy(
    world: World, client_for: Callable[..., Any], tmp_path: Any, key: str
) -> None:
    settings = Settings.from_env({"DATABASE_URL": world.db.url,
                                  "MODEL_DIR": str(tmp_path / "missing")})
    with client_for(settings=settings) as client:
        anonymous = client.get("/health")
        detailed = client.get("/health", headers={"X-API-Key": key})
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unhealthy"}
    deps = detailed.json()["dependencies"]
    assert deps["database"]["status"] == "ok"
    assert deps["model_store"]["status"] == "down"
    assert "missing" in deps["model_store"]["detail"]


def test_database_down_shows_no_user_host_or_port(
    client_for: Callable[..., Any], tmp_path: Any
) -> None:
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
        "MODEL_DIR": str(tmp_path),
    })
    with client_for(settings=settings) as client:
        health = client.get("/health", headers={"X-API-Key": "sk_whatever"})
    assert health.status_code == 503
    assert health.json() == {"status": "unhealthy"}
    assert "nobody" not in health.text and "127.0.0.1" not in health.text
