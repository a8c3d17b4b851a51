"""Configuration from environment variables into one settings object.

Streamlit secrets reach it too: root-level keys of ``.streamlit/secrets.toml`` are
exported as environment variables by Streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ValidationFailed

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    """A number from the environment, or ``default``; a clear error names a bad value."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number, got {raw!r}") from None
    if value != value or value < minimum:
        raise ValidationFailed(f"{name} must be a number >= {minimum:g}, got {raw!r}")
    return value


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); unset -> ``default``.

    >>> env_flag({"X": "On"}, "X", False), env_flag({}, "X", True)
    (True, True)
    """
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValidationFailed(f"{name} must be yes or no (1/true/yes/on or 0/false/no/off), "
                           f"got {env[name]!r}")


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number from the environment, or ``default``; a clear error names a bad value."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValidationFailed(f"{name} must be >= {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class AlertThresholds:
    """Alert rule thresholds (the seed's ``rmse > 2.0`` and "2% of the price").

    Coverage is flagged both ways: an 80% band holding fewer than ``coverage80_min`` or
    more than ``coverage80_max`` of the actuals is off target (too narrow or too wide).
    """

    rmse_abs: float = 2.0
    rmse_pct_of_price: float = 2.0
    mae_ratio_above_one_days: int = 5
    coverage80_min: float = 0.72
    coverage80_max: float = 0.88
    coverage95_min: float = 0.90
    coverage95_max: float = 0.98
    stale_trading_days: int = 3
    window_days: int = 30
    cooldown_days: int = 5


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    model_dir: Path
    upload_max_mb: float = 20.0
    exchange: str = "XNYS"
    revision_days: int = 5
    yahoo_max_retries: int = 3
    yahoo_backoff_seconds: float = 2.0
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    slack_webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "forecasts@localhost"
    smtp_recipients: tuple[str, ...] = ()
    drift_policy: str = "manual"
    analyst_password_hash: str | None = None
    analyst_emails: tuple[str, ...] = ()
    watchlist: tuple[str, ...] = ()
    # TimescaleDB only: compress chunks of bars/predictions older than this (core.db.migrate).
    timescale_compress_after_days: int = 365

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("DATA_DIR") or PROJECT_ROOT / "data")
        model_dir = Path(env.get("MODEL_DIR") or PROJECT_ROOT / "models")
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'market.db'}"
        drift_policy = env.get("DRIFT_POLICY", "manual")
        if drift_policy not in ("manual", "auto"):
            raise ValidationFailed(f"DRIFT_POLICY must be 'manual' or 'auto', got {drift_policy!r}")
        thresholds = AlertThresholds(
            rmse_abs=env_float(env, "ALERT_RMSE_ABS", 2.0),
            rmse_pct_of_price=env_float(env, "ALERT_RMSE_PCT", 2.0),
            # ALERT_MASE_DAYS is the rule's old name (it never computed a MASE); still read.
            mae_ratio_above_one_days=env_int(
                env, "ALERT_MAE_RATIO_DAYS" if env.get("ALERT_MAE_RATIO_DAYS") else
                "ALERT_MASE_DAYS", 5, minimum=1,
            ),
            coverage80_min=env_float(env, "ALERT_COVERAGE80_MIN", 0.72),
            coverage80_max=env_float(env, "ALERT_COVERAGE80_MAX", 0.88),
            coverage95_min=env_float(env, "ALERT_COVERAGE95_MIN", 0.90),
            coverage95_max=env_float(env, "ALERT_COVERAGE95_MAX", 0.98),
            stale_trading_days=env_int(env, "ALERT_STALE_DAYS", 3, minimum=1),
            window_days=env_int(env, "ALERT_WINDOW_DAYS", 30, minimum=2),
            cooldown_days=env_int(env, "ALERT_COOLDOWN_DAYS", 5, minimum=0),
        )
        recipients = tuple(r.strip() for r in env.get("SMTP_TO", "").split(",") if r.strip())
        return cls(
            database_url=database_url,
            data_dir=data_dir,
            model_dir=model_dir,
            upload_max_mb=env_float(env, "UPLOAD_MAX_MB", 20.0, minimum=0.001),
            exchange=env.get("EXCHANGE", "XNYS"),
            revision_days=env_int(env, "REVISION_DAYS", 5),
            yahoo_max_retries=env_int(env, "YAHOO_MAX_RETRIES", 3),
            yahoo_backoff_seconds=env_float(env, "YAHOO_BACKOFF_SECONDS", 2.0),
            thresholds=thresholds,
            slack_webhook_url=env.get("SLACK_WEBHOOK_URL") or None,
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=env_int(env, "SMTP_PORT", 25, minimum=1),
            smtp_sender=env.get("SMTP_FROM", "forecasts@localhost"),
            smtp_recipients=recipients,
            drift_policy=drift_policy,
            analyst_password_hash=env.get("ANALYST_PASSWORD_HASH") or None,
            analyst_emails=tuple(
                e.strip().lower() for e in env.get("ANALYST_EMAILS", "").split(",") if e.strip()
            ),
            watchlist=tuple(
                s.strip().upper() for s in env.get("WATCHLIST", "").split(",") if s.strip()
            ),
            timescale_compress_after_days=env_int(
                env, "TIMESCALE_COMPRESS_AFTER_DAYS", 365, minimum=1
            ),
        )
