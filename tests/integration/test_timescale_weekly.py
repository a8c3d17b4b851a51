"""weekly_bars on every backend: TimescaleDB's bars_weekly, elsewhere a pandas resample,
the same frame either way."""

from __future__ import annotations

import pandas as pd

from core.db.engine import Database
from core.market.store import upsert_bars
from core.market.weekly import WEEKLY_COLUMNS, resample_weekly, weekly_bars
from tests.integration.test_bars_store import bars


def test_weekly_bars_are_the_weekly_resample_of_the_daily_bars(db: Database) -> None:
    daily = bars(n=80, start="2023-12-20", seed=4)  # crosses a year and holiday weeks
    upsert_bars(db, "MSFT", daily, "yahoo")
    upsert_bars(db, "AAPL", bars(n=40, seed=5), "yahoo")
    weekly = weekly_bars(db, "MSFT")
    assert list(weekly.columns) == WEEKLY_COLUMNS
    assert (weekly["date"].dt.dayofweek == 0).all()  # Mondays
    first_week = daily[daily["date"] < pd.Timestamp("2023-12-25")]
    assert weekly.iloc[0].to_dict() == {
        "date": pd.Timestamp("2023-12-18"),
        "open": first_week["open"].iloc[0],
        "high": first_week["high"].max(),
        "low": first_week["low"].min(),
        "close": first_week["close"].iloc[-1],
        "volume": first_week["volume"].sum(),
    }
    assert weekly["volume"].sum() == daily["volume"].sum()
    pd.testing.assert_frame_equal(weekly, resample_weekly(daily))


def test_weekly_bars_of_an_unknown_symbol_are_empty(db: Database) -> None:
    weekly = weekly_bars(db, "NONE")
    assert weekly.empty
    assert list(weekly.columns) == WEEKLY_COLUMNS
