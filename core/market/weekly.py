"""Weekly bars (OHLCV per symbol and week) from the stored daily bars.

On TimescaleDB the continuous aggregate ``bars_weekly`` (migration 0003) holds them; it is
real-time, so weeks not yet materialised and bars revised since its last refresh are
aggregated from ``bars`` on read. Elsewhere (SQLite, plain PostgreSQL) the daily bars are
resampled in pandas. Both give the same frame: weeks start on Monday (TimescaleDB's
``time_bucket('1 week')`` origin, 2000-01-03, is a Monday), ``date`` is that Monday, and
prices are raw (as traded), like ``read_bars``.

>>> daily = pd.DataFrame({
...     "date": pd.to_datetime(["2024-01-05", "2024-01-08", "2024-01-09", "2024-01-12"]),
...     "open": [1.0, 2.0, 3.0, 4.0], "high": [1.5, 2.5, 3.5, 4.5],
...     "low": [0.5, 1.5, 2.5, 3.5], "close": [1.2, 2.2, 3.2, 4.2],
...     "volume": [10, 20, 30, 40]})
>>> resample_weekly(daily)[["date", "open", "high", "low", "close", "volume"]].to_dict("list")
... # doctest: +NORMALIZE_WHITESPACE
{'date': [Timestamp('2024-01-01 00:00:00'), Timestamp('2024-01-08 00:00:00')],
 'open': [1.0, 2.0], 'high': [1.5, 4.5], 'low': [0.5, 1.5], 'close': [1.2, 4.2],
 'volume': [10, 90]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db.engine import Database
from core.market.store import read_bars_session

WEEKLY_COLUMNS = ["date", "open", "high", "low", "close", "volume"]
WEEKLY_VIEW = "bars_weekly"


def empty_weekly() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            **{c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close")},
            "volume": pd.Series(dtype="int64"),
        }
    )


def resample_weekly(daily: pd.DataFrame) -> pd.DataFrame:
    """Weekly OHLCV of a canonical daily frame: first open, max high, min low, last close,
    summed volume, per Monday-to-Sunday week labelled by its Monday; weeks without a bar
    are left out."""
    if daily.empty:
        return empty_weekly()
    days = pd.DatetimeIndex(daily["date"]).normalize()
    # Monday of each day's week (dayofweek: Monday = 0).
    week = days - pd.to_timedelta(days.dayofweek, unit="D")
    frame = daily.assign(date=days, _week=week).sort_values("date")
    grouped = frame.groupby("_week", sort=True)
    out = pd.DataFrame(
        {
            "date": grouped["date"].first().index.to_numpy(dtype="datetime64[ns]"),
            "open": grouped["open"].first().to_numpy(dtype="float64"),
            "high": grouped["high"].max().to_numpy(dtype="float64"),
            "low": grouped["low"].min().to_numpy(dtype="float64"),
            "close": grouped["close"].last().to_numpy(dtype="float64"),
            "volume": grouped["volume"].sum().to_numpy(dtype="int64"),
        }
    )
    return out.reset_index(drop=True)


def has_weekly_view(session: Session) -> bool:
    """True when the database has the TimescaleDB continuous aggregate ``bars_weekly``."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.scalar(text("SELECT to_regclass(:v) IS NOT NULL"), {"v": WEEKLY_VIEW}) is True


def weekly_bars_session(session: Session, symbol: str) -> pd.DataFrame:
    """Weekly bars of ``symbol`` (empty frame if none stored), oldest first."""
    if not has_weekly_view(session):
        return resample_weekly(read_bars_session(session, symbol))
    rows = session.execute(
        text(
            f"SELECT date, open, high, low, close, volume FROM {WEEKLY_VIEW} "
            "WHERE symbol = :symbol ORDER BY date"
        ),
        {"symbol": symbol},
    ).all()
    if not rows:
        return empty_weekly()
    columns = list(zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "date": np.array(columns[0], dtype="datetime64[D]").astype("datetime64[ns]"),
            "open": np.asarray(columns[1], dtype="float64"),
            "high": np.asarray(columns[2], dtype="float64"),
            "low": np.asarray(columns[3], dtype="float64"),
            "close": np.asarray(columns[4], dtype="float64"),
            "volume": np.asarray(columns[5], dtype="int64"),
        }
    )


def weekly_bars(db: Database, symbol: str) -> pd.DataFrame:
    """Weekly OHLCV bars of ``symbol``: ``bars_weekly`` on TimescaleDB, else resampled."""
    with db.read() as session:
        return weekly_bars_session(session, symbol)
