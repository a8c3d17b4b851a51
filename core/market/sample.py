"""Bundled real data for offline use: Microsoft daily bars shipped with pmdarima.

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
