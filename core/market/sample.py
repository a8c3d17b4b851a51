"""Bundled real data for offline use: daily bars shipped with two packages on PyPI.

MSFT comes from pmdarima; AAPL, GOOG and IBM from ``bokeh-sampledata`` (below). Both sets
are real, so every bundled symbol is a sample that ends on a fixed date: it is marked as a
sample in the database (``symbols.sample``) and its age raises no stale-data alarm.

``pmdarima.datasets.load_msft()`` holds 7,983 trading days from 1986-03-13 to 2017-11-10
(columns Date, Open, High, Low, Close, Volume, OpenInt). Its prices are ALREADY ADJUSTED for
splits and dividends by the dataset's publisher, and the dataset carries no actions. They are
therefore stored with source "sample", ``split_ratio`` 1.0 and ``dividend`` 0.0, so every
adjustment mode returns the same prices for them.
"""

from __future__ import annotations

import pandas as pd

from core.errors import DataUnavailable
from core.market.frames import canonical_bars

SAMPLE_SYMBOL = "MSFT"
SAMPLE_SOURCE = "sample"
# bokeh-sampledata's stocks (Quandl WIKI prices, public domain; see the README): raw
# OHLCV 2000-03-01 (GOOG 2004-08-19) to 2013-03-01 with the source's split- and dividend-
# adjusted close. Its MSFT is not loaded: pmdarima's MSFT (1986-2017) is the one MSFT.
BOKEH_SYMBOLS: tuple[str, ...] = ("AAPL", "GOOG", "IBM")
SAMPLE_SYMBOLS: tuple[str, ...] = (SAMPLE_SYMBOL, *BOKEH_SYMBOLS)


def load_sample_bars() -> pd.DataFrame:
    """The bundled MSFT history as a canonical frame (already adjusted; no actions)."""
    try:
        from pmdarima.datasets import load_msft
    except ImportError as exc:  # pragma: no cover - pmdarima is a runtime dependency
        raise DataUnavailable(f"the bundled sample needs pmdarima: {exc}") from exc
    raw = load_msft()
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["Date"]),
            "open": raw["Open"],
            "high": raw["High"],
            "low": raw["Low"],
            "close": raw["Close"],
            "volume": raw["Volume"],
            "dividend": 0.0,
            "split_ratio": 1.0,
        }
    )
    return canonical_bars(frame)


def bundled_csv(symbol: str) -> bytes:
    """A bokeh-sampledata stock as the CSV a Yahoo export would be (Date, Open, High, Low,
    Close, Adj Close, Volume), so it is imported through the same path as a user's file and
    its splits and dividends are inferred from Close / Adj Close, not copied adjusted."""
    if symbol not in BOKEH_SYMBOLS:
        raise DataUnavailable(
            f"no bundled bokeh-sampledata series for {symbol}; bundled: {', '.join(BOKEH_SYMBOLS)}"
        )
    try:
        from bokeh_sampledata import stocks
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise DataUnavailable(
            f"the bundled {symbol} history needs bokeh-sampledata: {exc}"
        ) from exc
    data = getattr(stocks, symbol)
    frame = pd.DataFrame(
        {
            "Date": data["date"],
            "Open": data["open"],
            "High": data["high"],
            "Low": data["low"],
            "Close": data["close"],
            "Adj Close": data["adj_close"],
            "Volume": data["volume"],
        }
    )
    return frame.to_csv(index=False).encode()
