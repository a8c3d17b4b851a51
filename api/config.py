"""API settings from environment variables (the core ``Settings`` cover the rest)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.cache import DEFAULT_TTL_SECONDS
from core.settings import env_flag, env_float, env_int

# A /predict body is ~40 bytes; a key holder's 200 MB body took 73 s and 710 MB.
DEFAULT_MAX_BODY_BYTES = 16_384


@dataclass(frozen=True)
class ApiConfig:
    """``REDIS_URL`` (shared cache, rate limits), cache TTL, short per-process memos, batching."""

    redis_url: str | None = None
    prediction_ttl_seconds: int = DEFAULT_TTL_SECONDS
    # A revoked key keeps working for at most this long on a worker that saw it recently:
    # the price of not querying api_keys on every request.
    key_cache_seconds: int = 5
    # How long a worker trusts its last look at a symbol's champion and data date
    # (see api/predictions.py); 0 asks the database on every request.
    champion_ttl_seconds: float = 1.0
    log_flush_seconds: float = 0.5
    # FastAPI's native OpenTelemetry instrumentation. Off by default: the request log
    # already records every request, and asking for the OTEL providers on each request
    # cost ~3% of a cached /predict. Set API_TELEMETRY=1 with an OTEL provider configured.
    telemetry: bool = False
    # Bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiConfig:
        """The settings from ``env`` (default ``os.environ``); a bad value raises
        ``ValidationFailed`` naming the variable, the value and what would be valid.

        >>> ApiConfig.from_env({"API_MAX_BODY_BYTES": "4096"}).max_body_bytes
        4096
        >>> ApiConfig.from_env({"API_MAX_BODY_BYTES": "16k"})
        Traceback (most recent call last):
        ...
        core.errors.ValidationFailed: API_MAX_BODY_BYTES must be a whole number, got '16k'
        """
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            prediction_ttl_seconds=env_int(
                env, "PREDICTION_TTL_SECONDS", DEFAULT_TTL_SECONDS, minimum=1
            ),
            key_cache_seconds=env_int(env, "API_KEY_CACHE_SECONDS", 5, minimum=0),
            champion_ttl_seconds=env_float(env, "API_CHAMPION_TTL_SECONDS", 1.0, minimum=0),
            telemetry=env_flag(env, "API_TELEMETRY", False),
            max_body_bytes=env_int(env, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES,
                                   minimum=1),
        )
