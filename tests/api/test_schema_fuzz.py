"""Schemathesis over the OpenAPI document: generated requests never get a 5xx.

The schema is loaded from one module-level app (schemathesis reads it at collection
time); each test points that app's runtime at the session's database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.config import ApiConfig
from api.runtime import RuntimeHolder
from core.cache import MemoryCache
from tests.api.conftest import World

APP = create_app(config=ApiConfig())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def on_world(world: World) -> Iterator[None]:
    holder = RuntimeHolder(world.settings, ApiConfig(), MemoryCache(), None)
    APP.state.runtime = holder
    yield
    holder.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, on_world: None, new_key: Callable[..., str]) -> None:
    response = case.call(headers={"X-API-Key": new_key()})
    assert response.status_code < 500, (response.status_code, response.text)
