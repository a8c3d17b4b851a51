"""API settings are parsed when the app is made: a bad value is one clear line, not a
traceback, and names the variable, the value and what would be valid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.config import DEFAULT_MAX_BODY_BYTES, ApiConfig
from core.errors import ValidationFailed

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_values() -> None:
    assert ApiConfig.from_env({}).max_body_bytes == DEFAULT_MAX_BODY_BYTES
    config = ApiConfig.from_env({"API_MAX_BODY_BYTES": "1024", "API_CHAMPION_TTL_SECONDS": "0.5"})
    assert (config.max_body_bytes, config.champion_ttl_seconds) == (1024, 0.5)


@pytest.mark.parametrize(("name", "raw", "words"), [
    pytest.param("API_MAX_BODY_BYTES", "16k", "must be a whole number", id="body-text"),
    pytest.param("API_MAX_BODY_BYTES", "0", "must be >= 1", id="body-zero"),
    pytest.param("API_MAX_BODY_BYTES", "-5", "must be >= 1", id="body-negative"),
    pytest.param("PREDICTION_TTL_SECONDS", "1.5", "must be a whole number", id="ttl-float"),
    pytest.param("API_KEY_CACHE_SECONDS", "soon", "must be a whole number", id="key-cache"),
    pytest.param("API_CHAMPION_TTL_SECONDS", "fast", "must be a number", id="champion-ttl"),
    pytest.param("API_TELEMETRY", "maybe", "must be yes or no", id="telemetry"),
])
def test_a_bad_value_names_the_setting_the_value_and_what_is_valid(
    name: str, raw: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        ApiConfig.from_env({name: raw})
    assert name in str(exc.value)
    assert repr(raw) in str(exc.value)
    assert words in str(exc.value)


def test_the_server_refuses_to_start_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "API_MAX_BODY_BYTES": "lots", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run([sys.executable, "-c", "import api.app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "stockcast api: bad configuration: API_MAX_BODY_BYTES must be a whole number, "
        "got 'lots'"
    )


def test_the_configured_body_limit_is_the_one_enforced(
    client_for: Callable[..., Any], key: str
) -> None:
    config = ApiConfig(champion_ttl_seconds=0, max_body_bytes=64)
    with client_for(config=config) as client:
        padded = client.post("/predict", json={"symbol": "MSFT", "days": 2, "pad": "x" * 64},
                             headers={"X-API-Key": key})
        small = client.post("/predict", json={"symbol": "MSFT", "days": 2},
                            headers={"X-API-Key": key})
    assert padded.status_code == 413
    assert "larger than 64 bytes" in padded.json()["detail"]
    assert small.status_code == 200
