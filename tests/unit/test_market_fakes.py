"""Fake yfinance responses in the exact shapes yfinance 1.7 returns (no network; no tests here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

NY = "America/New_York"
FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]


def history_frame(
    days: list[str],
    close: list[float],
    *,
    splits: dict[str, float] | None = None,
    dividends: dict[str, float] | None = None,
    volume: int = 1_000_000,
    tz: str | None = NY,
) -> pd.DataFrame:
    """``Ticker.history(auto_adjust=False, actions=True)``: flat columns, tz-aware index."""
    index = pd.DatetimeIndex(pd.to_datetime(days), name="Date")
    if tz:
        index = index.tz_localize(tz)
    frame = pd.DataFrame(
        {
            "Open": close,
            "High": [c * 1.01 for c in close],
            "Low": [c * 0.99 for c in close],
            "Close": close,
            "Adj Close": [c * 0.98 for c in close],
            "Volume": [volume] * len(close),
            "Dividends": [0.0] * len(close),
            "Stock Splits": [0.0] * len(close),
        },
        index=index,
    )
    for day, ratio in (splits or {}).items():
        frame.loc[index[list(days).index(day)], "Stock Splits"] = ratio
    for day, cash in (dividends or {}).items():
        frame.loc[index[list(days).index(day)], "Dividends"] = cash
    return frame


def download_frame(symbol: str, history: pd.DataFrame) -> pd.DataFrame:
    """``yf.download(..., actions=True)`` default shape: (Price, Ticker) MultiIndex columns."""
    frame = history[sorted(history.columns)].copy()
    frame.columns = pd.MultiIndex.from_tuples(
        [(c, symbol) for c in frame.columns], names=["Price", "Ticker"]
    )
    return frame


def empty_download(symbol: str) -> pd.DataFrame:
    """What ``yf.download`` returns on ANY failure: 0 rows, MultiIndex columns, no error."""
    columns = pd.MultiIndex.from_tuples(
        [(c, symbol) for c in ["Adj Close", "Close", "High", "Low", "Open", "Volume"]],
        names=["Price", "Ticker"],
    )
    return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="Date"))


class FakeClient:
    """Records calls; returns frames or raises exceptions in order."""

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, dt.date | None, dt.date | None]] = []

    def __call__(self, symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        self.calls.append((symbol, start, end))
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(response, BaseException):
            raise response
        if callable(response):
            result: pd.DataFrame = response(symbol, start, end)
            return result
        return response  # type: ignore[no-any-return]


ClientFn = Callable[[str, dt.date | None, dt.date | None], pd.DataFrame]
