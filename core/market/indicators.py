"""An analyst's basics computed from stored bars: moving averages, Bollinger bands, symbols
rebased to 100, and bars resampled to weeks or months.

Plain functions of frames and series, so the explorer, the CLI or a notebook get the same
numbers.

>>> close = pd.Series([10.0, 11.0, 12.0, 13.0], index=pd.date_range("2024-01-01", periods=4))
>>> moving_average(close, 2).tolist()
[nan, 10.5, 11.5, 12.5]
>>> rebase({"A": close, "B": close * 2}).iloc[-1].tolist()
[130.0, 130.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from core.errors import ValidationFailed
from core.market.weekly import resample_weekly

PERIODS = ("day", "week", "month")


def check_window(window: int, *, minimum: int = 2) -> int:
    if int(window) != window or window < minimum:
        raise ValidationFailed(
            f"window must be a whole number of bars >= {minimum}, got {window!r}")
    return int(window)


def moving_average(close: pd.Series, window: int) -> pd.Series:
    """Simple moving average over ``window`` bars; NaN until the window is full."""
    return close.rolling(check_window(window), min_periods=check_window(window)).mean()


@dataclass(frozen=True)
class Bands:
    """Bollinger bands: the ``window``-bar mean and ``k`` standard deviations around it."""

    middle: pd.Series
    upper: pd.Series
    lower: pd.Series
    window: int
    k: float


def bollinger_bands(close: pd.Series, window: int = 20, k: float = 2.0) -> Bands:
    """Bollinger's bands: mean +- ``k`` population standard deviations of the last
    ``window`` closes (his definition divides by n, not n - 1).

    >>> b = bollinger_bands(pd.Series([1.0, 3.0, 1.0, 3.0]), window=2, k=1.0)
    >>> b.upper.tolist()[1:], b.lower.tolist()[1:]
    ([3.0, 3.0, 3.0], [1.0, 1.0, 1.0])
    """
    window = check_window(window)
    if k <= 0:
        raise ValidationFailed(f"k must be positive, got {k!r}")
    rolling = close.rolling(window, min_periods=window)
    middle = rolling.mean()
    spread = rolling.std(ddof=0) * k
    return Bands(middle=middle, upper=middle + spread, lower=middle - spread, window=window, k=k)


def rebase(closes: Mapping[str, pd.Series], base: float = 100.0) -> pd.DataFrame:
    """Closes of several symbols on one scale: each divided by its value on the first date
    they all have, times ``base``; rows from that date on where every symbol has a bar.

    Raises ``ValidationFailed`` when the symbols share no date.
    """
    if not closes:
        raise ValidationFailed("rebase needs at least one symbol")
    frame = pd.concat({name: s for name, s in closes.items()}, axis=1, join="inner").dropna()
    if frame.empty:
        names = ", ".join(closes)
        raise ValidationFailed(f"{names} have no trading day in common in this range")
    return frame / frame.iloc[0] * base


def resample_bars(daily: pd.DataFrame, period: str) -> pd.DataFrame:
    """Daily OHLCV bars as weekly (weeks from Monday, labelled by the Monday) or monthly
    (labelled by the 1st) bars: first open, highest high, lowest low, last close, summed
    volume; ``day`` returns the bars unchanged.

    >>> daily = pd.DataFrame({"date": pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01"]),
    ...     "open": [1.0, 2.0, 3.0], "high": [1.5, 2.5, 3.5], "low": [0.5, 1.5, 2.5],
    ...     "close": [1.2, 2.2, 3.2], "volume": [10, 20, 30]})
    >>> resample_bars(daily, "month")[["open", "high", "close", "volume"]].to_dict("list")
    {'open': [1.0, 3.0], 'high': [2.5, 3.5], 'close': [2.2, 3.2], 'volume': [30, 30]}
    """
    if period not in PERIODS:
        raise ValidationFailed(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    if period == "day":
        return daily
    if period == "week":
        return resample_weekly(daily)
    days = pd.DatetimeIndex(daily["date"]).normalize()
    month = days.to_period("M").to_timestamp()
    frame = daily.assign(date=days, _month=month).sort_values("date")
    grouped = frame.groupby("_month", sort=True)
    return pd.DataFrame({
        "date": grouped["date"].first().index.to_numpy(dtype="datetime64[ns]"),
        "open": grouped["open"].first().to_numpy(dtype="float64"),
        "high": grouped["high"].max().to_numpy(dtype="float64"),
        "low": grouped["low"].min().to_numpy(dtype="float64"),
        "close": grouped["close"].last().to_numpy(dtype="float64"),
        "volume": grouped["volume"].sum().to_numpy(dtype="int64"),
    })
