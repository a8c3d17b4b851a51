"""Helpers shared by the monitoring tests (no tests here): rows inserted with the ORM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from core.db.models import Bar, ModelVersion
from core.monitor.ledger import log_forecast


def add_model_version(session: Session, symbol: str = "MSFT", role: str = "champion") -> int:
    """A ModelVersion with every non-null column filled; returns its id."""
    mv = ModelVersion(
        symbol=symbol,
        kind="arima",
        engine="statsforecast",
        spec={"order": [1, 1, 0]},
        train_start=dt.date(2020, 1, 2),
        train_end=dt.date(2023, 12, 29),
        n_obs=1000,
        data_fingerprint="f" * 64,
        fit_seconds=0.5,
        lib_versions={"statsforecast": "2.1.1"},
        artifact_path="models/x.json",
        artifact_sha256="a" * 64,
        artifact_bytes=300,
        role=role,
    )
    session.add(mv)
    session.flush()
    return mv.id


def add_bars(
    session: Session,
    symbol: str,
    closes: dict[dt.date, float],
    splits: dict[dt.date, float] | None = None,
) -> None:
    """Raw daily bars; ``splits`` gives split_ratio on split days (1.0 elsewhere)."""
    splits = splits or {}
    for day, close in closes.items():
        session.merge(
            Bar(
                symbol=symbol, date=day, open=close, high=close, low=close, close=close,
                volume=1000, dividend=0.0, split_ratio=splits.get(day, 1.0), source="test",
            )
        )  # fmt: skip
    session.flush()


def log_simple(
    session: Session,
    mv_id: int,
    data_date: dt.date,
    dates: Sequence[dt.date],
    means: Sequence[float],
    last_value: float,
    *,
    width80: float = 1.0,
    width95: float = 2.0,
    symbol: str = "MSFT",
) -> int:
    """Log a forecast with symmetric intervals around ``means`` and a flat naive."""
    return log_forecast(
        session,
        symbol=symbol,
        model_version_id=mv_id,
        data_date=data_date,
        dates=list(dates),
        mean=list(means),
        lo80=[m - width80 for m in means],
        hi80=[m + width80 for m in means],
        lo95=[m - width95 for m in means],
        hi95=[m + width95 for m in means],
        naive=last_value,
        last_value=last_value,
        exog_policy=None,
        issued_by="cli",
    )
