"""The canonical bar frame every market-data module speaks.

One row per trading day, columns in this order:

``date`` (datetime64, midnight, naive: the trading date on the exchange's own calendar),
``open``/``high``/``low``/``close`` (float, as traded), ``volume`` (int64),
``dividend`` (float, cash per share going ex that day, 0.0 if none) and
``split_ratio`` (float, new shares per old share effective that day, 1.0 if none).
"""

from __future__ import annotations

import pandas as pd

PRICE_COLUMNS: list[str] = ["open", "high", "low", "close"]
BAR_COLUMNS: list[str] = [
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "dividend",
    "split_ratio",
]


def empty_bars() -> pd.DataFrame:
    """A canonical frame with no rows (the right dtypes, so concatenation stays typed)."""
    return canonical_bars(pd.DataFrame({c: [] for c in BAR_COLUMNS}))


def canonical_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame that already has the canonical columns to the canonical dtypes.

    Missing ``dividend``/``split_ratio`` columns default to 0.0/1.0. Dates are normalised to
    midnight and made naive; rows are sorted by date and the index reset. Callers must have
    removed NaN prices/volumes first (``volume`` is cast to int64).

    >>> canonical_bars(pd.DataFrame({"date": ["2024-01-02"], "open": [1], "high": [2],
    ...     "low": [1], "close": [2], "volume": [10]})).dtypes["split_ratio"]
    dtype('float64')
    """
    out = frame.copy()
    if "dividend" not in out:
        out["dividend"] = 0.0
    if "split_ratio" not in out:
        out["split_ratio"] = 1.0
    dates = pd.to_datetime(out["date"])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    out["date"] = dates.dt.normalize().astype("datetime64[ns]")
    for col in PRICE_COLUMNS:
        out[col] = out[col].astype("float64")
    out["volume"] = out["volume"].astype("int64")
    out["dividend"] = out["dividend"].fillna(0.0).astype("float64")
    out["split_ratio"] = out["split_ratio"].fillna(1.0).astype("float64")
    out = out[BAR_COLUMNS].sort_values("date", kind="stable").reset_index(drop=True)
    return out
